"""What a request's pages, API answers, e-mails and the public log say about it, computed once.

Three facts people act on, each from one function here so no page can contradict another:

- ``stage``: where the request stands, in one vocabulary (``awaiting review``, ``approved``,
  ``built``, ``awaiting checks``, ``released``, ``rejected at checking``, ``expired``, plus
  ``draft``, ``denied`` and ``withdrawn``). The record's lifecycle ``status`` says *fulfilled*
  for every built output; the stage says whether checkers released or rejected it.
- ``withheld_variables``: requested variables the output will not hold, each with its reason
  (a college without an agreement withholds every ``cc_*`` variable). Before submit it is
  what the agreements already decide; after submit it is what provider review decided.
- ``reasons``: the written reasons of data stewards, board members and output checkers, for
  the requester (who wrote them is named by role and organisation, never by person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from core.data_use import permitted as purpose_permitted
from core.data_use import variables_of_system
from governance.models import DataRequest, PartnerRow, utcnow
from governance.provider_review import (
    REFUSING,
    SYSTEM_OF_KIND,
    ReviewStatus,
    affected_partners,
    effective_status,
    variables_used,
)
from governance.release_state import ReleaseState, release_of


class Stage(StrEnum):
    DRAFT = "draft"
    AWAITING_REVIEW = "awaiting review"
    APPROVED = "approved"
    BUILT = "built"
    AWAITING_CHECKS = "awaiting checks"
    RELEASED = "released"
    REJECTED_AT_CHECKING = "rejected at checking"
    EXPIRED = "expired"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


# Stages whose output may be downloaded: only a released one.
DOWNLOADABLE = frozenset({Stage.RELEASED})

_BY_STATUS = {"draft": Stage.DRAFT, "submitted": Stage.AWAITING_REVIEW,
              "approved": Stage.APPROVED, "denied": Stage.DENIED,
              "withdrawn": Stage.WITHDRAWN, "expired": Stage.EXPIRED}
_BY_RELEASE = {ReleaseState.NOT_BUILT: Stage.APPROVED,
               ReleaseState.AUTOMATED_CHECKS_FAILED: Stage.BUILT,
               ReleaseState.AWAITING_CHECKERS: Stage.AWAITING_CHECKS,
               ReleaseState.NEEDS_THIRD_CHECKER: Stage.AWAITING_CHECKS,
               ReleaseState.RELEASED: Stage.RELEASED,
               ReleaseState.REJECTED: Stage.REJECTED_AT_CHECKING}


def stage(request: DataRequest) -> Stage:
    """The one status word for ``request`` (its built output's release state decides once
    the record says fulfilled; ``built`` is an output held by a failed automated check)."""
    if request.status == "fulfilled":
        return _BY_RELEASE[release_of(request, request.extract).state]
    return _BY_STATUS.get(request.status, Stage.AWAITING_REVIEW)


@dataclass(frozen=True)
class Withheld:
    variable: str
    reason: str


def _why(status: ReviewStatus, who: str, purpose: str) -> str:
    return {
        ReviewStatus.NO_AGREEMENT: f"{who} has no active data-sharing agreement",
        ReviewStatus.PURPOSE_NOT_PERMITTED: f"the agreement of {who} does not permit the "
                                            f"purpose '{purpose}'",
        ReviewStatus.OBJECTED: f"the data steward of {who} objected",
        ReviewStatus.SILENT_OBJECTION: f"{who} did not answer in the review window and its "
                                       "agreement counts silence as an objection",
    }.get(status, f"{who} refused")


def _named(session: Session, org_code: str) -> str:
    row = session.get(PartnerRow, org_code)
    return f"{row.name} ({org_code})" if row is not None else org_code


def withheld_variables(session: Session, request: DataRequest,
                       now: datetime | None = None) -> list[Withheld]:
    """Requested variables the output will not hold, with why, in the requested order.

    A submitted request: the partners whose review refused (``REFUSING``). A draft, or a
    form not yet saved (a transient ``DataRequest``): the partners whose agreement already
    refuses (none active, purpose not permitted); a steward's later objection can add more,
    and the pages say so. An LEA's refusal removes rows, never a variable.
    """
    now = now or utcnow()
    refusing: list[tuple[str, str, ReviewStatus]] = []  # (org_code, source system, status)
    if request.provider_reviews:
        for review in request.provider_reviews:
            status = effective_status(review, request.review_due_at, now)
            if status in REFUSING:
                refusing.append((review.org_code, review.source_system, status))
    else:
        for partner in affected_partners(session, request):
            if not partner.agreement_active(now.date()):
                status = ReviewStatus.NO_AGREEMENT
            elif not purpose_permitted(request.purpose_code or "research",
                                       partner.permitted_purposes):
                status = ReviewStatus.PURPOSE_NOT_PERMITTED
            else:
                continue
            refusing.append((partner.org_code, SYSTEM_OF_KIND[partner.kind], status))
    why: dict[str, list[str]] = {}
    for org_code, system, status in refusing:
        if system == "calpads":
            continue
        text = _why(status, _named(session, org_code), request.purpose_code or "research")
        for variable in variables_of_system(system):
            why.setdefault(variable, []).append(text)
    used = variables_used(request)
    ordered = [*request.variables, *request.group_by,
               *sorted(set(used) - set(request.variables) - set(request.group_by))]
    seen: set[str] = set()
    out = []
    for variable in ordered:
        if variable in why and variable not in seen:
            seen.add(variable)
            out.append(Withheld(variable, "; ".join(why[variable])))
    return out


@dataclass(frozen=True)
class Reason:
    who: str  # a role and, for stewards, the organisation: never a person
    decision: str
    reason: str
    at: datetime | None


def reasons(session: Session, request: DataRequest) -> list[Reason]:
    """Every written reason on ``request``, oldest first, as the requester may read them."""
    out = [Reason(f"data steward of {_named(session, r.org_code)}", r.status, r.reason,
                  r.decided_at)
           for r in request.provider_reviews if r.reason]
    out += [Reason("board member", d.decision, d.reason, d.decided_at)
            for d in request.decisions]
    out += [Reason("output checker", o.decision, o.reason, o.decided_at)
            for o in request.output_reviews]
    return sorted(out, key=lambda r: (r.at is None, r.at or datetime.min))
