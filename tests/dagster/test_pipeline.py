"""The full graph materialises in-process on small generated data and its checks pass."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.run import materialize_extracts, materialize_pipeline, materialize_quality
from governance import request_lifecycle as gr
from services.link_quality import review_sample_from_truth
from tests.dagster_support import make_deployment, submitted_request


@pytest.mark.slow
def test_full_graph_materialises_and_checks_pass(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    dep = make_deployment(tmp_path, monkeypatch, data=True)
    instance = dg.DagsterInstance.ephemeral()

    run = materialize_pipeline(dep.resources, instance, with_extracts=False)

    assert run.failed_checks == []
    # the runs are the named jobs the schedules and sensors use, not ad-hoc selections
    jobs = {r.job_name for r in instance.get_runs()}
    assert {"calpads_ingest_job", "annual_link_job"} <= jobs
    assert not [j for j in jobs if j.startswith("__")]
    assert len(run.checks) >= 6
    ingested = [m for name, m in run.metadata.items() if name.startswith("calpads_staging[")]
    assert ingested and all(m["accepted"] > 0 and m["rejected"] == 0 for m in ingested)
    assert run.metadata["mdm_crosswalk"]["clusters"] > 0
    assert run.metadata["mdm_crosswalk"]["backend"] == "duckdb"  # the default backend ran
    assert run.metadata["published_aggregates"]["cells"] > 0
    serving = duckdb.connect(str(dep.settings().serving_path), read_only=True)
    try:
        row = serving.execute("SELECT count(*) FROM published_aggregates").fetchone()
        assert row is not None and row[0] == run.metadata["published_aggregates"]["cells"]
    finally:
        serving.close()

    # linkage quality: the link drew its clerical sample and waits for review (no figures)
    link = run.metadata["mdm_crosswalk"]
    assert link["quality_status"] == "awaiting_review" and link["quality_sample_pairs"] > 0
    assert run.metadata["linkage_quality"]["quality_status"] == "awaiting_review"
    # reviewed (a stand-in reviewer answers from the truth file), estimated, republished
    review_sample_from_truth(settings=dep.settings(), truth=tmp_path / "truth.parquet")
    quality = materialize_quality(dep.resources, instance)
    assert quality.metadata["linkage_quality"]["quality_status"] == "estimated"
    assert "calpads-college" in str(quality.metadata["linkage_quality"]["quality_estimates"])
    serving = duckdb.connect(str(dep.settings().serving_path), read_only=True)
    try:
        row = serving.execute("SELECT count(*) FROM linkage_quality WHERE source_pair = 'all' "
                              "AND dimension = 'all' AND recall IS NOT NULL").fetchone()
        assert row == (1,)
    finally:
        serving.close()

    # A request that reaches quorum is fulfilled by the extract asset.
    request_id, _ = submitted_request(dep, approvals=2)
    extracts = materialize_extracts(dep.resources, instance)
    assert extracts.metadata["research_extracts"]["extracts_built"] == 1
    with dep.governance.session() as session:
        assert gr.requests_ready_for_fulfilment(session) == []
        assert gr.get_for_board(session, request_id).status == "fulfilled"
