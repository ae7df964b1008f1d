"""Provider review: the data stewards of every partner whose records a request would use.

A submitted request is routed to each such partner (``open_reviews``). Each partner's steward
approves or objects with a reason inside the review window (``settings.provider_review_days``
business days). When the window closes, a partner that said nothing is counted as its
agreement says (``silence_means``; an agreement that says nothing counts silence as an
objection: absence is never read as consent). An objection either removes that partner's
records from the request or blocks it (``on_objection``). A purpose the agreement does not
permit, or no active agreement, removes the partner's records without asking anyone.

The board approves only once the review is complete (everyone answered, or the window closed);
it may deny at any time. What the review decided reaches the extract builders through
``exclusions``: LEAs whose rows leave the cohort, and variables computed from a college or CCGI
that objected (per-college provenance is not kept in ``analytics.student_year``, so one
college's exclusion withholds every college-derived variable: conservative, and said so in
docs/api.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.data_use import (
    OnObjection,
    SilenceMeans,
    permitted,
    source_systems,
    variables_of_system,
)
from core.errors import Conflict, NotFound, PermissionDenied, UserError
from core.partners import Partner, PartnerKind
from governance.models import DataRequest, ProviderReview, utcnow
from governance.partners import list_partners


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    OBJECTED = "objected"
    SILENT_CONSENT = "silent_consent"
    SILENT_OBJECTION = "silent_objection"
    PURPOSE_NOT_PERMITTED = "purpose_not_permitted"
    NO_AGREEMENT = "no_agreement"


class StewardDecision(StrEnum):
    APPROVE = "approve"
    OBJECT = "object"


# Statuses under which the partner's records stay out of the request (unless it blocks).
REFUSING = frozenset({ReviewStatus.OBJECTED, ReviewStatus.SILENT_OBJECTION,
                      ReviewStatus.PURPOSE_NOT_PERMITTED, ReviewStatus.NO_AGREEMENT})
SYSTEM_OF_KIND = {PartnerKind.LEA: "calpads", PartnerKind.COE: "calpads",
                  PartnerKind.COLLEGE: "college", PartnerKind.CCGI: "ccgi"}


def add_business_days(start: datetime, days: int) -> datetime:
    """``days`` weekdays after ``start`` (state holidays are not modelled: the window is then a
    day or two shorter than a calendar that knows them, never longer)."""
    moment = start
    added = 0
    while added < days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment


def variables_used(request: DataRequest) -> set[str]:
    cohort = request.cohort or {}
    return (set(request.variables) | set(request.group_by)
            | set((cohort.get("subgroup_equals") or {}).keys()))


def affected_partners(session: Session, request: DataRequest) -> list[Partner]:
    """Partners whose records the request would use: the LEAs of its cohort (every LEA when the
    cohort names none) and the colleges / CCGI when it uses a variable they feed. Years are not
    used to narrow the list: asking a partner with no rows in those years costs a steward a
    click, missing one would use its data without asking."""
    systems = source_systems(variables_used(request))
    cohort_leas = set((request.cohort or {}).get("reporting_leas") or [])
    chosen = []
    for partner in list_partners(session):
        system = SYSTEM_OF_KIND[partner.kind]
        if system not in systems:
            continue
        if system == "calpads" and cohort_leas and partner.org_code not in cohort_leas:
            continue
        chosen.append(partner)
    return chosen


def open_reviews(session: Session, request: DataRequest, *, now: datetime,
                 business_days: int) -> list[ProviderReview]:
    """Create one review per affected partner when a request is submitted."""
    if business_days < 1:
        raise UserError("the provider review window must be at least one business day")
    reviews = []
    for partner in affected_partners(session, request):
        if not partner.agreement_active(now.date()):
            status = ReviewStatus.NO_AGREEMENT
        elif not permitted(request.purpose_code, partner.permitted_purposes):
            status = ReviewStatus.PURPOSE_NOT_PERMITTED
        else:
            status = ReviewStatus.PENDING
        review = ProviderReview(
            request_id=request.id, org_code=partner.org_code, status=status.value,
            source_system=SYSTEM_OF_KIND[partner.kind],
            on_objection=partner.on_objection.value, silence_means=partner.silence_means.value,
            decided_at=None if status == ReviewStatus.PENDING else now)
        session.add(review)
        reviews.append(review)
    request.review_due_at = add_business_days(now, business_days)
    session.flush()
    return reviews


def _locked_review(session: Session, request_id: str, org_code: str) -> ProviderReview:
    review = session.execute(
        select(ProviderReview)
        .where(ProviderReview.request_id == request_id, ProviderReview.org_code == org_code)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if review is None:
        raise NotFound(f"request {request_id!r} does not use your organisation's records")
    return review


def steward_decide(session: Session, request_id: str, *, steward_id: int, org_code: str | None,
                   decision: StewardDecision | str, reason: str,
                   now: datetime | None = None) -> ProviderReview:
    """One steward's answer for their organisation, inside the window, once."""
    now = now or utcnow()
    decision = StewardDecision(decision)
    reason = reason.strip()
    if len(reason) < 3:
        raise UserError("a review decision needs a written reason")
    if not org_code:
        raise PermissionDenied("your user belongs to no organisation")
    request = session.get(DataRequest, request_id)
    if request is None or request.status == "draft":
        raise NotFound(f"request {request_id!r} does not use your organisation's records")
    if request.requester_id == steward_id:
        raise PermissionDenied("you made this request, so you cannot review it")
    review = _locked_review(session, request_id, org_code)
    if request.status != "submitted":
        raise Conflict(f"request {request_id} is {request.status}; its review has ended")
    window_closed = request.review_due_at is not None and now > request.review_due_at
    silent = review.status in {ReviewStatus.SILENT_CONSENT.value,
                               ReviewStatus.SILENT_OBJECTION.value}
    if window_closed or silent:
        due = f"{request.review_due_at:%Y-%m-%d}" if request.review_due_at else "-"
        raise Conflict(f"the review window of {request_id} closed on {due}; your agreement's "
                       "rule for silence applies")
    if review.status != ReviewStatus.PENDING.value:
        raise Conflict(f"your organisation's review of {request_id} is already "
                       f"{review.status}")
    status = (ReviewStatus.APPROVED if decision == StewardDecision.APPROVE
              else ReviewStatus.OBJECTED)
    result = session.execute(
        update(ProviderReview)
        .where(ProviderReview.id == review.id,
               ProviderReview.status == ReviewStatus.PENDING.value)
        .values(status=status.value, reason=reason, decided_by=steward_id, decided_at=now)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"your organisation's review of {request_id} changed meanwhile")
    session.refresh(review)
    session.refresh(request)
    from governance import notices  # import cycle: notices reads this module's outcome()

    notices.review_progress(session, request)
    return review


