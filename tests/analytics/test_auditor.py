"""The standing attacker (``analytics.auditor``) before every release, and the two
differencing checks it sits beside (issue 25).

The averaging simulation of the issue, made small: six LEAs, one of them small enough that the
snapshot hides its counts, and aggregate request tables over many overlapping sets of LEAs.
Each table alone is protected by cell-key rounding; together, by LP, they pin hidden counts
(with these keys: the small LEA's, and zero cells of a subgroup nobody in an LEA belongs to).
Released one by one through the auditor, the table that would pin one is held and what was
released never narrows a hidden count below the bound.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.auditor import audit, audit_warehouse, released_request_cells, snapshot_cells
from analytics.disclosure import ensure_record_keys
from analytics.publish import publish
from analytics.request_table_checks import (
    check_aggregate,
    differencing_releases,
    differencing_snapshot,
    record_release,
)
from analytics.request_tables import aggregate_for_request
from core import catalog
from core.errors import ReleaseHeld
from core.protection import AUDIT_MIN_RANGE
from core.requests import ApprovedRequest, CohortFilter, RequestKind

YEAR = "2022-23"
METRIC = "cte_participant"
SIZES = {"L0": 60, "L1": 45, "L2": 80, "L3": 33, "L4": 52, "L5": 9}
OTHERS = ["L0", "L1", "L2", "L3", "L4"]


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA analytics")
    columns = ", ".join(f"{v.name} {v.dtype}" for v in catalog.VARIABLES)
    con.execute(f"CREATE TABLE {catalog.STUDENT_YEAR} ({columns})")
    rows = []
    number = 0
    for lea, size in SIZES.items():
        for i in range(size):
            number += 1
            row = {v.name: None for v in catalog.VARIABLES}
            row.update(person_id=f"P{number}", academic_year=YEAR, reporting_lea=lea,
                       gender="MF"[i % 2], hs_leaver=i % 2 == 0, cte_participant=i % 3 == 0,
                       homeless=False, english_learner=False,
                       socioeconomically_disadvantaged=False, race_ethnicity="white")
            rows.append(tuple(row[v.name] for v in catalog.VARIABLES))
    marks = ", ".join("?" for _ in catalog.VARIABLES)
    con.executemany(f"INSERT INTO {catalog.STUDENT_YEAR} VALUES ({marks})", rows)
    ensure_record_keys(con, f"SELECT person_id FROM {catalog.STUDENT_YEAR}", salt="s")
    return con


def _request(rid: str, leas: list[str], group_by: list[str] | None = None,
             metrics: list[str] | None = None) -> ApprovedRequest:
    return ApprovedRequest(
        request_id=rid, kind=RequestKind.AGGREGATE, title="t", purpose="p",
        variables=metrics or [METRIC], group_by=group_by or [],
        cohort=CohortFilter(academic_years=[YEAR], reporting_leas=leas),
        expires_at=datetime.now(UTC) + timedelta(days=1), requester="r")


def _overlapping() -> list[list[str]]:
    """Every set of the ordinary LEAs, alone and with the small one: 62 cohorts."""
    out = []
    for size in range(1, len(OTHERS) + 1):
        for chosen in itertools.combinations(OTHERS, size):
            out += [list(chosen), [*chosen, "L5"]]
    return out


@pytest.fixture(scope="module")
def published_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse and its published snapshot, built once; each test gets a copy."""
    folder = tmp_path_factory.mktemp("published")
    con = _warehouse(folder / "w.duckdb")
    publish(con, folder / "serving.duckdb", min_cell=11)
    hidden = con.execute("SELECT count(*) FROM analytics.aggregates WHERE reporting_lea = 'L5' "
                         "AND subgroup = 'all' AND metric = ? AND suppressed",
                         [METRIC]).fetchone()
    assert hidden is not None and hidden[0] == 1  # the small LEA's cell is hidden
    con.close()
    return folder


