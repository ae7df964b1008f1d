"""Hand-built staging and crosswalk tables for the analytics tests (no other helper's code)."""

from __future__ import annotations

from typing import Any

import duckdb

from core import calpads, tables
from core.partner_formats import CSV_FORMATS

LEA1 = "1964733"  # county 19
LEA2 = "3467439"  # county 34


def _calpads_types(file_type: str) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for layout in calpads.LAYOUTS:
        if layout.file_type == file_type:
            for spec in layout.fields:
                kinds[spec.name] = "DATE" if spec.kind == "date" else "VARCHAR"
    return kinds


def create_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Every staging table with the contract's columns (ids VARCHAR, dates DATE) + provenance."""
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.execute("CREATE SCHEMA IF NOT EXISTS mdm")
    for file_type in calpads.FILE_TYPES:
        types = _calpads_types(file_type)
        cols = [f"{c} {types.get(c, 'DATE' if c.endswith('date') else 'VARCHAR')}"
                for c in calpads.staging_columns(file_type)]
        con.execute(
            f"CREATE TABLE {tables.calpads_staging(file_type)} "
            f"({', '.join(cols)}, file_id VARCHAR, line_no BIGINT)"
        )
    for fmt in CSV_FORMATS.values():
        cols = [f"{c} {'DATE' if c in fmt.date_columns else 'VARCHAR'}" for c in fmt.columns]
        con.execute(
            f"CREATE TABLE {tables.csv_staging(fmt.kind)} "
            f"({', '.join(cols)}, file_id VARCHAR, line_no BIGINT)"
        )
    con.execute(
        f"CREATE TABLE {tables.CROSSWALK} (source_system VARCHAR, partner_org VARCHAR, "
        "source_person_id VARCHAR, person_id VARCHAR, run_id VARCHAR)"
    )


_LINE = [0]


def add(con: duckdb.DuckDBPyConnection, table: str, **values: Any) -> None:
    _LINE[0] += 1
    values = {"file_id": "f1", "line_no": _LINE[0], **values}
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values.values()))


def link(con: duckdb.DuckDBPyConnection, system: str, org: str, source_id: str, pid: str) -> None:
    add_row = "INSERT INTO mdm.crosswalk VALUES (?, ?, ?, ?, 'run1')"
    con.execute(add_row, [system, org, source_id, pid])


def senr(con: duckdb.DuckDBPyConnection, lea: str, ssid: str, **kw: Any) -> None:
    row = {
        "record_type_code": "SENR", "reporting_lea": lea, "school_of_attendance": lea[:4] + "001",
        "academic_year_id": "2022-2023", "ssid": ssid, "first_name": "Maria",
        "last_name": "White", "birth_date": "2005-03-04", "gender": "F",
        "enrollment_start_date": "2022-08-15", "grade_level_code": "12",
    }
    row.update(kw)
    add(con, "staging.calpads_senr", **row)


