"""Use case: decide a review (a data steward approves, or objects to, a request that would
use their organisation's records, inside the review window). The API route and the portal
page call :func:`decide_review`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from governance import notices, output_release, provider_review
from governance.audit import audited
from governance.models import DataRequest, ExtractRecord, ProviderReview
from governance.output_release import Release
from governance.provider_review import StewardDecision
from governance.users import Principal

ROLE = "steward"


def steward_org(steward: Principal) -> str:
    """The organisation a steward answers for; refused when the user belongs to none."""
    if not steward.org_code:
        raise PermissionDenied("your user belongs to no organisation")
    return steward.org_code


def decide_review(*, session: Session, steward: Principal, request_id: str,
                  decision: StewardDecision, reason: str) -> ProviderReview:
    """Record the steward's decision for their organisation, audited."""
    org = steward_org(steward)
    with audited(session, actor=steward.name, role=ROLE, action=f"steward.{decision.value}",
                 target=f"request:{request_id}", detail={"org_code": org}):
        review = provider_review.steward_decide(
            session, request_id, steward_id=steward.user_id, org_code=org,
            decision=decision, reason=reason)
        # the review returns its outcome; telling the board is this use case's job
        request = session.get(DataRequest, request_id)
        if request is not None:  # steward_decide found it; the check keeps the type exact
            notices.review_progress(session, request)
    return review


@dataclass
class RoutedRequest:
    """A request routed to the steward's organisation, and the organisation's review of it;
    for "who used my data", also what was built and whether it was released."""

    request: DataRequest
    review: ProviderReview
    record: ExtractRecord | None = None
    release: Release | None = None


def _routed(session: Session, org: str, limit: int | None, offset: int) -> list[RoutedRequest]:
    out = []
    for review in provider_review.reviews_for_org(session, org, limit=limit, offset=offset):
        request = session.get(DataRequest, review.request_id)
        if request is not None:
            out.append(RoutedRequest(request, review))
    return out


def reviews_to_answer(*, session: Session, steward: Principal, limit: int | None = None,
                      offset: int = 0) -> list[RoutedRequest]:
    """Requests routed to the steward's organisation, newest first (one page when ``limit``
    is given; within the page, pending ones first)."""
    org = steward_org(steward)
    with audited(session, actor=steward.name, role=ROLE, action="steward.list",
                 target=f"partner:{org}"):
        out = _routed(session, org, limit, offset)
    # pending as of now: a review whose window closed counts as its agreement's rule for silence
    return sorted(out, key=lambda r: provider_review.effective_status(
        r.review, r.request.review_due_at) != provider_review.ReviewStatus.PENDING)


def data_usage(*, session: Session, steward: Principal, limit: int | None = None,
               offset: int = 0) -> list[RoutedRequest]:
    """Which requests used the organisation's records, and what was released, when (one page
    when ``limit`` is given)."""
    org = steward_org(steward)
    with audited(session, actor=steward.name, role=ROLE, action="steward.usage",
                 target=f"partner:{org}"):
        out = _routed(session, org, limit, offset)
        for item in out:
            item.record = output_release.extract_record(session, item.request.id)
            item.release = output_release.release_of(item.request, item.record)
    return out
