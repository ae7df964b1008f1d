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
    return {(f.column, f.kind) for f in scan_for_identifiers(con)}


def evidence(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    return {(f.column, f.kind, f.evidence) for f in scan_for_identifiers(con)}


def test_clean_outcomes_pass(con: duckdb.DuckDBPyConnection) -> None:
    assert scan_for_identifiers(con) == []
    result = no_identifiers(con)
    assert result.passed and result.metadata["count"] == 0


@pytest.mark.parametrize(
    ("column", "rule"),
    [("first_name", "name"), ("student_dob", "dob"),
     ("birth_date", "dob"), ("ssid", "ssid"), ("ssn", "ssn"),
     ("home_address", "address"), ("zip_code", "zip"),
     ("local_student_id", "local_id"), ("ccgi_account_id", "local_id"),
     # flagged by the extract scanner before the rules were shared (issue 17)
     ("email", "contact"), ("LastName", "name"), ("addr1", "address")],
)
def test_identifier_column_names_are_caught(
    con: duckdb.DuckDBPyConnection, column: str, rule: str
) -> None:
    plant(con, column, "VARCHAR", "x")
    assert (column, rule) in rules(con)


@pytest.mark.parametrize(
    ("dtype", "value", "rule"),
    [("VARCHAR", "1000000001", "ssid"), ("BIGINT", 1234567890, "ssid"),
     ("VARCHAR", "123-45-6789", "ssn"), ("VARCHAR", "20050304", "dob"),
     ("VARCHAR", "2005-03-04", "dob"), ("VARCHAR", "Nguyen", "name"),
     ("VARCHAR", " maria ", "name"),
     # value rules shared with the extract scanner (one scanner)
     ("VARCHAR", "maria.g@example.com", "contact"), ("VARCHAR", "(916) 555-0142", "contact"),
     ("VARCHAR", "4417 Mission Creek Blvd", "address"), ("VARCHAR", "PO Box 12", "address"),
     ("VARCHAR", "95814", "zip"), ("VARCHAR", "3/17/2008", "dob")],
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
    assert ("notes", "local_id", "staging values") in evidence(con)


def test_full_date_columns_are_caught(con: duckdb.DuckDBPyConnection) -> None:
    plant(con, "exit_day", "DATE", "2023-06-09")
    assert ("exit_day", "dob", "column type") in evidence(con)


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
