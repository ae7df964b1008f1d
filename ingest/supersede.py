"""One current file per partner, kind and period: older files leave staging, newer ones win."""

from __future__ import annotations

import duckdb

from core import tables
from ingest import manifest
from ingest.manifest import FileRow

_SAME_SLOT = "source_system = ? AND kind = ? AND partner_org = ? AND period = ? " \
    "AND status = 'accepted'"


def newer_current(con: duckdb.DuckDBPyConnection, row: FileRow) -> list[FileRow]:
    """Accepted files of the same partner, kind and period received after this one."""
    return manifest.files_where(
        con, f"{_SAME_SLOT} AND received_at > ?",
        [row.source_system, row.kind, row.partner_org, row.period, row.received_at])


def supersede(con: duckdb.DuckDBPyConnection, row: FileRow) -> list[str]:
    """Older current files of the same partner, kind and period leave staging (not raw).

    Runs inside the caller's load transaction, so it commits with the new file's rows.
    """
    older = manifest.files_where(
        con, f"{_SAME_SLOT} AND file_id <> ?",
        [row.source_system, row.kind, row.partner_org, row.period, row.file_id])
    ids = [o.file_id for o in older]
    if ids:
        marks = ", ".join("?" for _ in ids)
        con.execute(f"DELETE FROM {staging_table(row)} WHERE file_id IN ({marks})", ids)
        con.execute(
            f"UPDATE {tables.FILES} SET status = 'superseded', superseded_by = ? "
            f"WHERE file_id IN ({marks})", [row.file_id, *ids])
    return ids


def staging_table(row: FileRow) -> str:
    if row.source_system == "calpads":
        return tables.calpads_staging(row.kind or "")
    return tables.csv_staging(row.kind or "")
