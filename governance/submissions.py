"""What partners uploaded through the API, with the ingest receipt each file got.

The authoritative receipts live in the warehouse (``ingest.receipts``); this record lets the
API show a partner its own uploads without opening the warehouse.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from governance import notices
from governance.models import Submission


def record_submission(
    session: Session,
    *,
    org_code: str,
    submitted_by: int,
    filename: str,
    size_bytes: int,
    sha256: str | None,
    status: str,
    receipt: dict[str, Any],
) -> Submission:
    row = Submission(org_code=org_code, submitted_by=submitted_by, filename=filename,
                     size_bytes=size_bytes, sha256=sha256, status=status, receipt=receipt)
    session.add(row)
    session.flush()
    problems = sum(len(r.get("errors") or []) for r in receipt.get("receipts") or [])
    notices.upload_receipt(session, org_code, filename, status, problems, row.id)
    return row


def list_submissions(
    session: Session, org_code: str, *, limit: int = 100, offset: int = 0
) -> tuple[int, list[Submission]]:
    """One partner's uploads, newest first."""
    where = Submission.org_code == org_code
    total = session.execute(select(func.count(Submission.id)).where(where)).scalar_one()
    rows = session.execute(
        select(Submission).where(where).order_by(Submission.id.desc()).limit(limit).offset(offset)
    ).scalars()
    return total, list(rows)


def get_submission(session: Session, submission_id: int, org_code: str) -> Submission:
    """A partner's own upload; another partner's is reported as missing (no existence leak)."""
    row = session.get(Submission, submission_id)
    if row is None or row.org_code != org_code:
        raise NotFound(f"no submission {submission_id} of your organisation")
    return row
