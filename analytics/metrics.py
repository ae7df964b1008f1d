"""The one place where every outcome, subgroup and population is defined (docs/metrics.md).

``analytics.outcomes`` evaluates these SQL expressions on the working relation ``s`` (one row
per person_id x academic_year x reporting_lea, built from SENR); ``analytics.aggregates``
counts them. Change a definition here and both the person-level table and the published
aggregates change together; nowhere else spells a metric out.

Working views the expressions may read (built by ``analytics.outcomes``, all keyed by
person_id only):

- ``s``: the K-12 spine with ``year_end`` (30 June closing the academic year), ``hs_exit_date``
  (NULL unless the student left high school that year in that LEA), ``completed_100`` and
  ``first_cc_term_start`` (first college term starting within a year of ``hs_exit_date``);
- ``_scte(person_id, academic_year, reporting_lea, completed)``;
- ``_sprg(person_id, academic_year, reporting_lea, program)``;
- ``_ccgi(person_id, activity_week, account_created, cccapply, csu, uc, fafsa, cadaa, ag)``;
- ``_cc_terms(person_id, term_start, cte_units)``; ``_cc_awards(person_id, award_on)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core import calpads

Source = Literal["calpads", "ccgi", "college"]

# Populations: the denominator of each metric's rate (a boolean SQL over analytics.student_year).
POPULATIONS: dict[str, str] = {
    "students": "TRUE",
    "hs_leavers": "hs_leaver",
}
POPULATION_DESCRIPTIONS: dict[str, str] = {
    "students": "every student enrolled in the LEA in the academic year",
    "hs_leavers": "students who left high school in the LEA in the academic year",
}


@dataclass(frozen=True)
class Metric:
    name: str  # column of analytics.student_year (core.catalog outcome)
    source: Source
    population: str  # key of POPULATIONS
    description: str
    sql: str  # boolean expression over the working relation ``s``


def _same_year_lea(view: str) -> str:
    return (
        f"{view}.person_id = s.person_id AND {view}.academic_year = s.academic_year "
        f"AND {view}.reporting_lea = s.reporting_lea"
    )


def _ccgi_by_year_end(condition: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM _ccgi g WHERE g.person_id = s.person_id "
        f"AND g.activity_week <= s.year_end AND {condition})"
    )


METRICS: tuple[Metric, ...] = (
    Metric(
        "cte_participant", "calpads", "students",
        "Has an SCTE (CTE pathway) record in the LEA and year (K12 SWP KS101).",
        f"EXISTS (SELECT 1 FROM _scte c WHERE {_same_year_lea('c')})",
    ),
    Metric(
        "cte_completer", "calpads", "students",
        "An SCTE record in the LEA and year has a CTE Pathway Completion Academic Year "
        "(SCTE 11.14; K12 SWP KS102, DataVista 122K).",
        f"EXISTS (SELECT 1 FROM _scte c WHERE {_same_year_lea('c')} AND c.completed)",
    ),
    Metric(
        "hs_graduate", "calpads", "hs_leavers",
        "An SENR record in the LEA and year has School Completion Status "
        f"{calpads.COMPLETION_STANDARD_DIPLOMA} (standard high school diploma; KS300).",
        "s.completed_100",
    ),
    Metric(
        "ccgi_account", "ccgi", "students",
        "Has a CaliforniaColleges.edu account created on or before 30 June of the year.",
        _ccgi_by_year_end("coalesce(g.account_created, g.activity_week) <= s.year_end"),
    ),
    Metric(
        "cccapply_submitted", "ccgi", "students",
        "A weekly CCGI record up to 30 June of the year shows CCCApply status 'submitted'.",
        _ccgi_by_year_end("g.cccapply = 'submitted'"),
    ),
    Metric(
        "csu_apply_submitted", "ccgi", "students",
        "A weekly CCGI record up to 30 June of the year shows Cal State Apply 'submitted'.",
        _ccgi_by_year_end("g.csu = 'submitted'"),
    ),
    Metric(
        "uc_apply_submitted", "ccgi", "students",
        "A weekly CCGI record up to 30 June of the year shows UC application 'submitted'.",
        _ccgi_by_year_end("g.uc = 'submitted'"),
    ),
    Metric(
        "fafsa_or_cadaa_completed", "ccgi", "students",
        "A weekly CCGI record up to 30 June of the year shows FAFSA or CADAA 'completed' "
        "('submitted' alone does not count).",
        _ccgi_by_year_end("(g.fafsa = 'completed' OR g.cadaa = 'completed')"),
    ),
    Metric(
        "ag_eligible", "ccgi", "students",
        "The latest weekly CCGI record up to 30 June of the year says a-g eligible ('Y').",
        "coalesce((SELECT arg_max(g.ag, g.activity_week) FROM _ccgi g "
        "WHERE g.person_id = s.person_id AND g.activity_week <= s.year_end) = 'Y', false)",
    ),
    Metric(
        "cc_enrolled_within_1yr", "college", "hs_leavers",
        "Enrolled in a California community college in a term starting on or after the high "
        "school exit date and at most one year after it.",
        "s.first_cc_term_start IS NOT NULL",
    ),
    Metric(
        "cc_cte_units_9plus", "college", "hs_leavers",
        "Earned 9 or more units in CTE courses (SAM codes A-D) in terms starting within one "
        "year of the first college term after high school (all colleges summed).",
        "coalesce((SELECT sum(t.cte_units) FROM _cc_terms t WHERE t.person_id = s.person_id "
        "AND t.term_start >= s.first_cc_term_start "
        "AND t.term_start < s.first_cc_term_start + INTERVAL 1 YEAR), 0) >= 9",
    ),
    Metric(
        "cc_award_earned", "college", "hs_leavers",
        "Earned a community college degree (SP02 A, S, Y, Z) or Chancellor's-approved "
        "certificate (B, L, T, F, N, M) dated on or after the high school exit date.",
        "EXISTS (SELECT 1 FROM _cc_awards a WHERE a.person_id = s.person_id "
        "AND a.award_on >= s.hs_exit_date)",
    ),
)
METRIC_BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}

# Race/ethnicity reporting groups (CDE DataQuest style). Hispanic indicator wins; otherwise the
# distinct race groups of SINF race 1-5; more than one group is two_or_more.
RACE_GROUP_OF_CODE: tuple[tuple[str, str], ...] = (
    ("code = '100'", "american_indian_or_alaska_native"),
    ("code LIKE '2%'", "asian"),
    ("code LIKE '3%'", "pacific_islander"),
    ("code = '400'", "filipino"),
    ("code = '600'", "black_or_african_american"),
    ("code = '700'", "white"),
)
HISPANIC = "hispanic_or_latino"
TWO_OR_MORE = "two_or_more"
NOT_REPORTED = "not_reported"
RACE_VALUES: tuple[str, ...] = (
    HISPANIC, *(group for _, group in RACE_GROUP_OF_CODE), TWO_OR_MORE, NOT_REPORTED,
)
GENDER_VALUES: tuple[str, ...] = ("M", "F", "X", "unknown")
BOOLEAN_VALUES: tuple[str, ...] = ("true", "false")

# Published subgroup dimensions and their full value domain (every value gets a cell, zeros too,
# so a missing cell never reveals a zero).
SUBGROUP_DOMAINS: dict[str, tuple[str, ...]] = {
    "gender": GENDER_VALUES,
    "race_ethnicity": RACE_VALUES,
    "socioeconomically_disadvantaged": BOOLEAN_VALUES,
    "homeless": BOOLEAN_VALUES,
    "english_learner": BOOLEAN_VALUES,
}
ALL = "all"
STATE = "STATE"

# Values the identifier scan must not mistake for names (a surname can be "White").
CATEGORY_VALUES: frozenset[str] = frozenset(
    v.upper() for values in SUBGROUP_DOMAINS.values() for v in values
) | {ALL.upper(), STATE}


def race_group_sql(code_column: str) -> str:
    """SQL mapping one SINF race code column to its reporting group (NULL when blank)."""
    whens = " ".join(
        f"WHEN {cond.replace('code', code_column)} THEN '{group}'"
        for cond, group in RACE_GROUP_OF_CODE
    )
    return f"CASE {whens} END"


def metric_descriptions() -> list[tuple[str, str]]:
    """(metric, description incl. its population) rows for the snapshot ``metrics`` table."""
    return [
        (m.name, f"{m.description} Rate denominator: {POPULATION_DESCRIPTIONS[m.population]}.")
        for m in METRICS
    ]


