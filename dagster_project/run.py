"""Materialise the whole graph in-process (``make demo``, tests), stage by stage."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project.checks import ASSET_CHECKS
from dagster_project.definitions import ASSETS
from dagster_project.landing import scan
from dagster_project.resources import C2CResource


@dataclass
class PipelineRun:
    """What each stage reported (asset metadata) and every asset check's outcome."""

    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, passed in self.checks.items() if not passed]


def _collect(result: dg.ExecuteInProcessResult, into: PipelineRun) -> None:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization  # type: ignore[union-attr]
        name = mat.asset_key.to_user_string()
        if mat.partition:
            name = f"{name}[{mat.partition}]"
        into.metadata[name] = {k: v.value for k, v in mat.metadata.items()}
    for check in result.get_asset_check_evaluations():
        into.checks[f"{check.asset_key.to_user_string()}:{check.check_name}"] = check.passed


def _stage(c2c: C2CResource, instance: dg.DagsterInstance, selection: list[str],
           partition_key: str | None = None, log_level: str = "WARNING",
           ) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*ASSETS, *ASSET_CHECKS],
        selection=selection,
        partition_key=partition_key,
        resources={"c2c": c2c},
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )


def materialize_pipeline(
    c2c: C2CResource,
    instance: dg.DagsterInstance,
    *,
    with_extracts: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> PipelineRun:
    """Ingest every landed file (CALPADS one year partition at a time), link, compute outcomes,
    publish, and build extracts for approved requests. Raises if a stage fails."""
    run = PipelineRun()
    landing = c2c.settings().landing_path
    years = sorted(set(_calpads_years(landing)))
    stages: list[tuple[str, list[str], str | None]] = [
        (f"ingest CALPADS {year}", ["calpads_staging"], year) for year in years
    ]
    stages += [
        ("ingest college and CCGI", ["college_staging", "ccgi_staging"], None),
        ("submission report", ["calpads_submission_report"], None),
        ("annual link, outcomes, publish",
         ["mdm_identities", "mdm_crosswalk", "student_outcomes", "published_aggregates"], None),
    ]
    if with_extracts:
        stages.append(("research extracts", ["research_extracts"], None))
    for label, selection, partition in stages:
        if on_stage:
            on_stage(label)
        _collect(_stage(c2c, instance, selection, partition), run)
    return run


def _calpads_years(landing: Path) -> list[str]:
    return [f.academic_year for f in scan(landing)
            if f.source == "calpads" and f.academic_year is not None]


def materialize_extracts(c2c: C2CResource, instance: dg.DagsterInstance) -> PipelineRun:
    """Build extracts for every approved request whose fulfilment is queued."""
    run = PipelineRun()
    _collect(_stage(c2c, instance, ["research_extracts"]), run)
    return run
