"""Sensors: landing files start ingest of just those files; quorum starts an extract."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.resources import deployment_resources
from dagster_project.sensors import approved_request_sensor, landing_sensor
from tests.dagster_support import approve, make_deployment, submitted_request


def _tick(resources: dict[str, object], cursor: str | None) -> dg.SensorResult:
    # a context manager: the resources are set up and torn down with the evaluation
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        result = landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_landing_sensor_runs_new_files_only(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dep = make_deployment(tmp_path, monkeypatch, data=False)
    senr = dep.landing / "calpads" / "1234567" / "2022-23" / "SENR 2022-23.txt"
    senr.parent.mkdir(parents=True)
    senr.write_bytes(b"placeholder\r\n")

    first = _tick(dep.resources, None)
    assert len(first.run_requests or []) == 1
    request = (first.run_requests or [])[0]
    assert request.partition_key == "2022-23"
    assert request.job_name == "calpads_ingest_job"
    assert request.run_config["ops"]["calpads_staging"]["config"]["files"] == [str(senr)]

    again = _tick(dep.resources, first.cursor)
    assert not again.run_requests  # the old file does not start another run

    ccgi = dep.landing / "ccgi" / "ccgi_activity_2023-01-02.csv"
    ccgi.parent.mkdir(parents=True)
    ccgi.write_text("ccgi_account_id\n", encoding="utf-8")
    third = _tick(dep.resources, again.cursor)
    assert [r.job_name for r in third.run_requests or []] == ["ccgi_ingest_job"]
    assert json.loads(third.cursor or "{}").keys() == {str(senr), str(ccgi)}

    os.utime(senr, ns=(1, 1))  # a re-sent file (new mtime) counts as new
    fourth = _tick(dep.resources, third.cursor)
    assert [r.partition_key for r in fourth.run_requests or []] == ["2022-23"]


def test_request_sensor_waits_for_quorum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dep = make_deployment(tmp_path, monkeypatch, data=False)
    request_id, board = submitted_request(dep, approvals=1)

    def requests_now() -> list[dg.RunRequest]:
        with dg.build_sensor_context(resources=dep.resources) as context:
            result = approved_request_sensor(context)
        assert isinstance(result, dg.SensorResult)
        return list(result.run_requests or [])

    assert requests_now() == []  # one approval of a quorum of two
    with dep.governance.session() as session:
        approve(session, request_id, board[1])
        session.commit()
    started = requests_now()
    assert [r.run_key for r in started] == [f"extract:{request_id}"]
    config = started[0].run_config["ops"]["research_extracts"]["config"]
    assert config["request_ids"] == [request_id]


def test_the_resource_builds_one_engine_per_evaluation_and_never_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: the 60-second sensor built an engine and ran the migrations on every call."""
    import sqlalchemy as sa

    import governance.db as db

    dep = make_deployment(tmp_path, monkeypatch, data=False)
    built: list[sa.Engine] = []
    disposed: list[sa.Engine] = []
    real_make_engine = db.make_engine

    def counting_make_engine(url: str, **kwargs: object) -> sa.Engine:
        engine = real_make_engine(url, **kwargs)  # type: ignore[arg-type]
        sa.event.listen(engine, "engine_disposed", lambda e: disposed.append(e))
        built.append(engine)
        return engine

    def no_upgrade(*_: object, **__: object) -> None:
        raise AssertionError("the resource must not migrate")

    monkeypatch.setattr(db, "make_engine", counting_make_engine)
    monkeypatch.setattr(db, "upgrade", no_upgrade)

    resource = deployment_resources(home=str(dep.home))["governance"]
    for _ in range(5):  # many uses inside one run share one engine
        with resource.session() as session:
            session.execute(sa.text("SELECT 1"))
    assert len(built) == 1 and disposed == []
    resource.close()
    assert disposed == built

    built.clear()
    disposed.clear()
    with dg.build_resources(deployment_resources(home=str(dep.home))) as resources:
        for _ in range(3):
            with resources.governance.session() as session:
                session.execute(sa.text("SELECT 1"))
        assert len(built) == 1 and disposed == []
    assert disposed == built  # torn down with the run


def test_a_store_behind_the_code_stops_the_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.db import SchemaOutOfDate

    dep = make_deployment(tmp_path, monkeypatch, data=False)
    (dep.home / "governance.db").unlink()
    resource = deployment_resources(home=str(dep.home))["governance"]
    with pytest.raises(SchemaOutOfDate, match="c2c migrate"), resource.session():
        pass
