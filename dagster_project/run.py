"""Materialise the whole graph in-process (``make demo``, tests), stage by stage."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project.definitions import build_definitions
from dagster_project.resources import DeploymentResource
from ingest.landing import scan


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


def _job(resources: dict[str, Any], instance: dg.DagsterInstance, job_name: str,
         partition_key: str | None = None, log_level: str = "WARNING",
         ) -> dg.ExecuteInProcessResult:
    """Run one of the named jobs (as the schedules and sensors do), so the run shows in the
    Dagster UI under that job's name rather than as an ad-hoc selection."""
    job = build_definitions(resources).resolve_job_def(job_name)
    return job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )


def materialize_pipeline(
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    *,
    with_extracts: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> PipelineRun:
    """Ingest every landed file (CALPADS one year partition at a time), link, compute outcomes,
    publish, and build extracts for approved requests. Raises if a stage fails.

    ``on_stage`` hears "<label> (job <name>)" before each stage and "<label>: done in N s" after.
    """
    run = PipelineRun()
    deployment: DeploymentResource = resources["deployment"]
    landing = deployment.settings().landing_path
    years = sorted(set(_calpads_years(landing)))
    stages: list[tuple[str, str, str | None]] = [
        (f"ingest CALPADS {year}", "calpads_ingest_job", year) for year in years
    ]
    stages += [
        ("ingest college files", "college_ingest_job", None),
        ("ingest CCGI files", "ccgi_ingest_job", None),
        ("submission report", "calpads_completeness_job", None),
        ("annual link, outcomes, publish", "annual_link_job", None),
    ]
    if with_extracts:
        stages.append(("research extracts", "extract_job", None))
    for label, job_name, partition in stages:
        if on_stage:
            on_stage(f"{label} (job {job_name})")
        started = time.perf_counter()
        _collect(_job(resources, instance, job_name, partition), run)
        if on_stage:
            on_stage(f"{label}: done in {time.perf_counter() - started:.1f} s")
    return run


def _calpads_years(landing: Path) -> list[str]:
    return [f.academic_year for f in scan(landing)
            if f.source == "calpads" and f.academic_year is not None]


def materialize_extracts(resources: dict[str, Any], instance: dg.DagsterInstance) -> PipelineRun:
    """Build extracts for every approved request whose fulfilment is queued (``extract_job``)."""
    run = PipelineRun()
    _collect(_job(resources, instance, "extract_job"), run)
    return run


def materialize_quality(resources: dict[str, Any], instance: dg.DagsterInstance) -> PipelineRun:
    """Estimate the last link's quality from its reviewed sample and republish
    (``linkage_quality_job``)."""
    run = PipelineRun()
    _collect(_job(resources, instance, "linkage_quality_job"), run)
    return run
