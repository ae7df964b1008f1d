"""Canonical CSV layouts for college and CCGI files (project-defined; see docs/formats.md).

No public field-level spec exists for the CCGI weekly export or a college identity file with
names (reference: college-ccgi-linkage-practice.md), so the project defines these layouts.
Ingest maps a partner's own header names onto these canonical names through a column map.
Column names are also the staging column names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CsvFormat:
    kind: str  # file kind, also the staging table suffix
    source_system: str  # "college" | "ccgi"
    columns: tuple[str, ...]
    required: tuple[str, ...]
    date_columns: tuple[str, ...] = ()
    code_sets: tuple[tuple[str, frozenset[str]], ...] = ()


APPLICATION_STATUS = frozenset({"", "not_started", "started", "submitted"})
AID_STATUS = frozenset({"", "not_started", "started", "submitted", "completed"})
YES_NO = frozenset({"", "Y", "N"})
GENDER = frozenset({"", "M", "F", "X"})

# SP02 award codes (COMIS): associate degrees, baccalaureate, Chancellor's-approved certificates.
AWARD_TYPES = frozenset({"A", "S", "Y", "Z", "B", "L", "T", "F", "N", "M", "O"})
DEGREE_AWARDS = frozenset({"A", "S", "Y", "Z"})
CERTIFICATE_AWARDS = frozenset({"B", "L", "T", "F", "N", "M"})
# SAM priority code (CB09): A-D mark vocational (CTE) courses; E is non-occupational.
CTE_SAM_CODES = frozenset({"A", "B", "C", "D"})

COLLEGE_STUDENTS = CsvFormat(
    kind="college_students",
    source_system="college",
    columns=(
        "college_code", "student_id", "student_id_status", "ccc_id", "ssid",
        "first_name", "middle_name", "last_name", "birth_date", "gender", "zip_code",
        "first_term_id", "high_school_cds",
    ),
    required=("college_code", "student_id", "last_name"),
    date_columns=("birth_date",),
    code_sets=(("gender", GENDER), ("student_id_status", frozenset({"S", "C"}))),
)

COLLEGE_ENROLLMENTS = CsvFormat(
    kind="college_enrollments",
    source_system="college",
    columns=(
        "college_code", "student_id", "term_id", "section_id", "course_id", "top_code",
        "sam_code", "credit_status", "units_earned", "grade",
    ),
    required=("college_code", "student_id", "term_id", "course_id"),
    code_sets=(("sam_code", frozenset({"", "A", "B", "C", "D", "E"})),),
)

COLLEGE_AWARDS = CsvFormat(
    kind="college_awards",
    source_system="college",
    columns=("college_code", "student_id", "term_id", "top_code", "award_type", "award_date"),
    required=("college_code", "student_id", "award_type"),
    date_columns=("award_date",),
    code_sets=(("award_type", AWARD_TYPES),),
)

CCGI_ACTIVITY = CsvFormat(
    kind="ccgi_activity",
    source_system="ccgi",
    columns=(
        "ccgi_account_id", "ssid", "first_name", "last_name", "birth_date", "gender",
        "school_cds", "grade_level", "account_created_date", "cccapply_status",
        "csu_apply_status", "uc_apply_status", "fafsa_status", "cadaa_status", "ag_eligible",
        "favorite_colleges", "favorite_careers", "favorite_majors",
        "career_assessments_completed", "subgroups", "activity_week",
    ),
    required=("ccgi_account_id", "activity_week"),
    date_columns=("birth_date", "account_created_date", "activity_week"),
    code_sets=(
        ("gender", GENDER),
        ("cccapply_status", APPLICATION_STATUS),
        ("csu_apply_status", APPLICATION_STATUS),
        ("uc_apply_status", APPLICATION_STATUS),
        ("fafsa_status", AID_STATUS),
        ("cadaa_status", AID_STATUS),
        ("ag_eligible", YES_NO),
    ),
)

CSV_FORMATS: dict[str, CsvFormat] = {
    f.kind: f for f in (COLLEGE_STUDENTS, COLLEGE_ENROLLMENTS, COLLEGE_AWARDS, CCGI_ACTIVITY)
}