def close_if_due(session: Session, request: DataRequest, now: datetime | None = None) -> int:
    """After the window, apply each silent partner's agreement; returns how many closed."""
    now = now or utcnow()
    if request.review_due_at is None or now <= request.review_due_at:
        return 0
    closed = 0
    for review in request.provider_reviews:
        if review.status != ReviewStatus.PENDING.value:
            continue
        status = (ReviewStatus.SILENT_CONSENT
                  if review.silence_means == SilenceMeans.CONSENT.value
                  else ReviewStatus.SILENT_OBJECTION)
        result = session.execute(
            update(ProviderReview)
            .where(ProviderReview.id == review.id,
                   ProviderReview.status == ReviewStatus.PENDING.value)
            .values(status=status.value, decided_at=request.review_due_at)
            .execution_options(synchronize_session=False))
        closed += getattr(result, "rowcount", 0)
    if closed:
        session.flush()
        session.refresh(request)
        for review in request.provider_reviews:
            session.refresh(review)
        from governance import notices  # import cycle: notices reads this module's outcome()

        notices.review_progress(session, request)
    return closed


@dataclass(frozen=True)
class ReviewOutcome:
    complete: bool
    pending: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # org codes whose records stay out
    blocking: list[str] = field(default_factory=list)  # org codes whose objection blocks
    due_at: datetime | None = None


