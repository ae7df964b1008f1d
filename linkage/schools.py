"""Schools attended: CALPADS enrolments and the school a CCGI account reports.

A CCGI account names the student's high school (``school_cds``, the 14-digit CDS code); a
CALPADS unit's SENR records say where the student was enrolled (reporting LEA + school of
attendance, which together make the CDS code). Two records naming a school in common is
evidence for one student, and it is the only identity evidence beyond name and birth date
that CCGI carries: it lifts a CALPADS / CCGI pair whose surnames differ in form (one of two
surnames kept, a joined compound) over the threshold. College records name no school, so
for them the comparison is neutral (NULL). So is a pair of two CALPADS units: one student's
two SSIDs come from a move to another LEA, so their schools differ by nature.

A unit gets ``enrolled_schools`` (CALPADS) or ``reported_schools`` (CCGI), never both.
"""

from __future__ import annotations

import duckdb

from core import tables
from core.duck import columns_of, table_exists
from linkage.schema import IdentityColumns

CDS_DIGITS = 14


def _school_selects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SELECTs of (source_system, partner_org, source_person_id, cds) from staging."""
    selects = []
    senr = tables.calpads_staging("SENR")
    if table_exists(con, senr) and {"reporting_lea", "ssid", "school_of_attendance"} <= (
            columns_of(con, senr)):
        selects.append(
            f"SELECT 'calpads' AS source_system, reporting_lea AS partner_org, "
            f"ssid AS source_person_id, reporting_lea || school_of_attendance AS cds "
            f"FROM {senr}")
    ccgi = tables.csv_staging("ccgi_activity")
    if table_exists(con, ccgi) and "school_cds" in columns_of(con, ccgi):
        selects.append(
            f"SELECT 'ccgi' AS source_system, 'CCGI' AS partner_org, "
            f"ccgi_account_id AS source_person_id, school_cds AS cds FROM {ccgi}")
    return selects


def school_columns(con: duckdb.DuckDBPyConnection) -> IdentityColumns:
    """``enrolled_schools`` / ``reported_schools``: sorted distinct CDS codes, NULL when none."""
    columns = {"enrolled_schools": "VARCHAR[]", "reported_schools": "VARCHAR[]"}
    selects = _school_selects(con)
    if not selects:
        return IdentityColumns(columns, None)
    return IdentityColumns(columns, f"""
        SELECT source_system, partner_org, source_person_id,
               CASE WHEN source_system = 'calpads' THEN schools END AS enrolled_schools,
               CASE WHEN source_system = 'ccgi' THEN schools END AS reported_schools
        FROM (SELECT source_system, trim(partner_org) AS partner_org,
                     trim(source_person_id) AS source_person_id,
                     list_sort(list(DISTINCT trim(cds))) AS schools
              FROM ({' UNION ALL '.join(selects)})
              WHERE length(trim(cds)) = {CDS_DIGITS}
              GROUP BY ALL)""")
