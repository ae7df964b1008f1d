"""Use case: receive an upload (a partner's files through the API or the portal), and the
partner's own view of what it sent.

Open the warehouse for the length of one upload, ingest, record the submissions, audit.

The API never keeps the warehouse open: DuckDB allows one writing process per file and the
pipeline must be able to run while the API serves. When the pipeline holds the file, the
upload answers 503 (retry later) instead of waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
from sqlalchemy.orm import Session, sessionmaker

from core.keys import RAW_STORE_PURPOSE, KeyProvider
from core.settings import Settings
from core.warehouse import open_warehouse as core_open_warehouse
from governance import submissions as gs
from governance.audit import audited
from governance.models import Submission
from governance.partners import list_partners
from governance.users import Principal
from ingest import Receipt, ingest_file
from ingest.submissions import SubmissionRow, submission_report

SEVERITY = {"accepted": 0, "held": 1, "rejected": 2}


class ReceivedFile(Protocol):
    """One file of an upload, already written to a private temporary path."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...


@dataclass
class UploadOutcome:
    """The worst status over the files, and the submission recorded for each file."""

    status: str
    submissions: list[Submission]


def open_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Per upload; a pipeline run holding the warehouse surfaces as ``Busy`` (503)."""
    return core_open_warehouse(settings)


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: SEVERITY.get(s, 2)) if statuses else "rejected"


def duplicate_note(receipt: Receipt, started: datetime) -> str | None:
    """A re-sent file gets its first receipt back (ingest stores a file once per SHA-256);
    saying so stops a partner from reading it as a new submission. Without a receipt date
    there is no evidence of an earlier receipt, so nothing is said."""
    if receipt.created_at is None or receipt.created_at >= started:
        return None
    return (f"already received on {receipt.created_at:%Y-%m-%d}, "
            f"receipt {receipt.receipt_id}")


def receipt_json(receipt: Receipt, started: datetime) -> dict[str, Any]:
    out = receipt.model_dump(mode="json")
    note = duplicate_note(receipt, started)
    if note:
        out["duplicate"] = note
    return out


def ingest_upload(*, settings: Settings, sessions: sessionmaker[Session], keys: KeyProvider,
                  caller: Principal, files: Sequence[ReceivedFile]) -> UploadOutcome:
    """Ingest every received file as ``c2c ingest`` would, then record and audit the receipts."""
    # Receipts are stamped with this process's local clock (ingest.manifest).
    started = datetime.now()
    org = caller.org_code or ""
    with sessions() as session:
        partners = list_partners(session)
        session.rollback()
        raw_key = keys.derive(RAW_STORE_PURPOSE)
        results: list[tuple[str, int, str, list[Receipt]]] = []
        with audited(session, actor=caller.name, role="partner", action="upload",
                     target=f"partner:{org}") as audit:
            con = open_warehouse(settings)
            try:
                for received in files:
                    receipts = ingest_file(
                        con, received.path, settings.raw_dir, raw_key, partners,
                        submitted_by=org, display_path=f"{org}/{received.name}",
                    )
                    results.append((received.name, received.size, received.sha256, receipts))
            finally:
                con.close()
            rows = []
            for name, size, sha256, receipts in results:
                status = worst([str(r.status) for r in receipts])
                rows.append(gs.record_submission(
                    session, org_code=org, submitted_by=caller.user_id, filename=name,
                    size_bytes=size, sha256=sha256, status=status,
                    receipt={"receipts": [receipt_json(r, started) for r in receipts]},
                ))
            audit["files"] = [
                {"name": n, "sha256": h, "status": worst([str(r.status) for r in rs])}
                for n, _, h, rs in results
            ]
    return UploadOutcome(status=worst([row.status for row in rows]), submissions=rows)


@dataclass
class PartnerOverview:
    """What a partner sees about its own data: the member list and every receipt."""

    report: list[SubmissionRow]
    receipts: list[Receipt]


def partner_overview(*, settings: Settings, session: Session, org: str,
                     with_receipts: bool = True) -> PartnerOverview:
    """Rows per academic year and file type, what is missing, and the receipt of every file
    the warehouse holds from ``org`` (API, portal or landing folder alike)."""
    from ingest.manifest import files_where
    from ingest.pipeline import get_receipts

    partners = list_partners(session)
    session.rollback()
    con = open_warehouse(settings)
    try:
        report = [r for r in submission_report(con, partners, as_of=date.today())
                  if r.org_code == org]
        receipts: list[Receipt] = []
        if with_receipts:
            for row in files_where(con, "parent_id IS NULL AND (partner_org = ? OR "
                                   "submitted_by = ?)", [org, org]):
                receipts.extend(get_receipts(con, row.file_id))
    finally:
        con.close()
    receipts.sort(key=lambda r: r.created_at or datetime.min, reverse=True)
    return PartnerOverview(report=report, receipts=receipts)
