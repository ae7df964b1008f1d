"""Write the serving snapshot: suppressed aggregates in a plain DuckDB file, swapped atomically.

The snapshot holds no identifiers and no cell under ``min_cell``, so it is not encrypted; the
API opens it read-only. It is written to a temporary file in the same directory and moved
over the old one with ``os.replace``, so a reader sees the old or the new snapshot, never half.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from analytics import auditor
from analytics.aggregates import TRUE_CELLS, build_true_cells
from analytics.disclosure import release_select
from analytics.link_quality import QUALITY_DDL, released_quality_rows
from analytics.metrics import ALL, STATE, metric_descriptions
from core import catalog, tables
from core.errors import ReleaseHeld
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
    QUALITY_DDL,  # estimated linkage quality, gated (analytics/link_quality.py)
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


Progress = Callable[[str, int, int], None]  # (step description, steps done, steps in all)
_CANDIDATE = "publish_candidate"  # a temp table: the new cells before the audit
STEPS = ("record keys and true counts", "cell-key rounding and suppression",
         "writing the serving snapshot")


def _released_select(min_cell: int) -> str:
    return (
        "SELECT academic_year, reporting_lea, subgroup, subgroup_value, metric, numerator, "
        "denominator, rate, suppressed, suppression_reason, ? AS run_id FROM ("
        f"{release_select(TRUE_CELLS, min_cell)}) "
        "ORDER BY academic_year, reporting_lea, metric, subgroup, subgroup_value"
    )


def publish(
    con: duckdb.DuckDBPyConnection,
    serving_path: Path,
    *,
    min_cell: int = MIN_CELL,
    run_id: str | None = None,
    progress: Progress | None = None,
    salt: str | None = None,
    audit: bool = True,
) -> PublishSummary:
    """Release the aggregates of ``analytics.student_year`` and swap in a new snapshot.

    The rule is ``analytics.disclosure`` (threshold + cell-key rounding), run in SQL. Also
    keeps the released cells in ``analytics.aggregates`` (what was released, for audit).
    ``progress`` is told each step; ``salt`` fixes new record keys (tests). Before anything
    is replaced the standing attacker (``analytics.auditor``) attacks the new cells with every
    request table released so far; ``ReleaseHeld`` (nothing replaced) when it narrows a hidden
    count below the documented bound. ``audit=False`` only for benchmarks of the rule alone.
    """
    started = time.perf_counter()
    require_min_cell(min_cell)
    run_id = run_id or f"pub-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    tell = progress or (lambda _step, _done, _total: None)

    tell(STEPS[0], 0, len(STEPS))
    build_true_cells(con, salt=salt)
    tell(STEPS[1], 1, len(STEPS))
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.ANALYTICS}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_CANDIDATE} AS {_released_select(min_cell)}",
                [run_id])
    con.execute(f"DROP TABLE {TRUE_CELLS}")
    if audit:
        # The standing attacker: this snapshot with every request table released so far.
        verdict = auditor.audit(auditor.snapshot_cells(con, _CANDIDATE, check=False),
                                auditor.released_request_cells(con), min_cell=min_cell)
        if verdict.held:
            con.execute(f"DROP TABLE {_CANDIDATE}")
            raise ReleaseHeld(f"snapshot not published, the current one stays: "
                              f"{verdict.detail()}")
    con.execute(AGGREGATES_DDL)
    con.execute(f"INSERT INTO {tables.AGGREGATES} SELECT * FROM {_CANDIDATE}")
    con.execute(f"DROP TABLE {_CANDIDATE}")
    counted = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE suppressed), "
        f"list(DISTINCT academic_year ORDER BY academic_year) FROM {tables.AGGREGATES}"
    ).fetchone()
    cells, suppressed, years = (int(counted[0]), int(counted[1]), list(counted[2] or [])) \
        if counted else (0, 0, [])

    tell(STEPS[2], 2, len(STEPS))
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    temp = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex}.tmp")
    alias = f"snap_{uuid.uuid4().hex[:8]}"
    try:
        # ATTACH from the warehouse connection: the rows go table to table inside DuckDB
        # (no Python round trip for millions of rows); the snapshot file is plain on purpose.
        con.execute(f"ATTACH '{temp}' AS {alias}")
        try:
            for ddl in SNAPSHOT_DDL:
                con.execute(ddl.replace("CREATE TABLE ", f"CREATE TABLE {alias}.", 1))
            con.execute(f"INSERT INTO {alias}.published_aggregates SELECT * FROM "
                        f"{tables.AGGREGATES} ORDER BY academic_year, reporting_lea, metric, "
                        "subgroup, subgroup_value")
            con.executemany(f"INSERT INTO {alias}.metrics VALUES (?, ?)", metric_descriptions())
            quality = released_quality_rows(con, min_cell)
            if quality:
                con.executemany(f"INSERT INTO {alias}.linkage_quality VALUES "
                                f"({', '.join('?' * len(quality[0]))})", quality)
            con.execute(
                f"INSERT INTO {alias}.snapshot_info VALUES (?, ?, ?, ?, ?)",
                [datetime.now(UTC).replace(tzinfo=None), run_id, min_cell, cells, suppressed],
            )
        finally:
            con.execute(f"DETACH {alias}")
        os.replace(temp, serving_path)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    tell("done", len(STEPS), len(STEPS))
    return PublishSummary(
        serving_path=serving_path,
        run_id=run_id,
        cells=cells,
        suppressed_cells=suppressed,
        academic_years=[str(y) for y in years],
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
