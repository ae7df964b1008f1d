"""Data steward routes: review requests that would use your organisation's records, and see
who used them and what left (issue 19)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path
from sqlalchemy.orm import Session

from api.deps import SessionDep, SessionsDep, SettingsDep, StewardUser
from api.errors import COMMON_RESPONSES
from api.notifying import deliver_later
from api.partner_control_schemas import (
    ProviderReviewOut,
    RequestSummary,
    StewardDecisionIn,
    StewardReviewOut,
    UsageOut,
)
from governance import output_check, provider_review
from governance.audit import audited
from governance.models import DataRequest
from services.review_decision import decide_review, steward_org

router = APIRouter(prefix="/v1/steward", tags=["steward"], responses=COMMON_RESPONSES)

RequestId = Annotated[str, Path(min_length=1, max_length=64)]
ROLE = "steward"


def _reviews(session: Session, org: str) -> list[StewardReviewOut]:
    out = []
    for review in provider_review.reviews_for_org(session, org):
        request = session.get(DataRequest, review.request_id)
        if request is None:
            continue
        out.append(StewardReviewOut(
            request=RequestSummary.of(request),
            review=ProviderReviewOut.of(review, with_reason=True,
                                        due_at=request.review_due_at)))
    return out


@router.get("/reviews", response_model=list[StewardReviewOut])
def reviews(session: SessionDep, caller: StewardUser) -> list[StewardReviewOut]:
    """Every request routed to your organisation, newest first (pending ones first to act on)."""
    org = steward_org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="steward.list",
                 target=f"partner:{org}"):
        out = _reviews(session, org)
    return sorted(out, key=lambda r: r.review.status != "pending")


@router.post("/reviews/{request_id}", response_model=ProviderReviewOut)
def decide(request_id: RequestId, body: StewardDecisionIn, session: SessionDep,
           caller: StewardUser, background: BackgroundTasks, sessions: SessionsDep,
           settings: SettingsDep) -> ProviderReviewOut:
    """Approve, or object with a reason, for your organisation, inside the review window."""
    review = decide_review(session=session, steward=caller, request_id=request_id,
                           decision=body.decision, reason=body.reason)
    deliver_later(background, sessions, settings)
    return ProviderReviewOut.of(review, with_reason=True)


@router.get("/usage", response_model=list[UsageOut])
def usage(session: SessionDep, caller: StewardUser) -> list[UsageOut]:
    """Which requests used your organisation's records, and what was released, when."""
    org = steward_org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="steward.usage",
                 target=f"partner:{org}"):
        out = []
        for review in provider_review.reviews_for_org(session, org):
            request = session.get(DataRequest, review.request_id)
            if request is None:
                continue
            record = output_check.extract_record(session, request.id)
            release = output_check.release_of(request, record)
            out.append(UsageOut(
                request=RequestSummary.of(request),
                review=ProviderReviewOut.of(review, with_reason=True,
                                            due_at=request.review_due_at),
                released=release.state == output_check.ReleaseState.RELEASED,
                release_detail=dict(record.detail or {}) if record else {}))
    return out
