"""Reading and writing ``ingest.files``, ``ingest.receipts`` and ``ingest.errors``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from core import tables
from ingest.models import FileError, Receipt, ReceiptStatus

FINAL_STATUSES = ("accepted", "rejected", "held", "superseded", "part", "unpacked")
FILE_COLUMNS = (
    "file_id", "sha256", "origin", "parent_id", "member", "part_ids", "original_name",
    "source_path", "size_bytes", "received_at", "submitted_by", "source_system", "kind",
    "partner_org", "period", "layout_version", "encoding", "part_group", "part_no", "part_total",
    "status", "superseded_by", "loaded_at",
)


@dataclass
class FileRow:
    file_id: str
    sha256: str | None
    origin: str
    parent_id: str | None
    member: str | None
    part_ids: list[str] | None
    original_name: str
    source_path: str | None
    size_bytes: int | None
    received_at: datetime
    submitted_by: str | None = None
    source_system: str | None = None
    kind: str | None = None
    partner_org: str | None = None
    period: str | None = None
    layout_version: str | None = None
    encoding: str | None = None
    part_group: str | None = None
    part_no: int | None = None
    part_total: int | None = None
    status: str = "received"
    superseded_by: str | None = None
    loaded_at: datetime | None = None


def derived_id(*parts: str) -> str:
    """The id of a file that was not received as such (a zip member, reassembled parts)."""
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def get_file(con: duckdb.DuckDBPyConnection, file_id: str) -> FileRow | None:
    row = con.execute(
        f"SELECT {', '.join(FILE_COLUMNS)} FROM {tables.FILES} WHERE file_id = ?", [file_id]
    ).fetchone()
    return FileRow(*row) if row else None


def files_where(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[FileRow]:
    rows = con.execute(
        f"SELECT {', '.join(FILE_COLUMNS)} FROM {tables.FILES} WHERE {where} ORDER BY received_at, "
        "file_id", params
    ).fetchall()
    return [FileRow(*r) for r in rows]


def insert_file(con: duckdb.DuckDBPyConnection, row: FileRow) -> None:
    values = [getattr(row, c) for c in FILE_COLUMNS]
    con.execute(
        f"INSERT INTO {tables.FILES} ({', '.join(FILE_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in FILE_COLUMNS)})", values
    )


def update_file(con: duckdb.DuckDBPyConnection, file_id: str, **changes: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in changes)
    con.execute(f"UPDATE {tables.FILES} SET {sets} WHERE file_id = ?", [*changes.values(), file_id])


def write_receipt(con: duckdb.DuckDBPyConnection, receipt: Receipt) -> None:
    """Insert or replace a file's receipt and stored errors (the caller owns the transaction)."""
    now = datetime.now()
    created = receipt.created_at or now
    con.execute(f"DELETE FROM {tables.RECEIPTS} WHERE receipt_id = ?", [receipt.receipt_id])
    con.execute(
        f"INSERT INTO {tables.RECEIPTS} (receipt_id, file_id, status, rows, warnings, error_count, "
        "message, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [receipt.receipt_id, receipt.file_id, str(receipt.status), receipt.rows,
         receipt.warnings, receipt.error_count, receipt.message, created, now],
    )
    con.execute(f"DELETE FROM {tables.LOAD_ERRORS} WHERE file_id = ?", [receipt.file_id])
    if receipt.errors:
        con.executemany(
            f"INSERT INTO {tables.LOAD_ERRORS} (file_id, file, line, field, value, rule, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[receipt.file_id, e.file, e.line, e.field, e.value, e.rule, e.message]
             for e in receipt.errors],
        )


def read_receipt(con: duckdb.DuckDBPyConnection, file_id: str) -> Receipt | None:
    """The stored receipt of a file, with its errors and what it superseded."""
    row = con.execute(
        f"SELECT r.receipt_id, r.status, r.rows, r.warnings, r.error_count, r.message, "
        f"r.created_at, f.original_name, f.source_system, f.kind, f.partner_org, f.period "
        f"FROM {tables.RECEIPTS} r JOIN {tables.FILES} f USING (file_id) WHERE r.file_id = ?",
        [file_id],
    ).fetchone()
    if row is None:
        return None
    (receipt_id, status, rows, warnings, error_count, message, created_at, name, system, kind,
     partner, period) = row
    errors = [
        FileError(file=f, line=line, field=fld, value=value, rule=rule, message=msg)
        for f, line, fld, value, rule, msg in con.execute(
            f"SELECT file, line, field, value, rule, message FROM {tables.LOAD_ERRORS} "
            "WHERE file_id = ? ORDER BY line NULLS FIRST, field", [file_id]
        ).fetchall()
    ]
    superseded = [
        r[0] for r in con.execute(
            f"SELECT file_id FROM {tables.FILES} WHERE superseded_by = ? ORDER BY received_at",
            [file_id],
        ).fetchall()
    ]
    return Receipt(
        receipt_id=receipt_id, file_id=file_id, file_name=name, status=ReceiptStatus(status),
        source_system=system, kind=kind, partner_org=partner, period=period, rows=rows,
        warnings=list(warnings), errors=errors, error_count=error_count, message=message,
        superseded=superseded, created_at=created_at,
    )
