"""Write the serving snapshot: suppressed aggregates in a plain DuckDB file, swapped atomically.

The snapshot holds no identifiers and no cell under ``min_cell``, so it is not encrypted; the
API opens it read-only. It is written to a temporary file in the same directory and moved
over the old one with ``os.replace``, so a reader sees the old or the new snapshot, never half.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from analytics.aggregates import compute_cells
from analytics.disclosure import Cell, suppress
from analytics.metrics import ALL, STATE, metric_descriptions
from core import catalog, tables
from core.protection import MIN_CELL, require_min_cell

SNAPSHOT_DDL: tuple[str, ...] = (
    """CREATE TABLE published_aggregates (
        academic_year VARCHAR, reporting_lea VARCHAR, subgroup VARCHAR, subgroup_value VARCHAR,
        metric VARCHAR, numerator INTEGER, denominator INTEGER, rate DOUBLE,
        suppressed BOOLEAN, suppression_reason VARCHAR, run_id VARCHAR)""",
    """CREATE TABLE snapshot_info (
        published_at TIMESTAMP, run_id VARCHAR, min_cell INTEGER, cells INTEGER,
        suppressed_cells INTEGER)""",
    "CREATE TABLE metrics (metric VARCHAR, description VARCHAR)",
)
AGGREGATES_DDL = f"""CREATE OR REPLACE TABLE {tables.AGGREGATES} (
    academic_year VARCHAR, reporting_lea VARCHAR, subgroup VARCHAR, subgroup_value VARCHAR,
    metric VARCHAR, numerator INTEGER, denominator INTEGER, rate DOUBLE,
    suppressed BOOLEAN, suppression_reason VARCHAR, run_id VARCHAR)"""


@dataclass(frozen=True)
class PublishSummary:
    serving_path: Path
    run_id: str
    cells: int
    suppressed_cells: int
    academic_years: list[str]
    seconds: float


def _rows(cells: list[Cell], run_id: str) -> list[tuple[object, ...]]:
    return [
        (c.academic_year, c.reporting_lea, c.subgroup, c.subgroup_value, c.metric, c.numerator,
         c.denominator, c.rate, c.suppressed, c.suppression_reason, run_id)
        for c in cells
    ]


def publish(
    con: duckdb.DuckDBPyConnection,
    serving_path: Path,
    *,
    min_cell: int = MIN_CELL,
    run_id: str | None = None,
) -> PublishSummary:
    """Suppress the aggregates of ``analytics.student_year`` and swap in a new snapshot.

    Also keeps the published cells in ``analytics.aggregates`` (what was released, for audit).
    """
    started = time.perf_counter()
    require_min_cell(min_cell)
    run_id = run_id or f"pub-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    cells = suppress(compute_cells(con), min_cell=min_cell)
    rows = _rows(cells, run_id)
    suppressed = sum(1 for c in cells if c.suppressed)

    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.ANALYTICS}")
    con.execute(AGGREGATES_DDL)
    if rows:
        con.executemany(f"INSERT INTO {tables.AGGREGATES} VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    serving_path.parent.mkdir(parents=True, exist_ok=True)
    temp = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        out = duckdb.connect(str(temp))
        try:
            for ddl in SNAPSHOT_DDL:
                out.execute(ddl)
            if rows:
                out.executemany(
                    "INSERT INTO published_aggregates VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
                )
            out.executemany("INSERT INTO metrics VALUES (?, ?)", metric_descriptions())
            out.execute(
                "INSERT INTO snapshot_info VALUES (?, ?, ?, ?, ?)",
                [datetime.now(UTC).replace(tzinfo=None), run_id, min_cell, len(cells),
                 suppressed],
            )
            out.execute("CHECKPOINT")
        finally:
            out.close()
        os.replace(temp, serving_path)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    return PublishSummary(
        serving_path=serving_path,
        run_id=run_id,
        cells=len(cells),
        suppressed_cells=suppressed,
        academic_years=sorted({c.academic_year for c in cells}),
        seconds=round(time.perf_counter() - started, 3),
    )


SUMMARY_COLUMNS = ("academic_year", "reporting_lea", "metric", "numerator", "denominator", "rate")


def summary_table(serving_path: Path, limit: int = 12) -> list[dict[str, str]]:
    """Rows for a short table of published outcomes: latest year, statewide, all students.

    Falls back to the first LEA when no STATE row exists; hidden counts show as ``*``.
    """
    con = duckdb.connect(str(serving_path), read_only=True)
    try:
        rows = con.execute(
            """WITH latest AS (SELECT max(academic_year) AS y FROM published_aggregates),
                    lea AS (SELECT min(reporting_lea) FILTER (WHERE reporting_lea <> ?) AS l,
                                   bool_or(reporting_lea = ?) AS has_state
                            FROM published_aggregates, latest WHERE academic_year = latest.y)
               SELECT p.academic_year, p.reporting_lea, p.metric, p.numerator, p.denominator,
                      p.rate
               FROM published_aggregates p, latest, lea
               WHERE p.academic_year = latest.y AND p.subgroup = ? AND p.subgroup_value = ?
                 AND p.reporting_lea = CASE WHEN lea.has_state THEN ? ELSE lea.l END
               ORDER BY p.metric LIMIT ?""",
            [STATE, STATE, ALL, ALL, STATE, limit],
        ).fetchall()
    finally:
        con.close()
    order = {name: i for i, name in enumerate(catalog.OUTCOMES)}
    rows.sort(key=lambda r: order.get(str(r[2]), len(order)))
    return [
        {
            "academic_year": str(year), "reporting_lea": str(lea), "metric": str(metric),
            "numerator": "*" if n is None else str(n),
            "denominator": "*" if d is None else str(d),
            "rate": "*" if rate is None else f"{100 * float(rate):.1f}%",
        }
        for year, lea, metric, n, d, rate in rows
    ]
