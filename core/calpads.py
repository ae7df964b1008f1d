"""CALPADS ODS extract layouts and code sets (source: shared/reference/calpads-ods-layouts.md).

A layout is picked by record type and column count. ODS extracts append two columns
(Upload Date, Last Date Updated) to the upload layout and add ``-R`` to the record type code.
Field names are snake_case and are also the staging column names (``staging.calpads_<type>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "id", "date", "code", "flag"]

FILE_TYPES: tuple[str, ...] = ("CRSC", "SCSC", "SCTE", "SELA", "SENR", "SINF", "SPRG")
ODS_TRAILING_FIELDS: tuple[str, ...] = ("upload_date", "last_date_updated")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind = "text"
    code_set: str | None = None
    length: int | None = None  # exact length for ids (leading zeros are kept)
    max_length: int | None = None
    required: bool = False


@dataclass(frozen=True)
class Layout:
    file_type: str
    version: str  # CFS version label, e.g. "v2024" or "v2019"
    fields: tuple[FieldSpec, ...]

    @property
    def upload_column_count(self) -> int:
        return len(self.fields)

    @property
    def ods_column_count(self) -> int:
        return len(self.fields) + len(ODS_TRAILING_FIELDS)

    def column_names(self, ods: bool) -> list[str]:
        names = [f.name for f in self.fields]
        return names + list(ODS_TRAILING_FIELDS) if ods else names


def _f(name: str, kind: FieldKind = "text", code_set: str | None = None, **kw: object) -> FieldSpec:
    return FieldSpec(name, kind, code_set, **kw)  # type: ignore[arg-type]


RECORD_TYPE = _f("record_type_code", "code", required=True)
TRANSACTION = _f("transaction_type_code", "code", "transaction_type")
LOCAL_RECORD = _f("local_record_id")
LEA = _f("reporting_lea", "id", length=7, required=True)
SCHOOL = _f("school_of_attendance", "id", length=7)
YEAR = _f("academic_year_id", "code", "academic_year", required=True)
SSID = _f("ssid", "id", length=10, required=True)
LOCAL_ID = _f("local_student_id", max_length=15)
FIRST = _f("first_name", max_length=30)
MIDDLE = _f("middle_name", max_length=30)
LAST = _f("last_name", max_length=50)
BIRTH = _f("birth_date", "date")
GENDER = _f("gender", "code", "gender")

_SENR_COMMON = (
    RECORD_TYPE, TRANSACTION, LOCAL_RECORD, LEA, SCHOOL,
    _f("school_of_attendance_nps", "id", length=7), YEAR, SSID, LOCAL_ID,
    FIRST, MIDDLE, LAST, _f("name_suffix"),
    _f("alias_first_name"), _f("alias_middle_name"), _f("alias_last_name"),
    BIRTH, GENDER, _f("birth_city"), _f("birth_state_province_code"),
    _f("birth_country_code"), _f("enrollment_start_date", "date"),
    _f("enrollment_status_code", "code", "enrollment_status"),
    _f("grade_level_code", "code", "grade_level"), _f("enrollment_exit_date", "date"),
    _f("exit_reason_code", "code", "exit_reason"),
    _f("completion_status_code", "code", "completion_status"),
    _f("expected_receiver_school", "id", length=7),
    _f("met_uc_csu_requirements", "flag"), _f("school_transfer_code"),
    _f("district_of_residence", "id", length=7),
    _f("golden_state_seal", "flag"), _f("seal_of_biliteracy", "flag"),
)

SENR_V2024 = Layout("SENR", "v2024", _SENR_COMMON + (
    _f("adult_swd_transition_status"), _f("graduation_exemption_indicator", "flag"),
))
SENR_V2019 = Layout("SENR", "v2019", _SENR_COMMON + (
    _f("postsecondary_transition_status", "flag"), _f("workforce_readiness_completion", "flag"),
    _f("food_handler_completion", "flag"), _f("pre_apprenticeship_certified_completion", "flag"),
    _f("pre_apprenticeship_noncertified_completion", "flag"),
    _f("job_program_completion", "flag"),
))

SINF_V2019 = Layout("SINF", "v2019", (
    RECORD_TYPE, TRANSACTION, LOCAL_RECORD, _f("effective_start_date", "date"),
    _f("effective_end_date", "date"), LEA, SCHOOL, YEAR, SSID, LOCAL_ID,
    FIRST, MIDDLE, LAST, _f("name_suffix"),
    _f("alias_first_name"), _f("alias_middle_name"), _f("alias_last_name"),
    BIRTH, GENDER, _f("birth_city"), _f("birth_state_province_code"), _f("birth_country_code"),
    _f("hispanic_indicator", "flag"), _f("ethnicity_missing_indicator", "flag"),
    _f("race_1", "code", "race"), _f("race_2", "code", "race"), _f("race_3", "code", "race"),
    _f("race_4", "code", "race"), _f("race_5", "code", "race"),
    _f("race_missing_indicator", "flag"),
    _f("address_line_1"), _f("address_line_2"), _f("address_city"), _f("address_state"),
    _f("address_zip"), _f("initial_us_enrollment_date", "date"),
    _f("us_school_under_three_years", "flag"), _f("parent_education_level"),
    _f("guardian_1_first_name"), _f("guardian_1_last_name"),
    _f("guardian_2_first_name"), _f("guardian_2_last_name"),
))

SPRG_V2019 = Layout("SPRG", "v2019", (
    RECORD_TYPE, TRANSACTION, LOCAL_RECORD, LEA, SCHOOL, YEAR, SSID, LOCAL_ID,
    FIRST, LAST, BIRTH, GENDER,
    _f("education_program_code", "code", "education_program", required=True),
    _f("program_membership_code"), _f("program_start_date", "date"),
    _f("program_end_date", "date"), _f("education_service_academic_year"),
    _f("education_service_code"), _f("partnership_academy_id"), _f("migrant_student_id"),
    _f("filler_1"), _f("filler_2"), _f("homeless_dwelling_type_code"),
    _f("unaccompanied_youth", "flag"), _f("runaway_youth", "flag"), _f("filler_3"),
))

_SELA_COMMON = (
    RECORD_TYPE, TRANSACTION, LOCAL_RECORD, LEA, SCHOOL, YEAR, SSID, FIRST, LAST, BIRTH, GENDER,
    LOCAL_ID, _f("ela_status_code", "code", "ela_status", required=True),
    _f("ela_status_start_date", "date"), _f("primary_language_code"),
)
SELA_V2020 = Layout("SELA", "v2020", _SELA_COMMON + (_f("correction_reason_code"),))
SELA_V2019 = Layout("SELA", "v2019", _SELA_COMMON)

_CRSC_COMMON = (
    RECORD_TYPE, TRANSACTION, LOCAL_RECORD, LEA, _f("school_of_course_delivery", "id", length=7),
    YEAR, _f("state_course_code", "id", length=4), _f("local_course_id"), _f("course_name"),
    _f("course_content_code"), _f("filler_1"), _f("cte_articulated_indicator", "flag"),
    _f("uc_csu_approved_indicator", "flag"), _f("course_section_id", required=True),
    _f("academic_term_code"), _f("seid"), _f("local_staff_id"), _f("class_id"),
    _f("instructional_level_code"), _f("education_service_code"),
    _f("language_of_instruction_code"), _f("instructional_strategy_code"),
    _f("independent_study_indicator", "flag"), _f("distance_learning_indicator", "flag"),
    _f("multiple_teacher_code"), _f("program_funding_source_code"),
    _f("cte_provider_code"),
)
CRSC_V2019 = Layout("CRSC", "v2019", _CRSC_COMMON)
CRSC_V2020 = Layout("CRSC", "v2020", _CRSC_COMMON + (
    _f("content_area_subcategory_code"), _f("standards_grade_range_code"),
    _f("standards_alignment_code"), _f("charter_noncore_indicator", "flag"),
    _f("ap_ib_code"), _f("online_instruction_type_code"),
    _f("middle_school_core_indicator", "flag"),
    _f("local_assignment_option_code"), _f("high_quality_cte_indicator", "flag"),
))

SCSC_V2019 = Layout("SCSC", "v2019", (
    RECORD_TYPE, TRANSACTION, LOCAL_RECORD, LEA, _f("school_of_course_delivery", "id", length=7),
    YEAR, SSID, LOCAL_ID, FIRST, LAST, BIRTH, GENDER, _f("local_course_id"),
    _f("course_section_id", required=True), _f("academic_term_code"),
    _f("credits_attempted"), _f("credits_earned"), _f("final_grade"),
    _f("uc_csu_admission_code"), _f("marking_period_code"),
))

SCTE_V2019 = Layout("SCTE", "v2019", (
    RECORD_TYPE, TRANSACTION, LOCAL_RECORD, LEA, SCHOOL, YEAR, SSID, LOCAL_ID,
    FIRST, LAST, BIRTH, GENDER,
    _f("cte_pathway_code", "code", "cte_pathway", max_length=3, required=True),
    _f("cte_pathway_completion_year", "code", "academic_year"),
))

LAYOUTS: tuple[Layout, ...] = (
    SENR_V2024, SENR_V2019, SINF_V2019, SPRG_V2019, SELA_V2020, SELA_V2019,
    CRSC_V2020, CRSC_V2019, SCSC_V2019, SCTE_V2019,
)
CURRENT_LAYOUT: dict[str, Layout] = {
    "SENR": SENR_V2024, "SINF": SINF_V2019, "SPRG": SPRG_V2019, "SELA": SELA_V2020,
    "CRSC": CRSC_V2020, "SCSC": SCSC_V2019, "SCTE": SCTE_V2019,
}


def find_layout(record_type: str, column_count: int) -> tuple[Layout, bool] | None:
    """The layout for a record type code (``SENR`` or ``SENR-R``) and a column count.

    Returns (layout, is_ods) or None when no known version has that many columns.
    """
    ods = record_type.endswith("-R")
    file_type = record_type[:-2] if ods else record_type
    for layout in LAYOUTS:
        if layout.file_type != file_type:
            continue
        expected = layout.ods_column_count if ods else layout.upload_column_count
        if expected == column_count:
            return layout, ods
    return None


def staging_columns(file_type: str) -> list[str]:
    """Union of the field names of every version, in first-seen order: the staging table columns."""
    seen: dict[str, None] = {}
    for layout in LAYOUTS:
        if layout.file_type == file_type:
            for spec in layout.fields:
                seen.setdefault(spec.name, None)
    for name in ODS_TRAILING_FIELDS:
        seen.setdefault(name, None)
    return list(seen)


CODE_SETS: dict[str, frozenset[str]] = {
    "transaction_type": frozenset({"", "A", "D", "R"}),
    "gender": frozenset({"M", "F", "X"}),
    "grade_level": frozenset(
        {"IN", "TD", "PS", "TK", "KN", "01", "02", "03", "04", "05", "06", "07", "08", "09",
         "10", "11", "12", "AD", "UE", "US", "UU"}
    ),
    "enrollment_status": frozenset({"10", "20", "30", "50"}),
    "exit_reason": frozenset(
        {"E125", "E130", "E140", "E150", "E155", "E170", "E230", "E300", "E400", "E410",
         "E450", "E490", "N420", "N470", "T160", "T165", "T167", "T180", "T200", "T240",
         "T260", "T270", "T280", "T310", "T370", "T380", "T460"}
    ),
    "completion_status": frozenset(
        {"100", "104", "106", "108", "120", "250", "320", "330", "360", "480", "485"}
    ),
    "ela_status": frozenset({"EO", "EL", "IFEP", "RFEP", "TBD"}),
    "education_program": frozenset(
        {"101", "108", "113", "122", "127", "135", "144", "162", "174", "175", "180", "181",
         "182", "185", "191", "192", "193", "300", "301", "302", "303", "304", "305", "306"}
    ),
    "cte_pathway": frozenset(
        {"100", "101", "102", "103", "104", "105", "106", "110", "111", "112", "113", "114",
         "120", "121", "122", "123", "130", "131", "132", "133", "140", "141", "142", "143",
         "150", "151", "152", "153", "154", "160", "161", "162", "170", "171", "172", "173",
         "174", "175", "180", "181", "182", "190", "191", "192", "193", "194", "195", "196",
         "197", "198", "199", "250", "200", "201", "202", "210", "211", "212", "213", "214",
         "215", "216", "220", "221", "222", "223", "230", "231", "232", "233", "240", "241",
         "242", "243", "244", "999"}
    ),
    "race": frozenset(
        {"100", "201", "202", "203", "204", "205", "206", "207", "208", "299", "301", "302",
         "303", "304", "399", "400", "600", "700"}
    ),
}

# Program codes the outcome metrics read (reference: calpads-ods-layouts.md §4).
PROGRAM_FREE_MEAL = "181"
PROGRAM_REDUCED_MEAL = "182"
PROGRAM_HOMELESS = "191"
COMPLETION_STANDARD_DIPLOMA = "100"
EXIT_COMPLETER = "E230"


# A CDS code is county (2) + district (5) + school (7) digits. School code 0000000 is the
# district office and 0000001 nonpublic schools: neither is a school a student attended.
CDS_DIGITS = 14
SCHOOL_DIGITS = 7
NOT_A_SCHOOL = ("0000000", "0000001")


def school_code_sql(school: str) -> str:
    """SQL for the 7-digit school code in ``school`` (a SQL expression holding a school code),
    NULL when it names no school: the one rule the link (linkage/schools.py) and the partner's
    data-quality return (ingest/quality.py) share."""
    return (f"CASE WHEN regexp_full_match(trim({school}), '[0-9]{{{SCHOOL_DIGITS}}}') "
            f"AND trim({school}) NOT IN {NOT_A_SCHOOL!r} THEN trim({school}) END")


def cds_school_sql(cds: str) -> str:
    """SQL for the school code of the 14-digit CDS code in ``cds`` (its last seven digits),
    NULL when it is not a CDS code or names no school."""
    return school_code_sql(
        f"CASE WHEN regexp_full_match(trim({cds}), '[0-9]{{{CDS_DIGITS}}}') "
        f"THEN right(trim({cds}), {SCHOOL_DIGITS}) END")


def academic_year_id(short: str) -> str:
    """``2022-23`` -> ``2022-2023`` (the CALPADS Academic Year ID form)."""
    start = int(short[:4])
    return f"{start}-{start + 1}"


def short_year(year_id: str) -> str:
    """``2022-2023`` (or ``2022-23``) -> ``2022-23``, the form used in file names."""
    start = int(year_id[:4])
    return f"{start}-{str(start + 1)[-2:]}"
