"""Shared helpers for the deidentify tests: keys, a synthetic analytics.student_year, requests.

The synthetic rows are made in DuckDB from hashes of the row number (deterministic, no data
files); they describe no one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from core.catalog import VARIABLES
from core.keys import KeyProvider, create_master_key
from core.requests import ApprovedRequest, CohortFilter, RequestKind

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_keys(root: Path) -> KeyProvider:
    create_master_key(root / "master.key")
    return KeyProvider(root / "master.key", root / "keyring.json")


def student_year_sql(persons: int, years: int = 3, seed: int = 7) -> str:
    """SQL that creates analytics.student_year with the catalog's columns and types."""
    h = f"CAST(hash(range * 1000003 + {seed}) // 2 AS BIGINT)"
    # Every BOOLEAN catalog variable gets its own deterministic rate (catalog may grow).
    flags = ",\n           ".join(
        f"(hash(h, y.range, {n}) % {3 + n % 5} = 0) AS {v.name}"
        for n, v in enumerate(v for v in VARIABLES if v.dtype == "BOOLEAN")
    )
    return f"""
    CREATE SCHEMA IF NOT EXISTS analytics;
    CREATE OR REPLACE TABLE analytics.student_year AS
    WITH p AS (
        SELECT range, {h} AS h FROM range({persons})
    ), base AS (
        SELECT 'P' || lpad(CAST(range AS VARCHAR), 9, '0') AS person_id,
               h,
               CAST(10 + h % 4 AS VARCHAR) AS county_code,
               CAST(h // 7 % 5 AS INTEGER) AS district,
               CAST(h // 41 % 4 AS INTEGER) AS school,
               CAST(2006 + h // 211 % 4 AS INTEGER) AS birth_year,
               ['F', 'M', 'F', 'M', 'X'][1 + h // 13 % 5] AS gender,
               ['hispanic', 'white', 'asian', 'black', 'filipino', 'other'][1 + h // 3 % 6]
                   AS race_ethnicity
        FROM p
    )
    SELECT person_id,
           CAST(2020 + y.range AS VARCHAR) || '-' || CAST(21 + y.range AS VARCHAR)
               AS academic_year,
           county_code || lpad(CAST(district AS VARCHAR), 5, '0') AS reporting_lea,
           county_code,
           lpad(CAST(1000000 + CAST(county_code AS INTEGER) * 1000 + district * 10 + school
                AS VARCHAR), 7, '0') AS school_code,
           lpad(CAST(least(9 + y.range + (h // 1009 % 2), 12) AS VARCHAR), 2, '0')
               AS grade_level,
           birth_year,
           gender,
           race_ethnicity,
           {flags}
    FROM base, range({years}) AS y
    """


def make_student_year(con: duckdb.DuckDBPyConnection, persons: int, years: int = 3) -> None:
    con.execute(student_year_sql(persons, years))
    columns = {r[0]: r[1] for r in con.execute("DESCRIBE analytics.student_year").fetchall()}
    expected = {v.name: v.dtype for v in VARIABLES}
    assert columns == expected, (columns, expected)


def request(
    request_id: str = "R-001",
    variables: list[str] | None = None,
    *,
    kind: RequestKind = RequestKind.INDIVIDUAL,
    cohort: CohortFilter | None = None,
    expires_at: datetime | None = None,
) -> ApprovedRequest:
    return ApprovedRequest(
        request_id=request_id,
        kind=kind,
        title="CTE pathways and college enrolment",
        purpose="test",
        variables=variables
        or ["person_id", "academic_year", "school_code", "grade_level", "birth_year",
            "gender", "race_ethnicity", "cte_participant", "cc_enrolled_within_1yr"],
        cohort=cohort or CohortFilter(),
        expires_at=expires_at or NOW + timedelta(days=30),
        requester="researcher@example.edu",
    )
