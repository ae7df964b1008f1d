"""The linker degrades gracefully: missing or late enrolment exits are not evidence of two
students, while proven concurrent enrolments still are, and twins stay apart."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import linkage
from core.settings import Settings
from tests.link_fixtures import LEAS, Person, make_population, write_staging

YEARS = ("2021-2022", "2022-2023")
FIRST_DAY = {"2021-2022": date(2021, 8, 16), "2022-2023": date(2022, 8, 15)}


def _other_lea(lea: str) -> str:
    return LEAS[(LEAS.index(lea) + 1) % len(LEAS)]


def _population(seed: int) -> tuple[list[Person], list[tuple[Person, Person]]]:
    """People with twins and two-SSID students, plus namesake pairs: two different students
    with the same names, birth date and gender at two LEAs (only their enrolments tell them
    apart)."""
    people = make_population(160, seed=seed, twins=3, second_ssid=6)
    namesakes = []
    for i in range(4):
        p = people[20 + i]
        twin = dataclasses.replace(
            p, pid=len(people), ssids=[f"{3_000_000_000 + len(people):010d}"],
            lea=_other_lea(p.lea), college=False, ccgi=False, twin_of=None)
        people.append(twin)
        namesakes.append((p, twin))
    return people, namesakes


def _senr(people: list[Person], rows: list[tuple[str, str, str, date, date | None]]
          ) -> pa.Table:
    by_ssid = {s: p for p in people for s in p.ssids}
    cols: dict[str, list[object]] = {k: [] for k in (
        "reporting_lea", "ssid", "first_name", "middle_name", "last_name", "birth_date",
        "gender", "academic_year_id", "enrollment_status_code", "enrollment_start_date",
        "enrollment_exit_date", "file_id", "line_no")}
    for n, (lea, ssid, year, start, exit_) in enumerate(rows, start=1):
        p = by_ssid[ssid]
        for k, v in zip(cols, [lea, ssid, p.first.title(), p.middle.title(), p.last, p.dob,
                               p.gender, year, "10", start, exit_, f"senr-{lea}-{year}", n],
                        strict=True):
            cols[k].append(v)
    table = pa.table(cols)
    exits = pa.array(cols["enrollment_exit_date"], pa.date32())  # all NULL is still a date
    return table.set_column(table.schema.get_field_index("enrollment_exit_date"),
                            "enrollment_exit_date", exits)


def _link(tmp_path: Path, people: list[Person],
          rows: list[tuple[str, str, str, date, date | None]], moved: dict[str, str]
          ) -> dict[tuple[str, str, str], str]:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, people)
    for ssid, lea in moved.items():  # the second SSID was minted by the LEA moved to
        con.execute("UPDATE staging.calpads_sinf SET reporting_lea = ? WHERE ssid = ?",
                    [lea, ssid])
    con.register("_senr", _senr(people, rows))
    con.execute("CREATE OR REPLACE TABLE staging.calpads_senr AS FROM _senr")
    con.unregister("_senr")
    settings = Settings(home=tmp_path, review_lower_threshold=0.01)
    linkage.run_annual_link(con, settings=settings, run_id="r1", runs_dir=tmp_path / "runs")
    ids = {(a, b, c): d for a, b, c, d in con.execute(
        "SELECT source_system, partner_org, source_person_id, person_id FROM mdm.crosswalk"
    ).fetchall()}
    con.close()
    return ids


def _check(ids: dict[tuple[str, str, str], str], people: list[Person],
           namesakes: list[tuple[Person, Person]], moved: dict[str, str]) -> None:
    def unit(p: Person, ssid: str) -> tuple[str, str, str]:
        return ("calpads", moved.get(ssid, p.lea), ssid)

    doubles = [p for p in people if len(p.ssids) > 1]
    split = [p.pid for p in doubles if ids[unit(p, p.ssids[0])] != ids[unit(p, p.ssids[1])]]
    assert not split, f"two-SSID students split in two: {split}"
    for p in people:
        if p.twin_of is not None:
            other = people[p.twin_of]
            assert ids[unit(p, p.ssids[0])] != ids[unit(other, other.ssids[0])], "twins merged"
    for a, b in namesakes:
        assert ids[unit(a, a.ssids[0])] != ids[unit(b, b.ssids[0])], "namesakes merged"


@pytest.mark.slow
def test_no_exit_dates_second_ssid_across_leas_in_consecutive_years(tmp_path: Path) -> None:
    """Continuing students never exited at year end. A student with two SSIDs left LEA A after
    2021-22 (no exit recorded) and enrolled at LEA B in 2022-23 under a new SSID: one student.
    Namesakes enrolled at two LEAs in both years (a later file shows each of them) stay two.
    Before the fix, the missing exit read as 'enrolled until 9999' and split the student."""
    people, namesakes = _population(seed=5)
    rows: list[tuple[str, str, str, date, date | None]] = []
    moved: dict[str, str] = {}
    for p in people:
        if len(p.ssids) > 1:
            moved[p.ssids[1]] = _other_lea(p.lea)
            rows.append((p.lea, p.ssids[0], YEARS[0], FIRST_DAY[YEARS[0]], None))
            rows.append((moved[p.ssids[1]], p.ssids[1], YEARS[1], FIRST_DAY[YEARS[1]], None))
        else:
            for year in YEARS:  # a continuing enrolment, carried with its first start date
                rows.append((p.lea, p.ssids[0], year, FIRST_DAY[YEARS[0]], None))
    _check(_link(tmp_path, people, rows, moved), people, namesakes, moved)


@pytest.mark.slow
def test_exit_recorded_months_after_the_next_start(tmp_path: Path) -> None:
    """A mid-year move whose exit the old LEA recorded two to three months after the new LEA's
    start (exits recorded late): one student, not two enrolled side by side."""
    people, namesakes = _population(seed=6)
    rows: list[tuple[str, str, str, date, date | None]] = []
    moved: dict[str, str] = {}
    year_end = date(2022, 6, 10)
    for k, p in enumerate(q for q in people if len(q.ssids) > 1):
        moved[p.ssids[1]] = _other_lea(p.lea)
        new_start = date(2022, 1, 10) + timedelta(days=7 * k)
        rows.append((p.lea, p.ssids[0], YEARS[0], FIRST_DAY[YEARS[0]],
                     new_start + timedelta(days=60 + 6 * k)))
        rows.append((moved[p.ssids[1]], p.ssids[1], YEARS[0], new_start, year_end))
    for p in people:
        if len(p.ssids) == 1:
            rows.append((p.lea, p.ssids[0], YEARS[0], FIRST_DAY[YEARS[0]], year_end))
    _check(_link(tmp_path, people, rows, moved), people, namesakes, moved)
