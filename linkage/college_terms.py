"""When a college record's student first enrolled: ``college_start``, from the COMIS term id.

A college student file names the term the student first enrolled in (``first_term_id``,
GI03 form ``YYT``: YY the year the term began, T the term code). With a birth date on the
other record of a pair it tells how old that person would have been at the first college
term; with a CALPADS unit's enrolment start it tells how old a birth date makes the student
in school. Both are evidence the model weighs (``age_consistency`` in linkage/model.py), the
only age evidence a college record without a birth date carries.

Missing evidence: a term id that is not ``YYT`` with a known term code gives NULL, and a
NULL takes part in no comparison (neutral).
"""

from __future__ import annotations

import duckdb

from core import tables
from core.duck import columns_of, table_exists
from linkage.schema import IdentityColumns

# Term code -> the month the term begins (COMIS: 1/2 winter, 3/4 spring, 5/6 summer, 7/8 fall;
# semester and quarter calendars).
TERM_MONTHS = {"1": 1, "2": 1, "3": 1, "4": 4, "5": 6, "6": 6, "7": 8, "8": 9}


def _term_date(column: str) -> str:
    """SQL: the first day of the month a ``YYT`` term begins; NULL when not a term id. Two-digit
    years below 70 are 20YY (COMIS term ids began in the 1990s)."""
    cases = " ".join(f"WHEN '{code}' THEN {month}" for code, month in TERM_MONTHS.items())
    t = f"trim(CAST({column} AS VARCHAR))"
    return (f"CASE WHEN regexp_full_match({t}, '[0-9]{{3}}') THEN make_date("
            f"CAST(substr({t}, 1, 2) AS INTEGER) + CASE WHEN CAST(substr({t}, 1, 2) AS INTEGER)"
            f" < 70 THEN 2000 ELSE 1900 END, CASE substr({t}, 3, 1) {cases} END, 1) END")


def college_start_columns(con: duckdb.DuckDBPyConnection) -> IdentityColumns:
    """``college_start``: the earliest first term a college unit's student files name."""
    columns = {"college_start": "DATE"}
    table = tables.csv_staging("college_students")
    if not table_exists(con, table) or "first_term_id" not in columns_of(con, table):
        return IdentityColumns(columns, None)
    return IdentityColumns(columns, f"""
        SELECT 'college' AS source_system, trim(CAST(college_code AS VARCHAR)) AS partner_org,
               trim(CAST(student_id AS VARCHAR)) AS source_person_id,
               min({_term_date('first_term_id')}) AS college_start
        FROM {table} GROUP BY ALL""")
