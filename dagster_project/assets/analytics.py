"""Outcomes keyed by person_id only, and the suppressed serving snapshot."""


from typing import Any

import dagster as dg

from core.gate import gate_published
from dagster_project.resources import DeploymentResource
from services.publish import publish_snapshot, rebuild_outcomes

GROUP = "analytics"


@dg.asset(group_name=GROUP, deps=["mdm_crosswalk"])
def student_outcomes(deployment: DeploymentResource) -> dg.MaterializeResult:
    """analytics.student_year: K12 SWP outcomes per person, year and LEA (no identifiers)."""
    summary = rebuild_outcomes(settings=deployment.settings())
    min_cell = deployment.settings().suppression_min_cell
    # Counts of people in the metadata pass the egress gate like every other released count.
    return dg.MaterializeResult(metadata={
        k: (str(gate_published(v, min_cell, label=f"outcomes/{k}"))
            if isinstance(v, int) and not isinstance(v, bool) else v)
        for k, v in summary_metadata(summary).items()})


@dg.asset(group_name=GROUP, deps=[student_outcomes, "linkage_quality"])
def published_aggregates(
    context: dg.AssetExecutionContext, deployment: DeploymentResource
) -> dg.MaterializeResult:
    """The serving snapshot: aggregates by year x LEA x subgroup x metric, small cells hidden,
    shown counts cell-key rounded (docs/metrics.md)."""
    def progress(step: str, done: int, total: int) -> None:
        context.log.info(f"publish {done}/{total}: {step}")

    summary = publish_snapshot(settings=deployment.settings(), progress=progress)
    return dg.MaterializeResult(metadata={
        "run_id": summary.run_id,
        "cells": summary.cells,
        "suppressed_cells": summary.suppressed_cells,
        "academic_years": ", ".join(summary.academic_years),
        "seconds": summary.seconds,
        "snapshot": dg.MetadataValue.path(str(summary.serving_path)),
    })


def summary_metadata(summary: object) -> dict[str, Any]:
    """Scalar fields of a library summary dataclass as metadata."""
    fields = getattr(summary, "__dataclass_fields__", {})
    values = {name: getattr(summary, name) for name in fields}
    return {k: v for k, v in values.items() if isinstance(v, int | float | str)}
