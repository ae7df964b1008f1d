"""The identifier scan catches planted identifiers (by column name and by value)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analytics import build_outcomes, no_identifiers, scan_for_identifiers
from core import catalog
from core.errors import InternalError
from tests.analytics_fixtures import build_world


@pytest.fixture()
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "wh.duckdb"))
    build_world(connection)
    build_outcomes(connection)
    yield connection
    connection.close()


def plant(con: duckdb.DuckDBPyConnection, column: str, dtype: str, value: object) -> None:
    con.execute(f"CREATE OR REPLACE TABLE analytics.planted (person_id VARCHAR, {column} {dtype})")
    con.execute("INSERT INTO analytics.planted VALUES ('P1', ?), ('P2', NULL)", [value])


def rules(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return {(f.column, f.rule) for f in scan_for_identifiers(con)}


def test_clean_outcomes_pass(con: duckdb.DuckDBPyConnection) -> None:
    assert scan_for_identifiers(con) == []
    result = no_identifiers(con)
    assert result.passed and result.metadata["count"] == 0


@pytest.mark.parametrize(
    ("column", "rule"),
    [("first_name", "column_name"), ("student_dob", "column_birth_date"),
     ("birth_date", "column_birth_date"), ("ssid", "column_ssid"), ("ssn", "column_ssn"),
     ("home_address", "column_address"), ("zip_code", "column_zip"),
     ("local_student_id", "column_local_id"), ("ccgi_account_id", "column_local_id")],
)
def test_identifier_column_names_are_caught(
    con: duckdb.DuckDBPyConnection, column: str, rule: str
) -> None:
    plant(con, column, "VARCHAR", "x")
    assert (column, rule) in rules(con)


@pytest.mark.parametrize(
    ("dtype", "value", "rule"),
    [("VARCHAR", "1000000001", "ssid_like"), ("BIGINT", 1234567890, "ssid_like"),
     ("VARCHAR", "123-45-6789", "ssn_like"), ("VARCHAR", "20050304", "date_ccyymmdd"),
     ("VARCHAR", "2005-03-04", "date_iso"), ("VARCHAR", "Nguyen", "value_staging_name"),
     ("VARCHAR", " maria ", "value_staging_name")],
)
def test_identifier_values_are_caught(
    con: duckdb.DuckDBPyConnection, dtype: str, value: object, rule: str
) -> None:
    plant(con, "notes", dtype, value)
    assert ("notes", rule) in rules(con)


def test_staging_ids_are_caught(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO staging.college_students (college_code, student_id, last_name)"
                " VALUES ('111', 'C00456789X', 'Ortiz')")
    plant(con, "notes", "VARCHAR", "c00456789x")
    assert ("notes", "value_staging_id") in rules(con)


def test_full_date_columns_are_caught(con: duckdb.DuckDBPyConnection) -> None:
    plant(con, "exit_day", "DATE", "2023-06-09")
    assert ("exit_day", "full_date_column") in rules(con)


def test_category_values_are_not_names(con: duckdb.DuckDBPyConnection) -> None:
    # staging holds the surname "White"; the race group value "white" is not an identifier
    assert con.execute(
        "SELECT count(*) FROM staging.calpads_senr WHERE last_name = 'White'").fetchone()[0] > 0
    plant(con, "race_group", "VARCHAR", "white")
    assert rules(con) == set()


def test_findings_never_carry_the_value(con: duckdb.DuckDBPyConnection) -> None:
    plant(con, "notes", "VARCHAR", "1000000001")
    described = " ".join(f.describe() for f in scan_for_identifiers(con))
    assert "1000000001" not in described


def test_build_fails_and_rolls_back_when_an_identifier_appears(
    con: duckdb.DuckDBPyConnection,
) -> None:
    before = con.execute(f"SELECT count(*) FROM {catalog.STUDENT_YEAR}").fetchone()
    plant(con, "notes", "VARCHAR", "1000000001")
    con.execute("DELETE FROM staging.calpads_senr WHERE ssid = '1000000002'")
    with pytest.raises(InternalError, match="identifier check failed"):
        build_outcomes(con)
    # the previous student_year is still there, unchanged
    assert con.execute(f"SELECT count(*) FROM {catalog.STUDENT_YEAR}").fetchone() == before
    assert not no_identifiers(con).passed