def build_world(con: duckdb.DuckDBPyConnection) -> None:
    """People P1..P7 of tests/analytics/test_outcomes.py (each case documented there)."""
    create_staging(con)
    # P1: everything true
    link(con, "calpads", LEA1, "1000000001", "P1")
    senr(con, LEA1, "1000000001", enrollment_exit_date="2023-06-09",
         exit_reason_code="E230", completion_status_code="100")
    add(con, "staging.calpads_sinf", record_type_code="SINF", reporting_lea=LEA1,
        academic_year_id="2022-2023", ssid="1000000001", hispanic_indicator="Y",
        race_1="700", gender="F", birth_date="2005-03-04", first_name="Maria",
        last_name="White")
    add(con, "staging.calpads_sprg", record_type_code="SPRG", reporting_lea=LEA1,
        academic_year_id="2022-2023", ssid="1000000001", education_program_code="181")
    add(con, "staging.calpads_sela", record_type_code="SELA", reporting_lea=LEA1,
        academic_year_id="2014-2015", ssid="1000000001", ela_status_code="EL",
        ela_status_start_date="2014-08-20")
    add(con, "staging.calpads_sela", record_type_code="SELA", reporting_lea=LEA1,
        academic_year_id="2019-2020", ssid="1000000001", ela_status_code="RFEP",
        ela_status_start_date="2020-03-01")
    add(con, "staging.calpads_scte", record_type_code="SCTE", reporting_lea=LEA1,
        academic_year_id="2022-2023", ssid="1000000001", cte_pathway_code="111",
        cte_pathway_completion_year="2022-2023")
    link(con, "ccgi", "CCGI", "CC0001", "P1")
    for week, extra in (
        ("2021-09-06", {"ag_eligible": "N"}),
        ("2022-11-07", {"csu_apply_status": "submitted", "cccapply_status": "submitted",
                        "uc_apply_status": "submitted", "ag_eligible": "Y"}),
        ("2023-02-06", {"fafsa_status": "completed", "ag_eligible": "Y"}),
    ):
        add(con, "staging.ccgi_activity", ccgi_account_id="CC0001", ssid="1000000001",
            first_name="Maria", last_name="White", account_created_date="2021-09-01",
            activity_week=week, **extra)
    link(con, "college", "111", "S1001", "P1")
    add(con, "staging.college_enrollments", college_code="111", student_id="S1001",
        term_id="237", course_id="AUTO101", sam_code="A", units_earned="6.0")
    add(con, "staging.college_enrollments", college_code="111", student_id="S1001",
        term_id="243", course_id="AUTO102", sam_code="B", units_earned="4.0")
    add(con, "staging.college_enrollments", college_code="111", student_id="S1001",
        term_id="243", course_id="ENGL1A", sam_code="E", units_earned="3.0")
    add(con, "staging.college_awards", college_code="111", student_id="S1001",
        term_id="253", award_type="T", award_date="2025-05-20")

    # P2: CALPADS only, grade 11, two-or-more races, homeless, current EL
    link(con, "calpads", LEA1, "1000000002", "P2")
    senr(con, LEA1, "1000000002", grade_level_code="11", gender="M", first_name="Jose",
         last_name="Nguyen")
    add(con, "staging.calpads_sinf", record_type_code="SINF", reporting_lea=LEA1,
        academic_year_id="2022-2023", ssid="1000000002", hispanic_indicator="N",
        race_1="201", race_2="700", gender="M", birth_date="2006-07-01")
    add(con, "staging.calpads_sprg", record_type_code="SPRG", reporting_lea=LEA1,
        academic_year_id="2022-2023", ssid="1000000002", education_program_code="191")
    add(con, "staging.calpads_sela", record_type_code="SELA", reporting_lea=LEA1,
        academic_year_id="2018-2019", ssid="1000000002", ela_status_code="EL",
        ela_status_start_date="2018-09-01")

    # P3: left without a diploma; college only before exit and > 1 year after; near misses
    link(con, "calpads", LEA1, "1000000003", "P3")
    senr(con, LEA1, "1000000003", enrollment_exit_date="2023-06-09",
         exit_reason_code="E230", completion_status_code="360", gender="M")
    add(con, "staging.calpads_sinf", record_type_code="SINF", reporting_lea=LEA1,
        academic_year_id="2022-2023", ssid="1000000003", hispanic_indicator="N",
        race_1="600", gender="M", birth_date="2005-01-02")
    add(con, "staging.calpads_scte", record_type_code="SCTE", reporting_lea=LEA1,
        academic_year_id="2022-2023", ssid="1000000003", cte_pathway_code="111")
    link(con, "ccgi", "CCGI", "CC0003", "P3")
    add(con, "staging.ccgi_activity", ccgi_account_id="CC0003", activity_week="2023-03-06",
        account_created_date="2023-03-01", cccapply_status="started", fafsa_status="submitted",
        ag_eligible="Y")
    add(con, "staging.ccgi_activity", ccgi_account_id="CC0003", activity_week="2023-05-01",
        account_created_date="2023-03-01", ag_eligible="N")
    add(con, "staging.ccgi_activity", ccgi_account_id="CC0003", activity_week="2023-08-07",
        account_created_date="2023-03-01", uc_apply_status="submitted")
    link(con, "college", "222", "S3003", "P3")
    add(con, "staging.college_enrollments", college_code="222", student_id="S3003",
        term_id="225", course_id="WELD1", sam_code="A", units_earned="12")
    add(con, "staging.college_enrollments", college_code="222", student_id="S3003",
        term_id="247", course_id="WELD2", sam_code="A", units_earned="12")
    add(con, "staging.college_awards", college_code="222", student_id="S3003",
        term_id="245", award_type="O", award_date="2024-06-01")

    # P4: CCGI only; P5: college only (no K-12 row, counted in the summary)
    link(con, "ccgi", "CCGI", "CC0004", "P4")
    add(con, "staging.ccgi_activity", ccgi_account_id="CC0004", activity_week="2023-01-02",
        account_created_date="2022-12-01", cccapply_status="submitted")
    link(con, "college", "111", "S5005", "P5")
    add(con, "staging.college_enrollments", college_code="111", student_id="S5005",
        term_id="237", course_id="MATH1", sam_code="E", units_earned="4")

    # P6: two SSIDs (a MID) in LEA1 and an enrolment in LEA2; no SINF; gender X from SENR
    link(con, "calpads", LEA1, "1000000006", "P6")
    link(con, "calpads", LEA1, "1000000066", "P6")
    link(con, "calpads", LEA2, "1000000006", "P6")
    senr(con, LEA1, "1000000006", grade_level_code="10", gender="X",
         enrollment_start_date="2022-08-15", enrollment_exit_date="2022-10-01",
         exit_reason_code="T160")
    senr(con, LEA1, "1000000066", grade_level_code="10", gender="X",
         enrollment_start_date="2022-10-02", school_of_attendance="1964999")
    senr(con, LEA2, "1000000006", grade_level_code="10", gender="X",
         enrollment_start_date="2023-01-09")
    add(con, "staging.calpads_sprg", record_type_code="SPRG", reporting_lea=LEA2,
        academic_year_id="2022-2023", ssid="1000000006", education_program_code="182")

    # P7: a deleted SENR row only (transaction D): no row at all
    link(con, "calpads", LEA2, "1000000007", "P7")
    senr(con, LEA2, "1000000007", transaction_type_code="D")
