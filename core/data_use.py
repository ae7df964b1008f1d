"""Which partners' records a data request would use, and for what purposes partners allow it.

Shared by governance (routing a request to the partners' data stewards) and by the pages and
API that show it. ``analytics.student_year`` rows come from CALPADS (one row per person, year
and reporting LEA), so every request uses the records of the LEAs in its cohort; the outcome
columns below are computed from college and CCGI files, so a request that names one of them
uses those partners' records too.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Purpose(StrEnum):
    """Why a request wants the data; agreements list the purposes they permit."""

    RESEARCH = "research"
    PROGRAM_EVALUATION = "program_evaluation"
    POLICY_ANALYSIS = "policy_analysis"
    OPERATIONS = "operations"


# An agreement that records no purposes permits the C2C MOU template's purposes. Operational
# use (a partner's own administration) must be named in the agreement explicitly.
TEMPLATE_PURPOSES: frozenset[str] = frozenset(
    {Purpose.RESEARCH, Purpose.PROGRAM_EVALUATION, Purpose.POLICY_ANALYSIS}
)


class SilenceMeans(StrEnum):
    """What a steward's silence at the end of the review window counts as."""

    CONSENT = "consent"
    OBJECTION = "objection"


class OnObjection(StrEnum):
    """What a steward's objection does to the request."""

    EXCLUDE = "exclude"  # the partner's records are removed from the request
    BLOCK = "block"  # the request cannot be approved


COLLEGE_VARIABLES: frozenset[str] = frozenset(
    {"cc_enrolled_within_1yr", "cc_cte_units_9plus", "cc_award_earned"}
)
CCGI_VARIABLES: frozenset[str] = frozenset(
    {"ccgi_account", "cccapply_submitted", "csu_apply_submitted", "uc_apply_submitted",
     "fafsa_or_cadaa_completed", "ag_eligible"}
)


def source_systems(names: Iterable[str]) -> set[str]:
    """The source systems whose records the named variables (any use: listed, grouped by or
    filtered on) are computed from. CALPADS is always used: it gives the cohort's rows."""
    used = set(names)
    systems = {"calpads"}
    if used & COLLEGE_VARIABLES:
        systems.add("college")
    if used & CCGI_VARIABLES:
        systems.add("ccgi")
    return systems


def variables_of_system(system: str) -> frozenset[str]:
    """The variables a source system feeds beyond the cohort rows (empty for CALPADS)."""
    return {"college": COLLEGE_VARIABLES, "ccgi": CCGI_VARIABLES}.get(system, frozenset())


def permitted(purpose: str, agreement_purposes: Iterable[str] | None) -> bool:
    """Does an agreement permit this purpose? ``None`` means the MOU template's purposes."""
    allowed = TEMPLATE_PURPOSES if agreement_purposes is None else set(agreement_purposes)
    return purpose in allowed
