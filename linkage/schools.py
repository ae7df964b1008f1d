"""Schools attended: CALPADS enrolments and the school a CCGI account reports.

A CCGI account names the student's high school (``school_cds``, the 14-digit CDS code); a
CALPADS unit's SENR records say where the student was enrolled (``school_of_attendance``).
Schools are compared on the **7-digit school code**, the last seven digits of the CDS code
and unique statewide: the first seven (county + district) are not the reporting LEA for a
charter school, which reports as its own LEA (its code is its school code) while its CDS
code carries the authorising district (joining reporting LEA and school, as this module did
until 2026-11-30, made ``19753091975309`` of the charter that CCGI calls ``19642121975309``,
and a third of the CCGI accounts without an SSID that the link missed at 50k were such).
School code ``0000000`` (the district office, no school) and ``0000001`` (nonpublic) are not
schools and are left out. Two records naming a school in common is
evidence for one student, and it is the only identity evidence beyond name and birth date
that CCGI carries: it lifts a CALPADS / CCGI pair whose surnames differ in form (one of two
surnames kept, a joined compound) over the threshold. A college record names the high
school last attended when the college keeps CCCApply's high-school fields
(``high_school_cds``, self-reported): for a college record without an SSID and a common name,
at the state's size, it is the evidence names and a birth date cannot give. A record that
names no school is neutral (NULL): absence is not evidence. So is a pair of two CALPADS
units: one student's two SSIDs come from a move to another LEA, so their schools differ by
nature.

A unit gets ``enrolled_schools`` (CALPADS) or ``reported_schools`` (CCGI, college), never
both.
"""

from __future__ import annotations

import duckdb

from core import tables
from core.calpads import cds_school_sql, school_code_sql
from core.duck import columns_of, table_exists
from linkage.schema import IdentityColumns


def _school_selects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SELECTs of (source_system, partner_org, source_person_id, school) from staging."""
    selects = []
    senr = tables.calpads_staging("SENR")
    if table_exists(con, senr) and {"reporting_lea", "ssid", "school_of_attendance"} <= (
            columns_of(con, senr)):
        selects.append(
            f"SELECT 'calpads' AS source_system, reporting_lea AS partner_org, "
            f"ssid AS source_person_id, {school_code_sql('school_of_attendance')} AS school "
            f"FROM {senr}")
    # a CDS code a record names: the school code is its last seven of fourteen digits
    named = (("ccgi", "'CCGI'", "ccgi_account_id", "ccgi_activity", "school_cds"),
             ("college", "college_code", "student_id", "college_students", "high_school_cds"))
    for source, partner, person_id, kind, cds in named:
        table = tables.csv_staging(kind)
        if table_exists(con, table) and cds in columns_of(con, table):
            selects.append(
                f"SELECT '{source}' AS source_system, {partner} AS partner_org, "
                f"{person_id} AS source_person_id, {cds_school_sql(cds)} AS school "
                f"FROM {table}")
    return selects


def school_columns(con: duckdb.DuckDBPyConnection) -> IdentityColumns:
    """``enrolled_schools`` / ``reported_schools``: sorted distinct 7-digit school codes, NULL
    when none."""
    columns = {"enrolled_schools": "VARCHAR[]", "reported_schools": "VARCHAR[]"}
    selects = _school_selects(con)
    if not selects:
        return IdentityColumns(columns, None)
    return IdentityColumns(columns, f"""
        SELECT source_system, partner_org, source_person_id,
               CASE WHEN source_system = 'calpads' THEN schools END AS enrolled_schools,
               CASE WHEN source_system <> 'calpads' THEN schools END AS reported_schools
        FROM (SELECT source_system, trim(partner_org) AS partner_org,
                     trim(source_person_id) AS source_person_id,
                     list_sort(list(DISTINCT school)) AS schools
              FROM ({' UNION ALL '.join(selects)})
              WHERE school IS NOT NULL
              GROUP BY ALL)""")
