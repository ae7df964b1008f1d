"""Validators over the warehouse, reusable as Dagster asset checks (and covered by tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from core import tables
from core.calpads import FILE_TYPES
from core.partner_formats import CSV_FORMATS
from ingest.schema import ensure_schema


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    description: str
    metadata: dict[str, int | str] = field(default_factory=dict)


def _staging_tables() -> dict[str, str]:
    found = {t: tables.calpads_staging(t) for t in FILE_TYPES}
    found.update({k: tables.csv_staging(k) for k in CSV_FORMATS})
    return found


def row_counts_match_receipts(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """Every current file has exactly the rows its receipt reports, and staging holds no others."""
    ensure_schema(con)
    union = " UNION ALL ".join(
        f"SELECT file_id, count(*) AS n FROM {table} GROUP BY file_id"
        for table in _staging_tables().values()
    )
    mismatches = con.execute(
        f"""
        WITH staged AS ({union}),
        expected AS (
            SELECT f.file_id, r.rows FROM {tables.FILES} f JOIN {tables.RECEIPTS} r USING (file_id)
            WHERE f.status = 'accepted'
        )
        SELECT coalesce(e.file_id, s.file_id), coalesce(e.rows, 0), coalesce(s.n, 0)
        FROM expected e FULL OUTER JOIN staged s USING (file_id)
        WHERE coalesce(e.rows, 0) <> coalesce(s.n, 0)
        """
    ).fetchall()
    files = con.execute(f"SELECT count(*) FROM {tables.FILES} WHERE status = 'accepted'")
    current = int((files.fetchone() or (0,))[0])
    first = mismatches[0] if mismatches else None
    return CheckResult(
        "row_counts_match_receipts",
        not mismatches,
        "staging row counts equal receipt row counts for every current file"
        if not mismatches else
        f"{len(mismatches)} file(s) differ; first {first[0][:12]}: receipt {first[1]}, "  # type: ignore[index]
        f"staging {first[2]}",  # type: ignore[index]
        {"current_files": current, "mismatched_files": len(mismatches)},
    )


def no_files_left_received(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """No file stuck half-way (``received`` means an interrupted run that was not re-run)."""
    ensure_schema(con)
    row = con.execute(f"SELECT count(*) FROM {tables.FILES} WHERE status = 'received'").fetchone()
    stuck = int(row[0]) if row else 0
    return CheckResult("no_files_left_received", stuck == 0,
                       f"{stuck} file(s) received but not finished; run ingest again",
                       {"stuck_files": stuck})
