"""The landing sensor knows content already received (whoever received it); sensors and jobs
say what they do; metadata renders as tables."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.assets.ingest import receipt_metadata
from dagster_project.definitions import build_definitions
from dagster_project.metadata import md_table
from dagster_project.sensors import landing_sensor
from ingest.landing import files_for
from services.ingest_batch import ingest_batch, registered_partners
from tests.dagster_support import make_deployment


def test_landing_sensor_skips_files_already_received_by_another_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = make_deployment(tmp_path, monkeypatch, data=True)
    settings = dep.settings()
    college = files_for(dep.landing, "college")
    receipts = ingest_batch(  # as `c2c ingest` or the demo would
        settings=settings, keys=dep.keys.provider(), paths=college,
        partners=registered_partners(sessions=dep.governance.sessions()))
    assert receipts and all(not r.rejected for r in receipts)

    with dg.build_sensor_context(cursor=None, resources=dep.resources) as context:
        result = landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    jobs = {r.job_name for r in result.run_requests or []}
    assert "college_ingest_job" not in jobs  # every college file is already in the warehouse
    assert {"calpads_ingest_job", "ccgi_ingest_job"} <= jobs
    named = [f for r in result.run_requests or []
             for f in next(iter(r.run_config["ops"].values()))["config"]["files"]]
    assert not set(map(str, college)) & set(named)
    # all were seen: the next tick starts nothing
    assert set(json.loads(result.cursor or "{}")) >= set(map(str, college))
    with dg.build_sensor_context(cursor=result.cursor, resources=dep.resources) as context:
        again = landing_sensor(context)
    assert isinstance(again, dg.SensorResult) and not again.run_requests


def test_sensors_and_jobs_have_descriptions() -> None:
    defs = build_definitions()
    repo = defs.get_repository_def()
    for sensor in repo.sensor_defs:
        assert sensor.description and len(sensor.description) > 40, sensor.name
    for job in repo.get_all_jobs():
        if not job.name.startswith("__"):
            assert job.description, job.name


def test_receipt_metadata_is_a_table() -> None:
    assert md_table(("a", "b"), []) == "none"
    table = md_table(("source", "rate"), [("ccgi->calpads", 0.91234), ("x|y", 1200)])
    assert table.splitlines() == ["| source | rate |", "|---|---|",
                                  "| ccgi->calpads | 0.912 |", "| x\\|y | 1,200 |"]
    metadata = receipt_metadata([])
    assert isinstance(metadata["by_file_type"], dg.MetadataValue.md("").__class__)
