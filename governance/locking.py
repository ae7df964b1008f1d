"""Row locks that serialise decisions on one request (PostgreSQL ``FOR UPDATE``; SQLite
serialises whole write transactions anyway)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import DataRequest


def locked_request(session: Session, request_id: str) -> DataRequest | None:
    """The request row, locked until the transaction ends, or None.

    ``populate_existing`` overwrites a copy already in the session with what the locked read
    returned, so a decision sees what a concurrent transaction committed before the lock.
    """
    return session.execute(
        select(DataRequest).where(DataRequest.id == request_id)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
