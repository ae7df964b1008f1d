"""One cohort filter -> SQL, with one validation, for both request builders (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from core.cohort import cohort_where
from core.errors import InputRejected
from core.requests import CohortFilter


@pytest.fixture()
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE student_year AS SELECT * FROM (VALUES "
        "('P1', '2022-23', '1100001', '09', true), ('P2', '2022-23', '1100002', '10', false), "
        "('P3', '2023-24', '1100001', '09', false), ('P4', '2023-24', '1100001', '09', true)"
        ") t(person_id, academic_year, reporting_lea, grade_level, homeless)"
    )
    yield connection
    connection.close()


def persons(con: duckdb.DuckDBPyConnection, cohort: CohortFilter) -> list[str]:
    where, params = cohort_where("R1", cohort)
    rows = con.execute(f"SELECT person_id FROM student_year WHERE {where} ORDER BY 1", params)
    return [r[0] for r in rows.fetchall()]


def test_empty_cohort_is_everyone(con: duckdb.DuckDBPyConnection) -> None:
    assert cohort_where("R1", CohortFilter()) == ("TRUE", {})
    assert persons(con, CohortFilter()) == ["P1", "P2", "P3", "P4"]


def test_lists_and_subgroups_combine(con: duckdb.DuckDBPyConnection) -> None:
    assert persons(con, CohortFilter(academic_years=["2023-24"])) == ["P3", "P4"]
    assert persons(con, CohortFilter(reporting_leas=["1100001"], grade_levels=["09"],
                                     subgroup_equals={"homeless": True})) == ["P1", "P4"]


def test_values_are_parameters_not_sql(con: duckdb.DuckDBPyConnection) -> None:
    hostile = "x') OR TRUE --"
    assert persons(con, CohortFilter(reporting_leas=[hostile])) == []
    where, params = cohort_where("R1", CohortFilter(reporting_leas=[hostile]))
    assert hostile not in where and params["reporting_lea"] == [hostile]


@pytest.mark.parametrize("name", ["person_id", "first_name", 'homeless" OR TRUE --'])
def test_a_filter_on_no_filterable_variable_is_rejected(name: str) -> None:
    with pytest.raises(InputRejected, match="cohort.subgroup_equals") as caught:
        cohort_where("R7", CohortFilter(subgroup_equals={name: "x"}))
    assert "request R7" in str(caught.value)
