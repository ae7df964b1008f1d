"""The enrolment rule end to end: two SSIDs with the same name and birth date are two students
when their primary enrolments overlap, one student when one enrolment follows the other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

import linkage
from core.settings import Settings
from linkage.clustering import confident_graph
from linkage.enrolment import (
    OVERLAP_TOLERANCE_DAYS,
    enrolment_conflicts,
    enrolment_span_columns,
)
from tests.link_fixtures import make_population, write_staging

YEAR = (date(2021, 8, 15), date(2022, 6, 10))


def _add_enrolment_dates(con: duckdb.DuckDBPyConnection,
                         periods: dict[str, tuple[date, date]]) -> None:
    """Give every SENR row a primary enrolment: the school year, or the period given per SSID."""
    con.execute("""ALTER TABLE staging.calpads_senr ADD COLUMN enrollment_status_code VARCHAR
                   DEFAULT '10'""")
    con.execute(f"""ALTER TABLE staging.calpads_senr ADD COLUMN enrollment_start_date DATE
                    DEFAULT DATE '{YEAR[0]}'""")
    con.execute(f"""ALTER TABLE staging.calpads_senr ADD COLUMN enrollment_exit_date DATE
                    DEFAULT DATE '{YEAR[1]}'""")
    for ssid, (start, end) in periods.items():
        con.execute("UPDATE staging.calpads_senr SET enrollment_start_date = ?, "
                    "enrollment_exit_date = ? WHERE ssid = ?", [start, end, ssid])


def test_overlapping_enrolments_split_sequential_enrolments_merge(tmp_path: Path) -> None:
    people = make_population(150, seed=3, twins=2, second_ssid=4)
    doubles = [p for p in people if len(p.ssids) > 1]
    overlapping, sequential = doubles[:2], doubles[2:]
    periods: dict[str, tuple[date, date]] = {}
    for p in overlapping:  # second SSID enrolled for the whole year alongside the first
        periods[p.ssids[1]] = (date(2021, 9, 1), date(2022, 6, 10))
    for p in sequential:  # left in January, enrolled under a new SSID a week later
        periods[p.ssids[0]] = (YEAR[0], date(2022, 1, 20))
        # a start a little before the exit is a reporting lag, within the tolerance
        lag = OVERLAP_TOLERANCE_DAYS // 2
        periods[p.ssids[1]] = (date(2022, 1, 20) - timedelta(days=lag), YEAR[1])
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, people)
    _add_enrolment_dates(con, periods)
    settings = Settings(home=tmp_path, review_lower_threshold=0.01)
    linkage.run_annual_link(con, settings=settings, run_id="y1", runs_dir=tmp_path / "runs")

    ids = {(a, b, c): d for a, b, c, d in con.execute(
        "SELECT source_system, partner_org, source_person_id, person_id FROM mdm.crosswalk"
    ).fetchall()}
    for p in overlapping:
        first, second = (ids[("calpads", p.lea, s)] for s in p.ssids)
        assert first != second, f"student {p.pid}: overlapping SSIDs merged"
    for p in sequential:
        first, second = (ids[("calpads", p.lea, s)] for s in p.ssids)
        assert first == second, f"student {p.pid}: sequential SSIDs not merged"
    refused = con.execute(
        "SELECT count(*) FROM mdm.review_queue WHERE reason = 'cannot_link'").fetchone()
    assert refused is not None and refused[0] >= len(overlapping)
    con.close()


def test_without_enrolment_dates_no_constraint(tmp_path: Path) -> None:
    people = make_population(60, seed=4, twins=0, second_ssid=2)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, people)  # SENR without enrolment dates (an older layout)
    edges = pa.table({"unit_id_l": [1], "unit_id_r": [2], "match_probability": [0.99]})
    assert enrolment_conflicts(con, confident_graph(2, edges, 0.9)) == []
    con.close()


def _senr_rows(con: duckdb.DuckDBPyConnection,
               rows: Sequence[tuple[str, str, str, date, date | None]]) -> None:
    """staging.calpads_senr from (lea, ssid, academic year, start, exit) rows, and a
    mdm.identities with one CALPADS unit per (lea, ssid) in order of appearance."""
    table = pa.table({
        "reporting_lea": [r[0] for r in rows], "ssid": [r[1] for r in rows],
        "academic_year_id": [r[2] for r in rows], "enrollment_status_code": ["10"] * len(rows),
        "enrollment_start_date": pa.array([r[3] for r in rows], pa.date32()),
        "enrollment_exit_date": pa.array([r[4] for r in rows], pa.date32()),
    })
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.execute("CREATE SCHEMA IF NOT EXISTS mdm")
    con.register("_rows", table)
    con.execute("CREATE OR REPLACE TABLE staging.calpads_senr AS FROM _rows")
    con.unregister("_rows")
    units = list(dict.fromkeys((r[0], r[1]) for r in rows))
    con.execute("CREATE OR REPLACE TABLE mdm.identities (unit_id BIGINT, source_system VARCHAR, "
                "partner_org VARCHAR, source_person_id VARCHAR)")
    con.executemany("INSERT INTO mdm.identities VALUES (?, 'calpads', ?, ?)",
                    [(i + 1, lea, ssid) for i, (lea, ssid) in enumerate(units)])


def _conflicts(con: duckdb.DuckDBPyConnection, units: int) -> list[tuple[int, int]]:
    edges = pa.table({"unit_id_l": list(range(1, units)), "unit_id_r": list(range(2, units + 1)),
                      "match_probability": [0.99] * (units - 1)})
    return enrolment_conflicts(con, confident_graph(units, edges, 0.9))


def test_a_missing_exit_is_not_proof_of_two_students() -> None:
    con = duckdb.connect()
    # a mover never exited by LEA A (2021-22), at LEA B from the next year: one student
    _senr_rows(con, [("A", "1111111111", "2021-2022", date(2021, 8, 16), None),
                     ("B", "2222222222", "2022-2023", date(2022, 8, 15), None)])
    assert _conflicts(con, 2) == []
    spans = con.execute(
        f"SELECT partner_org, enrol_start, enrol_end, enrol_proven_end FROM "
        f"({enrolment_span_columns(con).keyed_select}) ORDER BY 1").fetchall()
    assert spans == [("A", date(2021, 8, 16), date(2022, 6, 30), date(2021, 8, 16)),
                     ("B", date(2022, 8, 15), date(2023, 6, 30), date(2022, 8, 15))]
    # a mid-year mover never exited: the inferred year end overlaps, but proves nothing
    _senr_rows(con, [("A", "1111111111", "2021-2022", date(2021, 8, 16), None),
                     ("B", "2222222222", "2021-2022", date(2022, 1, 10), None)])
    assert _conflicts(con, 2) == []
    con.close()


def test_a_later_file_proves_the_enrolment_went_on() -> None:
    con = duckdb.connect()
    # two students at two LEAs, neither ever exited, both in both years' files
    rows = [(lea, ssid, year, date(2021, 8, 16), None)
            for lea, ssid in (("A", "1111111111"), ("B", "2222222222"))
            for year in ("2021-2022", "2022-2023")]
    _senr_rows(con, rows)
    assert _conflicts(con, 2) == [(1, 2)]
    con.close()


def test_late_exits_and_impossible_exits() -> None:
    con = duckdb.connect()
    # the old LEA recorded the exit 80 days after the new LEA's start: a late exit, one student
    _senr_rows(con, [("A", "1111111111", "2021-2022", date(2021, 8, 16), date(2022, 3, 31)),
                     ("B", "2222222222", "2021-2022", date(2022, 1, 10), date(2022, 6, 10))])
    assert _conflicts(con, 2) == []
    # ... 150 days after: enrolled side by side, two students
    _senr_rows(con, [("A", "1111111111", "2021-2022", date(2021, 8, 16), date(2022, 6, 9)),
                     ("B", "2222222222", "2021-2022", date(2022, 1, 10), date(2022, 6, 10))])
    assert _conflicts(con, 2) == [(1, 2)]
    # an exit before the start, or years after the file's year, is no exit at all
    for bad in (date(2021, 8, 1), date(2099, 12, 31)):
        _senr_rows(con, [("A", "1111111111", "2021-2022", date(2021, 8, 16), bad),
                         ("B", "2222222222", "2021-2022", date(2021, 8, 20), date(2022, 6, 10))])
        assert _conflicts(con, 2) == [], bad
    con.close()


def test_short_enrolments_side_by_side_at_one_lea_are_two_students() -> None:
    con = duckdb.connect()
    # twins enrolled together who both left after three months: two students
    _senr_rows(con, [("A", "1111111111", "2021-2022", date(2021, 8, 14), date(2021, 11, 18)),
                     ("A", "2222222222", "2021-2022", date(2021, 8, 14), date(2021, 11, 18))])
    assert _conflicts(con, 2) == [(1, 2)]
    # a summer mover the old LEA rolled over into the new year and exited two months late: the
    # same first week, but at another LEA, so a late exit (one student)
    _senr_rows(con, [("A", "1111111111", "2022-2023", date(2022, 8, 10), date(2022, 10, 20)),
                     ("B", "2222222222", "2022-2023", date(2022, 8, 15), date(2023, 6, 10))])
    assert _conflicts(con, 2) == []
    con.close()
