"""College and CCGI CSV files: header mapping through a column map, rules, partner checks."""

from __future__ import annotations

from pathlib import Path

from core.partners import PartnerKind
from ingest import IngestOptions, ReceiptStatus, ingest_files
from ingest.quality import quality_return
from linkage.schools import school_columns
from tests.ingest_testdata import Env, partner

COLLEGE = "111"
STUDENTS_HEADER = ("college_code,student_id,student_id_status,ccc_id,ssid,first_name,middle_name,"
                   "last_name,birth_date,gender,zip_code,first_term_id")



def college_file(ienv: Env, name: str, text: str) -> Path:
    folder = ienv.land / "college" / COLLEGE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run(ienv: Env, options: IngestOptions | None = None) -> list:  # type: ignore[type-arg]
    partners = [partner(COLLEGE, kind=PartnerKind.COLLEGE), partner("CCGI", kind=PartnerKind.CCGI)]
    return ingest_files(ienv.con, [ienv.land], ienv.raw_dir, ienv.key, partners, options=options)


def test_college_students_load_with_iso_dates_and_leading_zeros(ienv: Env) -> None:
    college_file(ienv, "college_students_231.csv", STUDENTS_HEADER + "\n"
                 '111,0000042,S,ABC1234,0012345678,"Ana, Maria",,Lopez,2005-03-04,F,90210,231\n'
                 "111,0000043,S,,,Luis,,Diaz,20050102,M,,231\n")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    assert (receipt.kind, receipt.partner_org, receipt.period, receipt.rows) == (
        "college_students", COLLEGE, "231", 2)
    rows = ienv.con.execute("SELECT student_id, ssid, first_name, birth_date, line_no "
                           "FROM staging.college_students ORDER BY line_no").fetchall()
    assert [(r[0], r[1], r[2], str(r[3]), r[4]) for r in rows] == [
        ("0000042", "0012345678", "Ana, Maria", "2005-03-04", 2),
        ("0000043", None, "Luis", "2005-01-02", 3)]


def test_a_warehouse_from_before_the_high_school_column_gains_it(ienv: Env) -> None:
    """``high_school_cds`` joined the college layout on 2026-12-07: a warehouse whose staging
    table predates it gets the column (empty for its old rows) and loads files that send it."""
    old_columns = STUDENTS_HEADER.split(",")
    ienv.con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    body = ", ".join(f"{c} {'DATE' if c == 'birth_date' else 'VARCHAR'}" for c in old_columns)
    ienv.con.execute(f"CREATE TABLE staging.college_students ({body}, file_id VARCHAR NOT NULL, "
                     "line_no BIGINT NOT NULL)")
    ienv.con.execute("INSERT INTO staging.college_students (college_code, student_id, last_name, "
                     "file_id, line_no) VALUES ('111', '0000001', 'Old', 'f0', 2)")
    college_file(ienv, "college_students_231.csv", STUDENTS_HEADER + ",high_school_cds\n"
                 "111,0000042,S,,,Ana,,Lopez,2005-03-04,F,90210,231,19642121931054\n")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    assert not any("not sent" in w for w in receipt.warnings)
    rows = ienv.con.execute("SELECT student_id, high_school_cds FROM staging.college_students "
                            "ORDER BY student_id").fetchall()
    assert rows == [("0000001", None), ("0000042", "19642121931054")]


def test_a_college_file_without_the_high_school_column_loads_with_a_warning(ienv: Env) -> None:
    college_file(ienv, "college_students_231.csv", STUDENTS_HEADER + "\n"
                 "111,0000042,S,,,Ana,,Lopez,2005-03-04,F,90210,231\n")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    assert any("optional column(s) not sent: high_school_cds" in w for w in receipt.warnings)
    assert ienv.scalar("SELECT high_school_cds FROM staging.college_students") is None


