"""The one Definitions object loads and holds every stage, job, schedule, sensor and check."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

import dagster_project
from dagster_project import defs

STAGES = {
    "calpads_staging", "college_staging", "ccgi_staging", "calpads_submission_report",
    "mdm_identities", "mdm_crosswalk", "linkage_quality", "student_outcomes",
    "published_aggregates", "research_extracts",
}


def test_every_stage_is_an_asset() -> None:
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == STAGES


def test_calpads_ingest_is_partitioned_by_academic_year() -> None:
    asset = defs.resolve_assets_def("calpads_staging")
    assert asset.partitions_def is not None
    assert "2022-23" in asset.partitions_def.get_partition_keys()


def test_jobs_schedules_and_sensors_resolve() -> None:
    for job in ("calpads_ingest_job", "ccgi_ingest_job", "college_ingest_job",
                "calpads_completeness_job", "annual_link_job", "linkage_quality_job",
                "extract_job"):
        assert defs.resolve_job_def(job).name == job
    schedules = {s.name: s for s in defs.schedules or []}
    assert isinstance(schedules["ccgi_weekly"], dg.ScheduleDefinition)
    assert schedules["ccgi_weekly"].cron_schedule == "0 6 * * 1"
    assert schedules["calpads_completeness_after_deadline"].cron_schedule == "0 7 2 11 *"
    assert {s.name for s in defs.sensors or []} == {"landing_sensor", "approved_request_sensor"}


def test_checks_cover_ingest_linkage_analytics_and_publish() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("calpads_staging", "staging_rows_match_receipts") in checks
    assert ("mdm_crosswalk", "match_rates_above_floors") in checks
    assert ("student_outcomes", "analytics_holds_no_identifiers") in checks
    assert ("published_aggregates", "small_cells_suppressed") in checks


def test_annual_link_job_does_not_build_extracts() -> None:
    job = defs.resolve_job_def("annual_link_job")
    assert "research_extracts" not in {n.name for n in job.graph.node_defs}


def test_instance_settings_queue_one_run_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    shutil.copyfile(Path(dagster_project.__file__).with_name("dagster.yaml"),
                    tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = dg.DagsterInstance.get()
    try:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
    finally:
        instance.dispose()


def test_the_definitions_load_without_splink_or_scipy() -> None:
    """Loading the definitions (every Dagster process, every sensor tick) imported Splink
    and scipy, about 1.3 s of a 5 s budget (bench_state.py measured 6.2 s at the state's
    size): both are loaded when a link or an audit runs."""
    import subprocess
    import sys

    code = ("import sys; from dagster_project import defs; "
            "print(sorted(m for m in ('splink', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(dagster_project.__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_a_lazy_run_keeps_the_package_entry_points() -> None:
    import linkage
    import linkage.evaluate  # the submodule of the same name as the function

    assert callable(linkage.evaluate) and callable(linkage.run_annual_link)
