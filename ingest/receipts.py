"""Receipts: build one for a manifest row, record a final status with it, read them back."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from core.duck import transaction
from core.errors import InputRejected, Location
from ingest import manifest
from ingest.manifest import FileRow
from ingest.models import FileError, Receipt, ReceiptStatus


def receipt_for(row: FileRow, status: ReceiptStatus, message: str, **kw: object) -> Receipt:
    return Receipt(
        receipt_id=row.file_id, file_id=row.file_id, file_name=row.original_name, status=status,
        source_system=row.source_system, kind=row.kind, partner_org=row.partner_org,
        period=row.period, message=message, **kw,  # type: ignore[arg-type]
    )


def finish(con: duckdb.DuckDBPyConnection, row: FileRow, receipt: Receipt,
           status: str) -> Receipt:
    """Record a final status and receipt in one transaction; return the stored receipt."""
    with transaction(con):
        manifest.update_file(
            con, row.file_id, status=status, source_system=row.source_system, kind=row.kind,
            partner_org=row.partner_org, period=row.period, layout_version=row.layout_version,
            encoding=row.encoding,
        )
        manifest.write_receipt(con, receipt)
    stored = manifest.read_receipt(con, row.file_id)
    return stored or receipt


def reject(con: duckdb.DuckDBPyConnection, row: FileRow, errors: list[FileError], count: int,
           event: Callable[[str], None], warnings: list[str] | None = None) -> Receipt:
    """Record a rejection naming the first error (and how many more)."""
    receipt = rejected_receipt(row, errors, count, warnings)
    event(f"rejected {row.original_name}: {receipt.message.removeprefix('rejected: ')}")
    return finish(con, row, receipt, "rejected")


def rejected_receipt(row: FileRow, errors: list[FileError], count: int,
                     warnings: list[str] | None = None) -> Receipt:
    """The rejection receipt naming the first error (and how many more); not yet stored."""
    first = errors[0].describe() if errors else "rejected"
    more = f" (and {count - 1} more)" if count > 1 else ""
    return receipt_for(row, ReceiptStatus.REJECTED, f"rejected: {first}{more}",
                       errors=errors, error_count=count, warnings=warnings or [])


def rejection(row: FileRow, exc: InputRejected) -> FileError:
    """The receipt error for an ``InputRejected``, without repeating its location."""
    loc = exc.location or Location(row.original_name, rule="file")
    message = str(exc)
    prefix = f"{loc.describe()}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    return FileError(file=row.original_name, line=loc.line, field=loc.field, value=loc.value,
                     rule=loc.rule or "file", message=message)


def receipts_of(con: duckdb.DuckDBPyConnection, row: FileRow) -> list[Receipt]:
    """A row's stored receipt; an unpacked zip's are its members' receipts."""
    if row.kind == "zip" and row.status == "unpacked":
        members = manifest.files_where(con, "parent_id = ?", [row.file_id])
        return [r for m in members if (r := manifest.read_receipt(con, m.file_id))]
    receipt = manifest.read_receipt(con, row.file_id)
    return [receipt] if receipt else []
