"""Outcomes keyed by person_id only, and the suppressed serving snapshot."""


from typing import Any

import dagster as dg

from dagster_project.resources import C2CResource
from services.publish import publish_snapshot, rebuild_outcomes

GROUP = "analytics"


@dg.asset(group_name=GROUP, deps=["mdm_crosswalk"])
def student_outcomes(c2c: C2CResource) -> dg.MaterializeResult:
    """analytics.student_year: K12 SWP outcomes per person, year and LEA (no identifiers)."""
    summary = rebuild_outcomes(settings=c2c.settings())
    return dg.MaterializeResult(metadata=summary_metadata(summary))


@dg.asset(group_name=GROUP, deps=[student_outcomes])
def published_aggregates(
    context: dg.AssetExecutionContext, c2c: C2CResource
) -> dg.MaterializeResult:
    """The serving snapshot: aggregates by year x LEA x subgroup x metric, small cells hidden,
    shown counts cell-key rounded (docs/metrics.md)."""
    def progress(step: str, done: int, total: int) -> None:
        context.log.info(f"publish {done}/{total}: {step}")

    summary = publish_snapshot(settings=c2c.settings(), progress=progress)
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
