"""Reading and writing ``ingest.files``, ``ingest.receipts`` and ``ingest.errors``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
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
    _insert_errors(con, [(receipt.file_id, e) for e in receipt.errors])


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


# A list of ids as a join (``list_contains`` over a long list would compare every pair).
_IDS = "(SELECT unnest(CAST(? AS VARCHAR[])))"


# --- many files at once (batch ingest: a handful of statements per load, not per file) -----

def get_files(con: duckdb.DuckDBPyConnection, file_ids: list[str]) -> dict[str, FileRow]:
    """Manifest rows of these ids (those that exist), by id."""
    if not file_ids:
        return {}
    rows = con.execute(
        f"SELECT {', '.join(FILE_COLUMNS)} FROM {tables.FILES} "
        f"WHERE file_id IN {_IDS}", [file_ids]
    ).fetchall()
    return {r[0]: FileRow(*r) for r in rows}


def _arrow(columns: dict[str, list[Any]], types: dict[str, Any] | None = None) -> Any:
    import pyarrow as pa

    types = types or {}
    return pa.table({name: pa.array(values, type=types.get(name))
                     for name, values in columns.items()})


@contextmanager
def arrow_view(con: duckdb.DuckDBPyConnection, name: str, table: Any) -> Iterator[str]:
    """``table`` (pyarrow) readable as ``name`` on ``con`` for the block."""
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


def _insert_errors(con: duckdb.DuckDBPyConnection, errors: list[tuple[str, FileError]]) -> None:
    """Store load errors in one statement from an Arrow table: DuckDB binds ``executemany``'s
    values one row at a time (about 6 ms a row without pandas), and a bad file has hundreds."""
    if not errors:
        return
    import pyarrow as pa

    table = _arrow({
        "file_id": [file_id for file_id, _ in errors],
        "file": [e.file for _, e in errors],
        "line": [e.line for _, e in errors],
        "field": [e.field for _, e in errors],
        "value": [e.value for _, e in errors],
        "rule": [e.rule for _, e in errors],
        "message": [e.message for _, e in errors],
    }, {"file_id": pa.string(), "file": pa.string(), "line": pa.int64(), "field": pa.string(),
        "value": pa.string(), "rule": pa.string(), "message": pa.string()})
    with arrow_view(con, "_ingest_new_errors", table):
        con.execute(f"INSERT INTO {tables.LOAD_ERRORS} (file_id, file, line, field, value, "
                    "rule, message) SELECT file_id, file, line, field, value, rule, message "
                    "FROM _ingest_new_errors")


def insert_files(con: duckdb.DuckDBPyConnection, rows: list[FileRow]) -> None:
    """Insert many manifest rows in one statement."""
    if not rows:
        return
    import pyarrow as pa

    table = _arrow({c: [getattr(r, c) for r in rows] for c in FILE_COLUMNS}, {
        "part_ids": pa.list_(pa.string()), "size_bytes": pa.int64(), "part_no": pa.int32(),
        "part_total": pa.int32(), "received_at": pa.timestamp("us"),
        "loaded_at": pa.timestamp("us"), **{c: pa.string() for c in FILE_COLUMNS if c not in (
            "part_ids", "size_bytes", "part_no", "part_total", "received_at", "loaded_at")}})
    with arrow_view(con, "_ingest_new_files", table):
        con.execute(f"INSERT INTO {tables.FILES} ({', '.join(FILE_COLUMNS)}) "
                    f"SELECT {', '.join(FILE_COLUMNS)} FROM _ingest_new_files")


_FINISH_COLUMNS = ("source_system", "kind", "partner_org", "period", "layout_version",
                   "encoding")


def finish_files(con: duckdb.DuckDBPyConnection, rows: list[FileRow], status: str,
                 loaded_at: datetime | None = None) -> None:
    """Set the final ``status`` (and what identification found) of many rows in one statement."""
    if not rows:
        return
    import pyarrow as pa

    table = _arrow({"file_id": [r.file_id for r in rows],
                    **{c: [getattr(r, c) for r in rows] for c in _FINISH_COLUMNS}},
                   {c: pa.string() for c in ("file_id", *_FINISH_COLUMNS)})
    sets = ", ".join(f"{c} = u.{c}" for c in _FINISH_COLUMNS)
    with arrow_view(con, "_ingest_done_files", table):
        con.execute(f"UPDATE {tables.FILES} SET status = ?, loaded_at = ?, {sets} "
                    f"FROM _ingest_done_files u WHERE {tables.FILES}.file_id = u.file_id",
                    [status, loaded_at])


def write_receipts(con: duckdb.DuckDBPyConnection, receipts: list[Receipt]) -> None:
    """:func:`write_receipt` for many receipts: a few statements in all."""
    if not receipts:
        return
    import pyarrow as pa

    now = datetime.now()
    ids = [r.receipt_id for r in receipts]
    con.execute(f"DELETE FROM {tables.RECEIPTS} WHERE receipt_id IN {_IDS}", [ids])
    con.execute(f"DELETE FROM {tables.LOAD_ERRORS} WHERE file_id IN {_IDS}",
                [[r.file_id for r in receipts]])
    table = _arrow({
        "receipt_id": ids, "file_id": [r.file_id for r in receipts],
        "status": [str(r.status) for r in receipts], "rows": [r.rows for r in receipts],
        "warnings": [r.warnings for r in receipts],
        "error_count": [r.error_count for r in receipts],
        "message": [r.message for r in receipts],
        "created_at": [r.created_at or now for r in receipts],
        "updated_at": [now] * len(receipts),
    }, {"rows": pa.int64(), "error_count": pa.int64(), "warnings": pa.list_(pa.string()),
        "created_at": pa.timestamp("us"), "updated_at": pa.timestamp("us")})
    with arrow_view(con, "_ingest_new_receipts", table):
        con.execute(f"INSERT INTO {tables.RECEIPTS} (receipt_id, file_id, status, rows, warnings, "
                    "error_count, message, created_at, updated_at) SELECT receipt_id, file_id, "
                    "status, rows, warnings, error_count, message, created_at, updated_at "
                    "FROM _ingest_new_receipts")
    _insert_errors(con, [(r.file_id, e) for r in receipts for e in r.errors])


def read_receipts(con: duckdb.DuckDBPyConnection, file_ids: list[str]) -> dict[str, Receipt]:
    """:func:`read_receipt` for many files (three queries in all), by file id."""
    if not file_ids:
        return {}
    found = con.execute(
        f"SELECT r.file_id, r.receipt_id, r.status, r.rows, r.warnings, r.error_count, "
        f"r.message, r.created_at, f.original_name, f.source_system, f.kind, f.partner_org, "
        f"f.period FROM {tables.RECEIPTS} r JOIN {tables.FILES} f USING (file_id) "
        f"WHERE r.file_id IN {_IDS}", [file_ids]).fetchall()
    errors: dict[str, list[FileError]] = {}
    for fid, f, line, fld, value, rule, msg in con.execute(
            f"SELECT file_id, file, line, field, value, rule, message FROM {tables.LOAD_ERRORS} "
            f"WHERE file_id IN {_IDS} ORDER BY file_id, line NULLS FIRST, field",
            [file_ids]).fetchall():
        errors.setdefault(fid, []).append(
            FileError(file=f, line=line, field=fld, value=value, rule=rule, message=msg))
    superseded: dict[str, list[str]] = {}
    for old, new in con.execute(
            f"SELECT file_id, superseded_by FROM {tables.FILES} "
            f"WHERE superseded_by IN {_IDS} ORDER BY received_at", [file_ids]).fetchall():
        superseded.setdefault(new, []).append(old)
    return {
        fid: Receipt(
            receipt_id=receipt_id, file_id=fid, file_name=name, status=ReceiptStatus(status),
            source_system=system, kind=kind, partner_org=partner, period=period, rows=rows,
            warnings=list(warnings), errors=errors.get(fid, []), error_count=error_count,
            message=message, superseded=superseded.get(fid, []), created_at=created_at)
        for (fid, receipt_id, status, rows, warnings, error_count, message, created_at, name,
             system, kind, partner, period) in found
    }
