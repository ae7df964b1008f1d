"""The public request log: every submitted request, with no requester and no personal data."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.requests import RequestKind
from governance import provider_review
from governance import request_facts as facts
from governance.models import DataRequest
from governance.request_lifecycle import RequestStatus


class PublicLogEntry(BaseModel):
    """One row of the public request log: no requester, no personal data."""

    request_id: str
    kind: RequestKind
    title: str
    purpose: str
    status: RequestStatus
    submitted_at: datetime | None
    decided_at: datetime | None
    fulfilled_at: datetime | None
    stage: facts.Stage = Field(description="Where it stands, in the portal's and the API's "
                               "words (request_facts.stage)")
    withheld: list[str] = Field(default_factory=list, description="Variables the output will "
                                "not hold: 'name: reason'")
    provider_review: dict[str, int] = Field(
        default_factory=dict, description="How many partners answered what; nobody is named")


def public_log(
    session: Session, *, limit: int = 100, offset: int = 0
) -> tuple[int, list[PublicLogEntry]]:
    """Every request that was ever submitted (drafts are private), newest first."""
    base = select(DataRequest).where(DataRequest.submitted_at.is_not(None))
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        base.order_by(DataRequest.submitted_at.desc(), DataRequest.id).limit(limit).offset(offset)
    ).scalars()
    return total, [
        PublicLogEntry(request_id=r.id, kind=RequestKind(r.kind), title=r.title, purpose=r.purpose,
                       status=RequestStatus(r.status), submitted_at=r.submitted_at,
                       decided_at=r.decided_at, fulfilled_at=r.fulfilled_at,
                       stage=facts.stage(r),
                       withheld=[f"{w.variable}: {w.reason}"
                                 for w in facts.withheld_variables(session, r)],
                       provider_review=dict(Counter(
                           provider_review.effective_status(p, r.review_due_at).value
                           for p in r.provider_reviews)))
        for r in rows
    ]
