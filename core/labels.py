"""Catalog variables, metrics and student groups in words.

What people read (pages, e-mail, the release report) beside the codes the API, the CSV and
the docs use. Here, not in ``analytics``, because ``governance`` (the requester's e-mail)
and the portal both name variables and ``governance`` may not import ``analytics``.
"""

from __future__ import annotations

# What people read on the dashboard (the codes stay in the API, the CSV and the docs).
METRIC_LABELS: dict[str, str] = {
    "cte_participant": "Took part in a CTE pathway",
    "cte_completer": "Completed a CTE pathway",
    "hs_graduate": "Graduated high school (standard diploma)",
    "ccgi_account": "Has a CaliforniaColleges.edu account",
    "cccapply_submitted": "Applied to a community college (CCCApply)",
    "csu_apply_submitted": "Applied to Cal State",
    "uc_apply_submitted": "Applied to the University of California",
    "fafsa_or_cadaa_completed": "Completed the FAFSA or CADAA",
    "ag_eligible": "Met UC/CSU a-g requirements",
    "cc_enrolled_within_1yr": "Enrolled in a community college within a year",
    "cc_cte_units_9plus": "Earned 9+ CTE units in college",
    "cc_award_earned": "Earned a community college degree or certificate",
}
GROUP_LABELS: dict[str, str] = {
    "all": "All students", "gender": "Gender", "race_ethnicity": "Race/ethnicity",
    "socioeconomically_disadvantaged": "Socioeconomically disadvantaged",
    "homeless": "Experiencing homelessness", "english_learner": "English learner",
}
_VALUE_LABELS: dict[str, str] = {
    "M": "male", "F": "female", "X": "nonbinary", "unknown": "not reported",
    "true": "yes", "false": "no", "two_or_more": "two or more races",
    "not_reported": "not reported", "hispanic_or_latino": "Hispanic or Latino",
    "american_indian_or_alaska_native": "American Indian or Alaska Native",
    "black_or_african_american": "Black or African American", "asian": "Asian",
    "pacific_islander": "Pacific Islander", "filipino": "Filipino", "white": "White",
}


# The catalog's other variables in words (outcomes use METRIC_LABELS, subgroups GROUP_LABELS).
_OTHER_VARIABLE_LABELS: dict[str, str] = {
    "person_id": "Person (pseudonym)", "academic_year": "Academic year",
    "reporting_lea": "District or charter", "county_code": "County",
    "school_code": "School", "grade_level": "Grade level", "birth_year": "Year of birth",
    "hs_leaver": "Left high school this year",
}


def variable_label(name: str) -> str:
    """A catalog variable in words, for pages that show it beside its code."""
    return (METRIC_LABELS.get(name) or GROUP_LABELS.get(name)
            or _OTHER_VARIABLE_LABELS.get(name) or name.replace("_", " "))


def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_", " "))


def group_label(subgroup: str | None, value: str | None) -> str:
    """A student group in words: "All students", "Gender: female", "English learner: yes"."""
    if subgroup in (None, "all"):
        return GROUP_LABELS["all"]
    shown = _VALUE_LABELS.get(value or "", (value or "").replace("_", " "))
    return f"{GROUP_LABELS.get(subgroup, subgroup.replace('_', ' '))}: {shown}"


def variable_named(code: str) -> str:
    """A variable as people read it with its code, "Graduated high school (...) (hs_graduate)";
    the code alone where there are no words for it beyond the code itself."""
    label = variable_label(code)
    return code if label == code.replace("_", " ") else f"{label} ({code})"
