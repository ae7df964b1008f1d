"""A K-12 record's graduating class: ``class_of``, from the grade level it reports in a year.

A CALPADS enrolment (SENR) names its academic year and grade; a CCGI activity row names the
student's grade in its week. Grade 12 in the year ending in June 2024 is the class of 2024,
grade 10 that year the class of 2026. Two records naming one class is birth-cohort
evidence that survives a blank birth date: a CCGI account with no SSID and no birth date
and a common name (CARLOS GOMEZ) otherwise meets every CARLOS GOMEZ of CALPADS on names
alone. The comparison is ``class_of`` in linkage/model.py, weighed like any other: a
student held back a year, or a grade typed wrong, names another class, so "differs" has a
fixed m and is never a veto.

A unit keeps every class it names (sorted, distinct): a retained student names two, and a
CCGI log-in over the summer still shows the grade of the year just ended.

Missing evidence: college records name no grade, and neither do grades outside 1-12
(kindergarten, ungraded, adult); such a unit has NULL and the comparison is neutral for it.
"""

from __future__ import annotations

import duckdb

from core import tables
from core.duck import columns_of, table_exists
from linkage.schema import IdentityColumns

# A school year ends in June; a week from July on belongs to the year ending next June.
SCHOOL_YEAR_FIRST_MONTH = 7


def _grade(column: str) -> str:
    """SQL: grade 1-12 as an integer, NULL for anything else (KN, TK, UE, AD, blank)."""
    g = f"trim(CAST({column} AS VARCHAR))"
    return (f"CASE WHEN regexp_full_match({g}, '[0-9]{{1,2}}') AND CAST({g} AS INTEGER) "
            f"BETWEEN 1 AND 12 THEN CAST({g} AS INTEGER) END")


def _cohort_selects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SELECTs of (source_system, partner_org, source_person_id, class_of) from staging."""
    selects = []
    senr = tables.calpads_staging("SENR")
    if table_exists(con, senr) and {"reporting_lea", "ssid", "academic_year_id",
                                    "grade_level_code"} <= columns_of(con, senr):
        year = "trim(CAST(academic_year_id AS VARCHAR))"
        selects.append(
            "SELECT 'calpads' AS source_system, reporting_lea AS partner_org, "
            "ssid AS source_person_id, "
            f"CASE WHEN regexp_full_match({year}, '[0-9]{{4}}-[0-9]{{4}}') THEN "
            f"CAST(right({year}, 4) AS INTEGER) + 12 - {_grade('grade_level_code')} END "
            f"AS class_of FROM {senr}")
    ccgi = tables.csv_staging("ccgi_activity")
    if table_exists(con, ccgi) and {"grade_level", "activity_week"} <= columns_of(con, ccgi):
        selects.append(
            "SELECT 'ccgi' AS source_system, 'CCGI' AS partner_org, "
            "ccgi_account_id AS source_person_id, "
            f"year(activity_week) + CASE WHEN month(activity_week) >= "
            f"{SCHOOL_YEAR_FIRST_MONTH} THEN 1 ELSE 0 END + 12 - {_grade('grade_level')} "
            f"AS class_of FROM {ccgi}")
    return selects


def class_of_columns(con: duckdb.DuckDBPyConnection) -> IdentityColumns:
    """``class_of``: the sorted distinct graduating classes a K-12 unit's grades name, NULL
    when none."""
    columns = {"class_of": "INTEGER[]"}
    selects = _cohort_selects(con)
    if not selects:
        return IdentityColumns(columns, None)
    return IdentityColumns(columns, f"""
        SELECT source_system, trim(partner_org) AS partner_org,
               trim(source_person_id) AS source_person_id,
               list_sort(list(DISTINCT class_of)) AS class_of
        FROM ({' UNION ALL '.join(selects)})
        WHERE class_of IS NOT NULL
        GROUP BY ALL""")
