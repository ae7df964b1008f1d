"""Outcome metrics on hand-built staging + crosswalk tables (people P1..P7, analytics_fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import build_outcomes
from analytics.outcomes import short_year_sql, term_start_sql
from core import catalog
from tests.analytics_fixtures import LEA1, LEA2, build_world


@pytest.fixture()
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "wh.duckdb"))
    build_world(connection)
    yield connection
    connection.close()


def rows(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, Any]]:
    result = con.execute(f"SELECT * FROM {catalog.STUDENT_YEAR}")
    names = [d[0] for d in result.description]
    out = {}
    for row in result.fetchall():
        record = dict(zip(names, row, strict=True))
        out[(record["person_id"], record["reporting_lea"])] = record
    return out


def test_columns_follow_the_catalog(con: duckdb.DuckDBPyConnection) -> None:
    build_outcomes(con)
    described = con.execute(f"DESCRIBE {catalog.STUDENT_YEAR}").fetchall()
    assert [(r[0], r[1]) for r in described] == [(v.name, v.dtype) for v in catalog.VARIABLES]


def test_person_with_every_outcome(con: duckdb.DuckDBPyConnection) -> None:
    build_outcomes(con)
    p1 = rows(con)[("P1", LEA1)]
    assert p1["academic_year"] == "2022-23"
    assert p1["county_code"] == "19"
    assert p1["birth_year"] == 2005
    assert p1["gender"] == "F"
    assert p1["race_ethnicity"] == "hispanic_or_latino"  # Hispanic indicator wins over race
    assert p1["socioeconomically_disadvantaged"] is True
    assert p1["homeless"] is False
    assert p1["english_learner"] is False  # reclassified (RFEP) before the year
    for metric in catalog.OUTCOMES:
        assert p1[metric] is True, metric


def test_calpads_only_person_has_false_partner_outcomes(con: duckdb.DuckDBPyConnection) -> None:
    build_outcomes(con)
    p2 = rows(con)[("P2", LEA1)]
    assert p2["race_ethnicity"] == "two_or_more"
    assert p2["homeless"] is True
    assert p2["english_learner"] is True
    assert p2["gender"] == "M"
    assert p2["grade_level"] == "11"
    assert p2["hs_leaver"] is False
    for metric in catalog.OUTCOMES:
        assert p2[metric] is False, metric


def test_near_misses_are_false(con: duckdb.DuckDBPyConnection) -> None:
    build_outcomes(con)
    p3 = rows(con)[("P3", LEA1)]
    assert p3["race_ethnicity"] == "black_or_african_american"
    assert p3["hs_leaver"] is True
    assert p3["hs_graduate"] is False  # completion 360, not 100
    assert p3["cte_participant"] is True
    assert p3["cte_completer"] is False  # no pathway completion year
    assert p3["ccgi_account"] is True
    assert p3["cccapply_submitted"] is False  # only started
    assert p3["fafsa_or_cadaa_completed"] is False  # submitted is not completed
    assert p3["uc_apply_submitted"] is False  # submitted after the year ended
    assert p3["ag_eligible"] is False  # latest status by year end is N
    assert p3["cc_enrolled_within_1yr"] is False  # before exit, or more than a year after
    assert p3["cc_cte_units_9plus"] is False
    assert p3["cc_award_earned"] is False  # award type O is neither degree nor certificate


def test_one_row_per_person_year_lea(con: duckdb.DuckDBPyConnection) -> None:
    summary = build_outcomes(con)
    found = rows(con)
    assert set(found) == {("P1", LEA1), ("P2", LEA1), ("P3", LEA1), ("P6", LEA1), ("P6", LEA2)}
    p6 = found[("P6", LEA1)]
    assert p6["school_code"] == "1964999"  # latest enrolment of the two SSIDs
    assert p6["gender"] == "X"
    assert p6["race_ethnicity"] == "not_reported"
    assert p6["socioeconomically_disadvantaged"] is False
    assert found[("P6", LEA2)]["socioeconomically_disadvantaged"] is True
    assert found[("P6", LEA2)]["county_code"] == "34"
    assert summary.rows == 5
    assert summary.persons == 4
    assert summary.persons_only_in_ccgi == 1  # P4
    assert summary.persons_only_in_college == 1  # P5
    assert summary.metric_counts["cte_participant"] == 2
    assert summary.academic_years == ["2022-23"]


def test_missing_partner_tables_mean_false(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    build_world(con)
    for table in ("ccgi_activity", "college_enrollments", "college_awards"):
        con.execute(f"DROP TABLE staging.{table}")
    build_outcomes(con)
    p1 = rows(con)[("P1", LEA1)]
    assert p1["hs_graduate"] is True
    assert p1["ccgi_account"] is False
    assert p1["cc_enrolled_within_1yr"] is False


@pytest.mark.parametrize(
    ("term_id", "expected"),
    [("237", "2023-08-15"), ("243", "2024-02-01"), ("235", "2023-06-15"),
     ("241", "2024-01-01"), ("997", "1999-08-15"), ("2X", None), ("", None)],
)
def test_term_id_to_start_date(term_id: str, expected: str | None) -> None:
    sql = term_start_sql(f"'{term_id}'")
    value = duckdb.sql(f"SELECT CAST({sql} AS VARCHAR)")
    assert value.fetchone() == (expected,)


@pytest.mark.parametrize(("year_id", "short"), [("2022-2023", "2022-23"), ("2099-2100", "2099-00"),
                                               ("2022-23", "2022-23")])
def test_short_year(year_id: str, short: str) -> None:
    assert duckdb.sql(f"SELECT {short_year_sql(repr(year_id))}").fetchone() == (short,)


def test_docs_cover_every_metric_and_subgroup() -> None:
    from analytics.metrics import METRICS, POPULATIONS

    text = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    for name in [m.name for m in METRICS] + list(catalog.SUBGROUPS) + list(POPULATIONS):
        assert f"`{name}`" in text, name
