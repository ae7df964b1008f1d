"""Uploads into ingest: open the warehouse for the length of one upload, ingest, record.

The API never keeps the warehouse open: DuckDB allows one writing process per file and the
pipeline must be able to run while the API serves. When the pipeline holds the file, the
upload answers 503 (retry later) instead of waiting.
"""

from __future__ import annotations

import duckdb
from sqlalchemy.orm import Session, sessionmaker

from api.schemas import SubmissionOut, UploadResult
from api.uploads import Upload
from core.keys import RAW_STORE_PURPOSE, KeyProvider
from core.settings import Settings
from core.warehouse import open_warehouse as core_open_warehouse
from governance import submissions as gs
from governance.audit import audited
from governance.partners import list_partners
from governance.users import Principal
from ingest import Receipt, ingest_file

SEVERITY = {"accepted": 0, "held": 1, "rejected": 2}


def open_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Per upload; a pipeline run holding the warehouse surfaces as ``Busy`` (503)."""
    return core_open_warehouse(settings)


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: SEVERITY.get(s, 2)) if statuses else "rejected"


def ingest_upload(settings: Settings, sessions: sessionmaker[Session], keys: KeyProvider,
                  caller: Principal, upload: Upload) -> UploadResult:
    """Ingest every received file as ``c2c ingest`` would, then record and audit the receipts."""
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
                for received in upload.files:
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
                    receipt={"receipts": [r.model_dump(mode="json") for r in receipts]},
                ))
            audit["files"] = [
                {"name": n, "sha256": h, "status": worst([str(r.status) for r in rs])}
                for n, _, h, rs in results
            ]
            out = [SubmissionOut.of(row) for row in rows]
    return UploadResult(status=worst([s.status for s in out]), submissions=out)