def effective_status(review: ProviderReview, due_at: datetime | None,
                     now: datetime | None = None) -> ReviewStatus:
    """The review's status as of ``now``: a pending review whose window has closed counts as
    its agreement says, even before a write (``close_if_due``) records it. Read-only routes
    never write, so they show this."""
    status = ReviewStatus(review.status)
    if status != ReviewStatus.PENDING or due_at is None or (now or utcnow()) <= due_at:
        return status
    return (ReviewStatus.SILENT_CONSENT if review.silence_means == SilenceMeans.CONSENT.value
            else ReviewStatus.SILENT_OBJECTION)


def outcome(request: DataRequest, now: datetime | None = None) -> ReviewOutcome:
    pending, excluded, blocking = [], [], []
    for review in request.provider_reviews:
        status = effective_status(review, request.review_due_at, now)
        if status == ReviewStatus.PENDING:
            pending.append(review.org_code)
        elif status in {ReviewStatus.OBJECTED, ReviewStatus.SILENT_OBJECTION} and (
                review.on_objection == OnObjection.BLOCK.value):
            blocking.append(review.org_code)
        elif status in REFUSING:
            excluded.append(review.org_code)
    return ReviewOutcome(complete=not pending, pending=pending, excluded=excluded,
                         blocking=blocking, due_at=request.review_due_at)


def require_complete_for_approval(session: Session, request: DataRequest,
                                  now: datetime | None = None) -> ReviewOutcome:
    """What the board's approval must wait for or cannot override."""
    close_if_due(session, request, now)
    result = outcome(request)
    if not result.complete:
        due = f"{result.due_at:%Y-%m-%d}" if result.due_at else "the end of the window"
        raise Conflict(f"provider review of {request.id} is open until {due}: "
                       f"{len(result.pending)} partner(s) have not answered; the board may "
                       "deny now, or approve once every partner answered or the window closed")
    if result.blocking:
        raise Conflict(f"request {request.id} is blocked by the objection of "
                       f"{', '.join(result.blocking)} (their agreement says an objection "
                       "blocks); it can only be denied")
    return result


@dataclass(frozen=True)
class Exclusions:
    leas: list[str]
    variables: list[str]
    partners: list[str]


def lapsed_agreements(session: Session, request: DataRequest, on: date) -> list[str]:
    """Partners of the request's reviews whose agreement is not active ``on`` that day
    (terminated, expired, or never executed since): their records cannot be used whatever
    their steward said, so builds and releases re-read this, not the review alone."""
    partners = {p.org_code: p for p in list_partners(session)}
    lapsed = []
    for review in request.provider_reviews:
        partner = partners.get(review.org_code)
        # No registry entry is no agreement: absence is never read as consent.
        if partner is None or not partner.agreement_active(on):
            lapsed.append(review.org_code)
    return sorted(lapsed)


def exclusions(request: DataRequest, lapsed: Iterable[str] = ()) -> Exclusions:
    """What provider review, and agreements no longer active (``lapsed``, from
    ``lapsed_agreements`` read at build time), remove from an approved request."""
    result = outcome(request)
    system_of = {r.org_code: r.source_system for r in request.provider_reviews}
    leas: list[str] = []
    withheld: set[str] = set()
    excluded = sorted(set(result.excluded) | {o for o in lapsed if o in system_of})
    for org_code in excluded:
        if system_of[org_code] == "calpads":
            leas.append(org_code)
        else:
            withheld |= variables_of_system(system_of[org_code])
    used = variables_used(request)
    return Exclusions(leas=sorted(leas), variables=sorted(withheld & used),
                      partners=excluded)


def reviews_for_org(session: Session, org_code: str, *, limit: int | None = None,
                    offset: int = 0) -> list[ProviderReview]:
    """A steward's queue and history: every review of their organisation, newest first
    (one page when ``limit`` is given)."""
    query = (select(ProviderReview).where(ProviderReview.org_code == org_code)
             .order_by(ProviderReview.id.desc()).limit(limit).offset(offset))
    return list(session.execute(query).scalars())