def test_a_high_school_the_link_cannot_use_counts_as_missing_in_the_quality_return(
        ienv: Env) -> None:
    """A malformed ``high_school_cds`` is self-reported, so it does not reject the row; the
    link ignores it (linkage/schools.py) and the college's data-quality return counts it with
    the blank ones, so the college sees it. One rule for both (core.calpads.cds_school_sql)."""
    rows = [("0000041", "19642121931054"),  # a school: usable
            ("0000042", ""),  # blank
            ("0000043", "1964212193105"),  # 13 digits
            ("0000044", "1964212193105X"),  # not digits
            ("0000045", "19642120000000")]  # the district office, not a school
    college_file(ienv, "college_students_231.csv", STUDENTS_HEADER + ",high_school_cds\n" + "".join(
        f"111,{sid},S,,,Ana,,Lopez,2005-03-04,F,90210,231,{cds}\n" for sid, cds in rows))
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    [total] = [c for c in quality_return(ienv.con, COLLEGE).completeness if c.file is None]
    assert (total.kind, total.rows) == ("college_students", 5)
    assert total.counts["missing_high_school"] == 4
    assert total.counts["missing_exit"] is None  # enrolments only
    schools = dict(ienv.con.execute(
        f"SELECT source_person_id, reported_schools FROM ({school_columns(ienv.con).keyed_select})"
    ).fetchall())
    assert schools == {"0000041": ["1931054"]}


def test_column_map_renames_partner_headers(ienv: Env) -> None:
    college_file(ienv, "college_awards_233.csv",
                 "CollegeID,StuID,Term,TOP,AwardType,AwardDate,Extra\n"
                 "111,0000042,233,0948.00,A,2023-05-20,zzz\n")
    options = IngestOptions(column_maps={"college_awards": {
        "CollegeID": "college_code", "StuID": "student_id", "Term": "term_id",
        "TOP": "top_code", "AwardType": "award_type", "AwardDate": "award_date"}})
    [receipt] = run(ienv, options)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    assert any("'Extra'" in w for w in receipt.warnings)
    assert ienv.scalar("SELECT award_type FROM staging.college_awards") == "A"


def test_missing_required_column_rejected(ienv: Env) -> None:
    college_file(ienv, "college_awards_233.csv", "college_code,term_id,award_type\n111,233,A\n")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert (receipt.errors[0].rule, receipt.errors[0].field) == ("header_required_column",
                                                                 "student_id")


def test_bad_code_and_date_rejected_with_lines(ienv: Env) -> None:
    college_file(ienv, "college_awards_233.csv",
                 "college_code,student_id,term_id,top_code,award_type,award_date\n"
                 "111,1,233,0948.00,A,2023-05-20\n"
                 "111,2,233,0948.00,Q,2023-02-30\n")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert [(e.line, e.field, e.value) for e in receipt.errors] == [
        (3, "award_date", "9999-99-99"), (3, "award_type", "A")]  # shapes, not values
    assert ienv.scalar("SELECT count(*) FROM staging.college_awards") == 0


def test_semicolon_csv_is_a_wrong_delimiter(ienv: Env) -> None:
    college_file(ienv, "college_awards_233.csv",
                 "college_code;student_id;term_id;top_code;award_type;award_date\n1;2;3;4;A;\n")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert (receipt.errors[0].rule, receipt.errors[0].value) == ("delimiter_comma", ";")


def test_college_code_must_match_folder(ienv: Env) -> None:
    college_file(ienv, "college_awards_233.csv",
                 "college_code,student_id,term_id,top_code,award_type,award_date\n"
                 "222,1,233,0948.00,A,2023-05-20\n")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert receipt.errors[0].rule == "name_content_college"


def test_ccgi_weekly_file_and_header_only_college_file(ienv: Env) -> None:
    folder = ienv.land / "ccgi"
    folder.mkdir()
    header = ("ccgi_account_id,ssid,first_name,last_name,birth_date,gender,school_cds,grade_level,"
              "account_created_date,cccapply_status,csu_apply_status,uc_apply_status,fafsa_status,"
              "cadaa_status,ag_eligible,favorite_colleges,favorite_careers,favorite_majors,"
              "career_assessments_completed,subgroups,activity_week")
    (folder / "ccgi_activity_2023-01-02.csv").write_text(
        header + "\nA1,0012345678,Ana,Lopez,2006-01-01,F,01123450000000,12,2021-09-01,started,,,"
        "completed,,Y,a;b,,,2,foster,2023-01-02\n", encoding="utf-8")
    college_file(ienv, "college_enrollments_231.csv",
                 "college_code,student_id,term_id,section_id,course_id,top_code,sam_code,"
                 "credit_status,units_earned,grade\n")
    receipts = sorted(run(ienv), key=lambda r: r.kind or "")
    assert [(r.kind, r.status, r.rows) for r in receipts] == [
        ("ccgi_activity", ReceiptStatus.ACCEPTED, 1),
        ("college_enrollments", ReceiptStatus.ACCEPTED, 0)]
    assert receipts[0].partner_org == "CCGI" and receipts[0].period == "2023-01-02"
