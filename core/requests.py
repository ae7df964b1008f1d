"""Data request contract between the governance store (api) and the extract builders.

A request approved by the board is handed to ``deidentify`` (individual-level extracts) or to
``analytics`` (aggregate tables) as an ``ApprovedRequest``; neither reads the governance store.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints


class RequestKind(StrEnum):
    AGGREGATE = "aggregate"
    INDIVIDUAL = "individual"


# Bounds on a cohort: a request is stored, listed to the board and turned into SQL, so an
# unbounded list (a draft with a million years) costs every reader. Each bound is above what a
# real request can need: 40 academic years, every LEA in the state (about 2,400), K-12 plus
# adult and ungraded codes, one filter per catalog variable.
MAX_COHORT_YEARS = 40
MAX_COHORT_LEAS = 3000
MAX_COHORT_GRADES = 20
MAX_COHORT_FILTERS = 32
CohortValue = Annotated[str, StringConstraints(min_length=1, max_length=32)]
FilterName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
FilterValue = Annotated[str, StringConstraints(max_length=64)] | bool


class CohortFilter(BaseModel):
    """Which rows of ``analytics.student_year`` a request covers; empty list = no restriction."""

    academic_years: list[CohortValue] = Field(  # e.g. ["2022-23"]
        default_factory=list, max_length=MAX_COHORT_YEARS)
    reporting_leas: list[CohortValue] = Field(default_factory=list, max_length=MAX_COHORT_LEAS)
    grade_levels: list[CohortValue] = Field(default_factory=list, max_length=MAX_COHORT_GRADES)
    subgroup_equals: dict[FilterName, FilterValue] = Field(  # e.g. {"homeless": True}
        default_factory=dict, max_length=MAX_COHORT_FILTERS)
    # LEAs whose records provider review kept out (governance.provider_review); set by the
    # service when a request is approved, never needed from a researcher.
    excluded_leas: list[CohortValue] = Field(default_factory=list, max_length=MAX_COHORT_LEAS)


class ApprovedRequest(BaseModel):
    request_id: str
    kind: RequestKind
    title: str
    purpose: str
    variables: list[str]  # names from core.catalog.VARIABLES
    cohort: CohortFilter = Field(default_factory=CohortFilter)
    group_by: list[str] = Field(default_factory=list)  # aggregate requests only
    expires_at: datetime
    requester: str
    # Partners whose records provider review kept out, and the variables withheld because a
    # college or CCGI that feeds them objected (the release report shows both).
    excluded_partners: list[str] = Field(default_factory=list)
    withheld_variables: list[str] = Field(default_factory=list)
    # Partners whose agreement was no longer active when the request was built (of
    # excluded_partners): re-read at build and at release.
    lapsed_partners: list[str] = Field(default_factory=list)
