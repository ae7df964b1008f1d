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
from linkage.schema import table_exists

CDS_DIGITS = 14


def _columns(con: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    schema, name = qualified.split(".", 1)
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
        "AND table_name = ? AND table_catalog = current_database()", [schema, name]
    ).fetchall()}


def _school_selects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SELECTs of (source_system, partner_org, source_person_id, cds) from staging."""
    selects = []
    senr = tables.calpads_staging("SENR")
    if table_exists(con, senr) and {"reporting_lea", "ssid", "school_of_attendance"} <= (
            _columns(con, senr)):
        selects.append(
            f"SELECT 'calpads' AS source_system, reporting_lea AS partner_org, "
            f"ssid AS source_person_id, reporting_lea || school_of_attendance AS cds "
            f"FROM {senr}")
    ccgi = tables.csv_staging("ccgi_activity")
    if table_exists(con, ccgi) and "school_cds" in _columns(con, ccgi):
        selects.append(
            f"SELECT 'ccgi' AS source_system, 'CCGI' AS partner_org, "
            f"ccgi_account_id AS source_person_id, school_cds AS cds FROM {ccgi}")
    return selects


def add_schools(con: duckdb.DuckDBPyConnection) -> None:
    """Add ``enrolled_schools`` / ``reported_schools`` (sorted distinct CDS codes, NULL when
    none) to ``mdm.identities``."""
    for column in ("enrolled_schools", "reported_schools"):
        con.execute(
            f"ALTER TABLE {tables.IDENTITIES} ADD COLUMN IF NOT EXISTS {column} VARCHAR[]")
    selects = _school_selects(con)
    if not selects:
        return
    con.execute(f"""
        UPDATE {tables.IDENTITIES} i
        SET enrolled_schools = CASE WHEN s.source_system = 'calpads' THEN s.schools END,
            reported_schools = CASE WHEN s.source_system = 'ccgi' THEN s.schools END
        FROM (SELECT source_system, trim(partner_org) AS partner_org,
                     trim(source_person_id) AS source_person_id,
                     list_sort(list(DISTINCT trim(cds))) AS schools
              FROM ({' UNION ALL '.join(selects)})
              WHERE length(trim(cds)) = {CDS_DIGITS}
              GROUP BY ALL) s
        WHERE i.source_system = s.source_system AND i.partner_org = s.partner_org
          AND i.source_person_id = s.source_person_id
    """)
