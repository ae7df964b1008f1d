"""Use case: decide a review (a data steward approves, or objects to, a request that would
use their organisation's records, inside the review window). The API route and the portal
page call :func:`decide_review`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from governance import provider_review
from governance.audit import audited
from governance.models import ProviderReview
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
    return review
