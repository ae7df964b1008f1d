"""Automated output checks: the second line behind the suppression that built a table.

Every aggregate table that leaves for a request is checked here before any output checker sees
it (governance.output_release reads the results):

- ``minimum_cell``: every shown numerator and denominator is at least ``min_cell``, and every
  shown complement (denominator - numerator) at least ``min_cell`` less the two roundings;
- ``dominance``: no shown cell says that all or none of a group has the outcome (a rate of 0 or
  1 discloses the outcome of every member of the group);
- ``differencing_snapshot``: the table's cells, subtracted from the published statewide cells of
  the same year, group and metric, must not give the LEAs outside the request's cohort a count
  below ``min_cell`` or a value the snapshot suppressed (the attack of issue 18: a request over
  every LEA but one small charter);
- ``differencing_releases``: likewise against every aggregate table released before whose
  cohort is nested in this one's (same filters and grouping, LEA sets one inside the other).

A check that cannot be applied (a grouping the snapshot does not publish, no earlier release)
says so and passes: there is nothing to difference against, which is not evidence of a risk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import pyarrow as pa

from analytics.auditor import audit_warehouse, request_cells
from analytics.metrics import ALL, STATE
from core import catalog, tables
from core.cohort import request_where
from core.protection import ROUNDING_BASE
from core.requests import ApprovedRequest

RELEASES = f"{tables.ANALYTICS}.released_request_cells"
RELEASES_DDL = f"""CREATE TABLE IF NOT EXISTS {RELEASES} (
    request_id VARCHAR, cohort_key VARCHAR, leas VARCHAR[], cell_key VARCHAR,
    numerator BIGINT, denominator BIGINT)"""


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    yield from table.to_pylist()


def minimum_cell(table: pa.Table, min_cell: int) -> CheckResult:
    # Shown counts are cell-key rounded separately (analytics.disclosure): the true complement
    # is at least min_cell, but shown denominator - shown numerator can be up to 2 x 4 less.
    complement_floor = min_cell - 2 * (ROUNDING_BASE - 1)
    bad = 0
    for row in _rows(table):
        n, d = row["numerator"], row["denominator"]
        if d is not None and d < min_cell:
            bad += 1
        if n is not None and (n < min_cell or (d is not None and d - n < complement_floor)):
            bad += 1
    return CheckResult("minimum_cell", bad == 0,
                       f"{bad} shown value(s) below {min_cell}" if bad
                       else f"every shown count and complement is at least {min_cell}")


def dominance(table: pa.Table) -> CheckResult:
    bad = sum(1 for row in _rows(table) if row["numerator"] is not None
              and row["denominator"] and row["numerator"] in (0, row["denominator"]))
    return CheckResult("dominance", bad == 0,
                       f"{bad} cell(s) show that all or none of a group has the outcome" if bad
                       else "no cell shows all or none of a group with the outcome")


def _cohort_leas(con: duckdb.DuckDBPyConnection, request: ApprovedRequest) -> list[str]:
    where, params = request_where(request)
    return sorted(str(r[0]) for r in con.execute(
        f"SELECT DISTINCT reporting_lea FROM {catalog.STUDENT_YEAR} WHERE {where}",
        params).fetchall())


def _cohort_key(request: ApprovedRequest) -> str:
    """Everything about the table but its LEAs: tables with the same key differ only there."""
    cohort = request.cohort
    return json.dumps({"years": sorted(cohort.academic_years),
                       "grades": sorted(cohort.grade_levels),
                       "subgroups": sorted((k, str(v)) for k, v in
                                           cohort.subgroup_equals.items()),
                       "group_by": sorted(request.group_by)}, sort_keys=True)


def _cell_key(row: dict[str, Any], group_by: list[str]) -> str:
    """The metric and the cell's values in ``sorted(group_by)`` order: the same cell of two
    tables grouped in a different order has one key."""
    return json.dumps([row["metric"], *[row[g] for g in sorted(group_by)]])


def _small_difference(diff: int, min_cell: int) -> bool:
    return 0 < diff < min_cell


def _published(con: duckdb.DuckDBPyConnection, leas: set[str]) -> tuple[
        dict[tuple[str, str, str, str], tuple[int | None, int | None]],
        dict[tuple[str, str, str, str], list[tuple[int | None, int | None]]]]:
    """Statewide cells, and the cells of every LEA outside ``leas``, as the public sees them
    (None: not shown)."""
    state: dict[tuple[str, str, str, str], tuple[int | None, int | None]] = {}
    outside: dict[tuple[str, str, str, str], list[tuple[int | None, int | None]]] = {}
    for year, lea, subgroup, value, metric, n, d, suppressed, reason in con.execute(
            f"SELECT academic_year, reporting_lea, subgroup, subgroup_value, metric, numerator, "
            f"denominator, suppressed, suppression_reason FROM {tables.AGGREGATES}").fetchall():
        key = (str(year), str(subgroup), str(value), str(metric))
        shown = (None if suppressed else n,
                 None if suppressed and str(reason or "").startswith("denominator") else d)
        if lea == STATE:
            state[key] = shown
        elif lea not in leas:
            outside.setdefault(key, []).append(shown)
    return state, outside


def _reveals(mine: int | None, state_value: int | None, outside: list[int | None],
             min_cell: int) -> bool:
    """Does ``state - mine`` expose what the snapshot hid of the LEAs outside the cohort?"""
    hidden = sum(1 for v in outside if v is None)
    if mine is None or state_value is None or hidden == 0:
        return False
    revealed = int(state_value) - int(mine) - sum(int(v) for v in outside if v is not None)
    return hidden == 1 or _small_difference(revealed, min_cell)


def differencing_snapshot(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
                          table: pa.Table, min_cell: int) -> CheckResult:
    name = "differencing_snapshot"
    group_by = list(request.group_by)
    subgroups = [g for g in group_by if g != "academic_year"]
    cohort = request.cohort
    if cohort.grade_levels or cohort.subgroup_equals:
        return CheckResult(name, True, "the snapshot publishes no cell of this shape")
    if "academic_year" not in group_by and len(cohort.academic_years) != 1:
        return CheckResult(name, True, "the table spans years the snapshot publishes apart")
    schema, table_name = tables.AGGREGATES.split(".", 1)
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND "
                         "table_name = ?", [schema, table_name]).fetchone()
    if not exists or not exists[0]:
        return CheckResult(name, True, "nothing is published yet")
    state, outside = _published(con, set(_cohort_leas(con, request)))
    found = 0
    for row in _rows(table):
        year = row["academic_year"] if "academic_year" in group_by else cohort.academic_years[0]
        if year == ALL:
            continue
        # A table grouped by several subgroups holds every one-variable margin (the others
        # at "all"): those are the snapshot's cells and are differenced like them.
        shown = [g for g in subgroups if row[g] != ALL]
        if len(shown) > 1:
            continue
        subgroup = shown[0] if shown else ALL
        value = row[subgroup] if shown else ALL
        key = (str(year), subgroup, str(value), str(row["metric"]))
        if key not in state or key not in outside:
            continue
        state_n, state_d = state[key]
        found += _reveals(row["numerator"], state_n, [c[0] for c in outside[key]], min_cell)
        found += _reveals(row["denominator"], state_d, [c[1] for c in outside[key]], min_cell)
    return CheckResult(name, found == 0,
                       f"{found} value(s) subtracted from published statewide cells reveal what "
                       "the snapshot suppressed for the LEAs outside the cohort; include them or "
                       "group more coarsely" if found
                       else "no published statewide cell can be differenced to a suppressed "
                       "value")


def differencing_releases(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
                          table: pa.Table, min_cell: int) -> CheckResult:
    name = "differencing_releases"
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.ANALYTICS}")
    con.execute(RELEASES_DDL)
    leas = set(_cohort_leas(con, request))
    earlier = con.execute(
        f"SELECT request_id, leas, cell_key, numerator, denominator FROM {RELEASES} "
        "WHERE cohort_key = ? AND request_id <> ?", [_cohort_key(request), request.request_id]
    ).fetchall()
    by_release: dict[str, tuple[set[str], dict[str, tuple[int | None, int | None]]]] = {}
    for request_id, their_leas, cell_key, n, d in earlier:
        entry = by_release.setdefault(str(request_id), (set(their_leas), {}))
        entry[1][str(cell_key)] = (n, d)
    mine = {_cell_key(row, list(request.group_by)): (row["numerator"], row["denominator"])
            for row in _rows(table)}
    found = 0
    for their_leas, cells in by_release.values():
        if their_leas == leas or not (their_leas < leas or leas < their_leas):
            continue
        for key, (n, d) in mine.items():
            if key not in cells:
                continue
            for a, b in ((n, cells[key][0]), (d, cells[key][1])):
                if a is not None and b is not None and _small_difference(abs(a - b), min_cell):
                    found += 1
    return CheckResult(name, found == 0,
                       f"{found} value(s) differ from an earlier release over a nested cohort by "
                       f"less than {min_cell}" if found
                       else f"checked against {len(by_release)} earlier release(s)")


def standing_attacker(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
                      table: pa.Table, min_cell: int) -> CheckResult:
    """The LP attacker over everything released so far plus this table
    (``analytics.auditor``); a hidden count narrowed below the bound holds the table."""
    leas = _cohort_leas(con, request)
    key = _cohort_key(request)
    candidate = request_cells(
        (key, leas, _cell_key(row, list(request.group_by)), row["numerator"],
         row["denominator"]) for row in _rows(table))
    result = audit_warehouse(con, min_cell=min_cell, candidate=candidate)
    return CheckResult("standing_attacker", not result.held, result.detail())


def check_aggregate(con: duckdb.DuckDBPyConnection, request: ApprovedRequest, table: pa.Table,
                    min_cell: int) -> list[CheckResult]:
    return [minimum_cell(table, min_cell), dominance(table),
            differencing_snapshot(con, request, table, min_cell),
            differencing_releases(con, request, table, min_cell),
            standing_attacker(con, request, table, min_cell)]


def record_release(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
                   table: pa.Table) -> None:
    """Keep a passed table's shown cells (suppressed aggregates, no identifier) so later
    requests are differenced against it."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.ANALYTICS}")
    con.execute(RELEASES_DDL)
    leas = _cohort_leas(con, request)
    con.execute(f"DELETE FROM {RELEASES} WHERE request_id = ?", [request.request_id])
    rows = list(_rows(table))
    if rows:
        # one Arrow table, not executemany (DuckDB binds executemany's values one by one)
        cells = pa.table({
            "request_id": [request.request_id] * len(rows),
            "cohort_key": [_cohort_key(request)] * len(rows),
            "leas": pa.array([leas] * len(rows), pa.list_(pa.string())),
            "cell_key": [_cell_key(row, list(request.group_by)) for row in rows],
            "numerator": pa.array([row["numerator"] for row in rows], pa.int64()),
            "denominator": pa.array([row["denominator"] for row in rows], pa.int64())})
        con.register("_released_cells", cells)
        try:
            con.execute(f"INSERT INTO {RELEASES} BY NAME SELECT * FROM _released_cells")
        finally:
            con.unregister("_released_cells")
