"""Use case: what the pages, the API answer and the e-mails say about one request.

Each fact is computed once, in ``governance.request_facts`` (the stage word, the withheld
variables with their reasons, the written reasons); this module adds what the pages need on
top (who acts next, whether the output may be downloaded, partner names, each partner's review
as of now, the LEAs whose records are kept out, the request form's per-variable marks) so the
researcher's, the board's and the checker's pages, ``GET /v1/requests/{id}`` and the public log
cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.requests import CohortFilter
from governance import output_release
from governance import request_facts as facts
from governance.models import DataRequest
from governance.partners import list_partners
from governance.provider_review import ReviewStatus, effective_status, exclusions
from governance.request_facts import Reason, Stage, Withheld


@dataclass(frozen=True)
class PartnerReview:
    """One partner's review as every page shows it: a review whose window closed unanswered
    counts as its agreement says (``effective_status``, as the API and the public log show),
    never "pending"."""

    org_code: str
    name: str  # "Name (code)"
    status: ReviewStatus
    reason: str | None


@dataclass(frozen=True)
class RequestFacts:
    stage: Stage
    withheld: list[Withheld]
    reasons: list[Reason]
    next_step: str
    downloadable: bool
    failed_checks: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[PartnerReview] = field(default_factory=list)
    # LEAs whose students' rows the output will not hold (their review refused): what the
    # build removes (``provider_review.exclusions``): a cohort of "all" LEAs says which are out
    kept_out: list[PartnerReview] = field(default_factory=list)

    @property
    def review_open(self) -> bool:
        """A partner may still answer (the board approves only once none may)."""
        return any(r.status == ReviewStatus.PENDING for r in self.reviews)


def partner_reviews(session: Session, r: DataRequest) -> list[PartnerReview]:
    names = partner_names(session=session)
    return [PartnerReview(p.org_code, f"{names[p.org_code]} ({p.org_code})"
                          if p.org_code in names else p.org_code,
                          effective_status(p, r.review_due_at), p.reason)
            for p in r.provider_reviews]


def _next_step(r: DataRequest, stage: Stage, quorum: int, reviews: list[PartnerReview]) -> str:
    """What happens next and who acts, in words."""
    approvals = sum(1 for d in r.decisions if d.decision == "approve")
    pending = [p.name for p in reviews if p.status == ReviewStatus.PENDING]
    if stage == Stage.AWAITING_REVIEW and pending:
        return (f"The data stewards of {'; '.join(pending)}: they review the use of their "
                f"records first; then the board ({approvals} of {quorum} approvals so far).")
    return {
        Stage.DRAFT: "You: check the preview and submit the request to the board.",
        Stage.AWAITING_REVIEW: f"The board: {approvals} of {quorum} approvals so far; board "
                               "members approve or deny with a reason.",
        Stage.APPROVED: "The pipeline builds the output; you are told when it is ready.",
        Stage.BUILT: "You: the output failed its automated checks; ask for a coarser table "
                     "below (or withdraw).",
        Stage.AWAITING_CHECKS: "Two independent output checkers: the output is built and "
                               "waits for its release check; then you can download it.",
        Stage.RELEASED: "You: download the package and its key before it expires.",
        Stage.REJECTED_AT_CHECKING: "Nobody: the output checkers rejected the output, so it "
                                    "will not be released. Read their reasons, then write a "
                                    "new request.",
        Stage.DENIED: "Nobody: the request was denied. Read the reason, then write a new "
                      "request.",
        Stage.WITHDRAWN: "Nobody: you withdrew it.",
        Stage.EXPIRED: "Nobody: the output expired and can no longer be downloaded.",
    }[stage]


def request_facts(*, session: Session, request: DataRequest, quorum: int) -> RequestFacts:
    """The facts of one stored request (any stage)."""
    stage = facts.stage(request)
    failed = (output_release.release_of(request, request.extract).failed_checks
              if stage == Stage.BUILT else [])
    reviews = partner_reviews(session, request)
    leas = set(exclusions(request).leas)
    return RequestFacts(stage=stage, withheld=facts.withheld_variables(session, request),
                        reasons=facts.reasons(session, request),
                        next_step=_next_step(request, stage, quorum, reviews),
                        downloadable=stage in facts.DOWNLOADABLE, failed_checks=failed,
                        reviews=reviews,
                        kept_out=[p for p in reviews if p.org_code in leas])


def request_facts_by_id(*, session: Session, request_id: str, quorum: int) -> RequestFacts | None:
    """``request_facts`` of the request with this id (None when there is none)."""
    request = session.get(DataRequest, request_id)
    return request_facts(session=session, request=request, quorum=quorum) if request else None


def withheld_before_submit(*, session: Session, variables: list[str], group_by: list[str],
                           cohort: CohortFilter, purpose_code: str) -> list[Withheld]:
    """What a request written this way would not get, by the agreements in force today (the
    request form's preview; a steward's objection later can add to it)."""
    draft = DataRequest(variables=list(variables), group_by=list(group_by),
                        cohort=cohort.model_dump(), purpose_code=purpose_code)
    return facts.withheld_variables(session, draft)


def withheld_if_chosen(*, session: Session, candidates: list[str], cohort: CohortFilter,
                       purpose_code: str) -> dict[str, str]:
    """The request form's marks, before anything is ticked: each of ``candidates`` the output
    would not hold if it were requested, with why (``withheld_before_submit`` of all of them).
    Asking about all at once answers for each alone: a refusing partner withholds every
    variable its source system feeds, whatever else the request names."""
    return {w.variable: w.reason for w in withheld_before_submit(
        session=session, variables=candidates, group_by=[], cohort=cohort,
        purpose_code=purpose_code)}


def partner_names(*, session: Session) -> dict[str, str]:
    """Organisation names by code, so pages show "Name (code)" rather than a bare code."""
    return {p.org_code: p.name for p in list_partners(session)}
