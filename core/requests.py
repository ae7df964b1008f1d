"""Data request contract between the governance store (api) and the extract builders.

A request approved by the board is handed to ``deidentify`` (individual-level extracts) or to
``analytics`` (aggregate tables) as an ``ApprovedRequest``; neither reads the governance store.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class RequestKind(StrEnum):
    AGGREGATE = "aggregate"
    INDIVIDUAL = "individual"


class CohortFilter(BaseModel):
    """Which rows of ``analytics.student_year`` a request covers; empty list = no restriction."""

    academic_years: list[str] = Field(default_factory=list)  # e.g. ["2022-23"]
    reporting_leas: list[str] = Field(default_factory=list)
    grade_levels: list[str] = Field(default_factory=list)
    subgroup_equals: dict[str, str | bool] = Field(default_factory=dict)  # e.g. {"homeless": True}
    # LEAs whose records provider review kept out (governance.provider_review); set by the
    # service when a request is approved, never needed from a researcher.
    excluded_leas: list[str] = Field(default_factory=list)


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
