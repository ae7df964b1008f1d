"""Data steward routes: review requests that would use your organisation's records, and see
who used them and what left (issue 19)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep, StewardUser
from api.errors import COMMON_RESPONSES
from api.notifying import OutboxDep
from api.params import Limit, Offset, RequestId
from api.review_schemas import (
    ProviderReviewOut,
    StewardDecisionIn,
    StewardReviewOut,
    UsageOut,
)
from services.review_decision import data_usage, decide_review, reviews_to_answer

router = APIRouter(prefix="/v1/steward", tags=["steward"], responses=COMMON_RESPONSES)



@router.get("/reviews", response_model=list[StewardReviewOut])
def reviews(session: SessionDep, caller: StewardUser, limit: Limit = 100,
            offset: Offset = 0) -> list[StewardReviewOut]:
    """Requests routed to your organisation, newest first, one page at a time (within the
    page, pending ones first to act on)."""
    return [StewardReviewOut.of(r) for r in reviews_to_answer(
        session=session, steward=caller, limit=limit, offset=offset)]


@router.post("/reviews/{request_id}", response_model=ProviderReviewOut)
def decide(request_id: RequestId, body: StewardDecisionIn, session: SessionDep,
           caller: StewardUser, outbox: OutboxDep) -> ProviderReviewOut:
    """Approve, or object with a reason, for your organisation, inside the review window."""
    review = decide_review(session=session, steward=caller, request_id=request_id,
                           decision=body.decision, reason=body.reason)
    out = ProviderReviewOut.of(review, with_reason=True)
    outbox.send_after(session)
    return out


@router.get("/usage", response_model=list[UsageOut])
def usage(session: SessionDep, caller: StewardUser, limit: Limit = 100,
          offset: Offset = 0) -> list[UsageOut]:
    """Which requests used your organisation's records, and what was released, when; one
    page at a time."""
    return [UsageOut.of(r) for r in data_usage(session=session, steward=caller, limit=limit,
                                               offset=offset)]
