"""The enrolment rule end to end: two SSIDs with the same name and birth date are two students
when their primary enrolments overlap, one student when one enrolment follows the other."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from test_link_fixtures import make_population, write_staging

import linkage
from core.settings import Settings
from linkage.enrolment import OVERLAP_TOLERANCE_DAYS, enrolment_conflicts

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
    assert enrolment_conflicts(con, 2, edges, 0.9) == []
    con.close()
