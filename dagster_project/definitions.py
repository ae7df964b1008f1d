"""The one Definitions object of c2c-link."""

from __future__ import annotations

from typing import Any

import dagster as dg

from core.private_files import restrict_umask
from dagster_project.asset_checks import ASSET_CHECKS
from dagster_project.assets.analytics import published_aggregates, student_outcomes
from dagster_project.assets.extracts import research_extracts
from dagster_project.assets.ingest import (
    calpads_staging,
    calpads_submission_report,
    ccgi_staging,
    college_staging,
)
from dagster_project.assets.linkage import annual_link, linkage_quality
from dagster_project.jobs import JOBS
from dagster_project.resources import deployment_resources
from dagster_project.schedules import SCHEDULES
from dagster_project.sensors import SENSORS

ASSETS = [
    calpads_staging, college_staging, ccgi_staging, calpads_submission_report,
    annual_link, linkage_quality, student_outcomes, published_aggregates, research_extracts,
]


def build_definitions(resources: dict[str, Any] | None = None) -> dg.Definitions:
    """Definitions with the given resources (default: ``deployment_resources()``, settings from
    the environment).

    DuckDB allows one writing process per file, so every run executes in-process. Stores
    this process creates are owner-only (``core.private_files``).
    """
    restrict_umask()
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=ASSET_CHECKS,
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources=resources or deployment_resources(),
        executor=dg.in_process_executor,
    )


defs = build_definitions()