@pytest.fixture
def published(published_files: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    for name in ("w.duckdb", "serving.duckdb"):
        shutil.copyfile(published_files / name, tmp_path / name)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield con
    con.close()


@pytest.mark.slow
def test_overlapping_tables_pin_a_hidden_count_unless_the_auditor_holds_one(
        published: duckdb.DuckDBPyConnection) -> None:
    con = published
    # Without the auditor (tables released as the differencing checks alone allowed): the
    # LP over all of them pins the small LEA's count.
    for i, leas in enumerate(_overlapping()):
        request = _request(f"R{i}", leas, group_by=["gender"])
        record_release(con, request, aggregate_for_request(con, request, min_cell=11))
    pinned = audit_warehouse(con, min_cell=11)
    assert pinned.held and pinned.findings, pinned.detail()

    # Through the auditor, one release at a time (as fulfilment runs the checks): the first
    # table that would pin a count is held, and what was released pins nothing.
    con.execute("DELETE FROM analytics.released_request_cells")
    held = []
    for i, leas in enumerate(_overlapping()):
        request = _request(f"R{i}", leas, group_by=["gender"])
        table = aggregate_for_request(con, request, min_cell=11)
        checks = {c.check: c for c in check_aggregate(con, request, table, 11)}
        if not checks["standing_attacker"].passed:
            held.append(checks["standing_attacker"].detail)
            break
        record_release(con, request, table)
    assert held and held[0].startswith("held:") and "range" in held[0]
    after = audit_warehouse(con, min_cell=11)
    assert not after.held, after.detail()


def test_one_table_over_every_lea_but_one_is_not_held(
        published: duckdb.DuckDBPyConnection) -> None:
    """The demo attack of issue 18 alone narrows nothing below the bound: no false alarm."""
    con = published
    request = _request("R-demo", OTHERS)
    table = aggregate_for_request(con, request, min_cell=11)
    checks = {c.check: c for c in check_aggregate(con, request, table, 11)}
    assert checks["standing_attacker"].passed, checks["standing_attacker"].detail


def test_publish_is_held_when_it_would_pin_a_count(published: duckdb.DuckDBPyConnection,
                                                   tmp_path: Path) -> None:
    con = published
    for i, leas in enumerate(_overlapping()):
        request = _request(f"R{i}", leas, group_by=["gender"])
        record_release(con, request, aggregate_for_request(con, request, min_cell=11))
    serving = tmp_path / "serving.duckdb"
    before = serving.stat().st_mtime_ns
    with pytest.raises(ReleaseHeld, match="narrow to fewer than 3 candidate values"):
        publish(con, serving, min_cell=11)
    assert serving.stat().st_mtime_ns == before  # the current snapshot stays


def test_audit_reads_request_cells_whatever_the_grouping_order() -> None:
    snapshot = {(YEAR, lea, "all", "all", METRIC): (None, None) for lea in ("A", "B")}
    snapshot[(YEAR, "STATE", "all", "all", METRIC)] = (20, 40)
    result = audit(snapshot, [], min_cell=11)
    assert not result.held and result.targets == 0  # no request: nothing couples LEAs


# ----------------------------------------------------------------- the differencing checks


def test_margins_of_a_two_variable_table_are_differenced_against_the_snapshot(
        published: duckdb.DuckDBPyConnection) -> None:
    """A table by gender and race over every LEA but the small one holds the one-variable
    margins (gender x all): subtracted from STATE they give the small LEA's hidden cells.
    The check skipped every table grouped by two subgroups."""
    con = published
    request = _request("R-two", OTHERS, group_by=["gender", "race_ethnicity"])
    table = aggregate_for_request(con, request, min_cell=11)
    result = differencing_snapshot(con, request, table, 11)
    assert not result.passed, result.detail


def test_earlier_releases_are_matched_whatever_the_grouping_order(
        published: duckdb.DuckDBPyConnection) -> None:
    """Two tables over nested cohorts differ by the small LEA; grouped [gender, race] and
    [race, gender] their cohort keys differed, and the check compared nothing."""
    con = published
    first = _request("R-a", [*OTHERS, "L5"], group_by=["gender", "race_ethnicity"])
    record_release(con, first, aggregate_for_request(con, first, min_cell=11))
    second = _request("R-b", OTHERS, group_by=["race_ethnicity", "gender"])
    table = aggregate_for_request(con, second, min_cell=11)
    result = differencing_releases(con, second, table, 11)
    assert not result.passed, result.detail
    assert "1 earlier" not in result.detail
    rows = con.execute("SELECT DISTINCT cohort_key FROM analytics.released_request_cells"
                       ).fetchall()
    assert json.loads(rows[0][0])["group_by"] == ["gender", "race_ethnicity"]


def test_skipping_targets_already_wide_gives_the_verdict_of_every_lp(
        published: duckdb.DuckDBPyConnection) -> None:
    """The auditor skips the two LPs of a hidden count that earlier optima already spread by
    the bound. With a bound no range reaches, nothing is skipped and every range is solved:
    the counts held with the real bound are exactly those of that full list under it."""
    con = published
    for i, leas in enumerate(_overlapping()):
        request = _request(f"R{i}", leas, group_by=["gender"])
        record_release(con, request, aggregate_for_request(con, request, min_cell=11))
    snapshot, released = snapshot_cells(con), released_request_cells(con)
    full = audit(snapshot, released, min_cell=11, min_range=10_000)
    assert full.lps == 2 * full.targets and len(full.findings) == full.targets
    widths = {f.rsplit(" (range ", 1)[0]: float(f.rsplit(" (range ", 1)[1].rstrip(")"))
              for f in full.findings}
    held = audit(snapshot, released, min_cell=11)
    assert held.targets == full.targets and held.lps < full.lps
    found = {f.rsplit(" (range ", 1)[0] for f in held.findings}
    assert found  # the overlapping tables do pin some count
    for where, width in widths.items():  # widths are printed to 0.1
        assert where in found if width < AUDIT_MIN_RANGE - 0.05 else (
            where not in found or width < AUDIT_MIN_RANGE + 0.05), (where, width)
