"""Catalog of analytics variables a researcher may request (documented in docs/metrics.md).

``analytics.student_year`` holds one row per person, academic year and reporting LEA, keyed by
``person_id`` only. Quasi-identifiers are generalised already (birth year, county); the
extract builder may generalise further for k-anonymity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["key", "quasi_identifier", "subgroup", "outcome"]

STUDENT_YEAR = "analytics.student_year"


@dataclass(frozen=True)
class Variable:
    name: str
    role: Role
    dtype: str  # DuckDB type
    description: str


VARIABLES: tuple[Variable, ...] = (
    Variable("person_id", "key", "VARCHAR",
             "Stable person id (replaced by a pseudonym in extracts)"),
    Variable("academic_year", "quasi_identifier", "VARCHAR", "Academic year, e.g. 2022-23"),
    Variable("reporting_lea", "quasi_identifier", "VARCHAR", "7-digit reporting LEA (district)"),
    Variable("county_code", "quasi_identifier", "VARCHAR", "2-digit county code of the LEA"),
    Variable("school_code", "quasi_identifier", "VARCHAR", "7-digit school of attendance"),
    Variable("grade_level", "quasi_identifier", "VARCHAR", "CALPADS grade level code"),
    Variable("birth_year", "quasi_identifier", "INTEGER", "Year of birth (never the date)"),
    Variable("gender", "subgroup", "VARCHAR", "M, F, X or unknown"),
    Variable("race_ethnicity", "subgroup", "VARCHAR", "Reporting race/ethnicity group"),
    Variable("socioeconomically_disadvantaged", "subgroup", "BOOLEAN", "Program 181 or 182"),
    Variable("homeless", "subgroup", "BOOLEAN", "Program 191"),
    Variable("english_learner", "subgroup", "BOOLEAN", "SELA status EL"),
    Variable("cte_participant", "outcome", "BOOLEAN", "Has an SCTE pathway record"),
    Variable("cte_completer", "outcome", "BOOLEAN", "SCTE pathway completion year present"),
    Variable("hs_graduate", "outcome", "BOOLEAN", "SENR completion status 100"),
    Variable("hs_leaver", "outcome", "BOOLEAN",
             "Left high school in the LEA this year (completion status, or exit from grade 12)"),
    Variable("ccgi_account", "outcome", "BOOLEAN", "Has a CaliforniaColleges.edu account"),
    Variable("cccapply_submitted", "outcome", "BOOLEAN", "CCCApply application submitted"),
    Variable("csu_apply_submitted", "outcome", "BOOLEAN", "Cal State Apply submitted"),
    Variable("uc_apply_submitted", "outcome", "BOOLEAN", "UC application submitted"),
    Variable("fafsa_or_cadaa_completed", "outcome", "BOOLEAN", "FAFSA or CADAA completed"),
    Variable("ag_eligible", "outcome", "BOOLEAN", "Met a-g (UC/CSU) requirements"),
    Variable("cc_enrolled_within_1yr", "outcome", "BOOLEAN",
             "Enrolled at a California community college within one year of leaving high school"),
    Variable("cc_cte_units_9plus", "outcome", "BOOLEAN", "9+ CTE units in the first college year"),
    Variable("cc_award_earned", "outcome", "BOOLEAN", "Community college certificate or degree"),
)

# Variables whose true value implies another's by definition (analytics.metrics): a completer
# has an SCTE record, so is a participant. Two extracts holding one each are linked through
# them as surely as through a shared variable (deidentify.crossextract). Only definitions go
# here; a relation that merely usually holds is not evidence either way.
IMPLIES: dict[str, frozenset[str]] = {
    "cte_completer": frozenset({"cte_participant"}),
}


def related(name: str) -> frozenset[str]:
    """The variables ``name`` implies or is implied by (``name`` itself not included)."""
    implied_by = {v for v, implied in IMPLIES.items() if name in implied}
    return frozenset(IMPLIES.get(name, frozenset()) | implied_by)


VARIABLE_BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
OUTCOMES: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.role == "outcome")
SUBGROUPS: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.role == "subgroup")
QUASI_IDENTIFIERS: tuple[str, ...] = tuple(
    v.name for v in VARIABLES if v.role == "quasi_identifier"
)
