"""Sensors: new landed files start an ingest of just those files; quorum starts an extract."""


import json
from collections import defaultdict

import dagster as dg

from dagster_project.jobs import (
    calpads_ingest_job,
    ccgi_ingest_job,
    college_ingest_job,
    extract_job,
)
from dagster_project.landing import LandedFile, new_files
from dagster_project.resources import C2CResource
from governance.requests import requests_ready_for_fulfilment

INGEST_ASSET = {"calpads": "calpads_staging", "college": "college_staging", "ccgi": "ccgi_staging"}


def ingest_requests(files: list[LandedFile]) -> list[dg.RunRequest]:
    """One run per source (and CALPADS year) naming exactly the new files."""
    groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for f in files:
        if f.source == "calpads" and f.academic_year is None:
            continue  # no year in path or name: ingest rejects it when run by hand
        groups[(f.source, f.academic_year)].append(str(f.path))
    requests = []
    for (source, year), paths in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        config = {"ops": {INGEST_ASSET[source]: {"config": {"files": sorted(paths)}}}}
        key = f"{source}:{year or ''}:" + ",".join(sorted(paths))
        requests.append(dg.RunRequest(
            run_key=key, run_config=config, partition_key=year, tags={"c2c/source": source},
            job_name=f"{source}_ingest_job",
        ))
    return requests


@dg.sensor(jobs=[calpads_ingest_job, college_ingest_job, ccgi_ingest_job],
           minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_sensor(context: dg.SensorEvaluationContext, c2c: C2CResource) -> dg.SensorResult:
    """Files that appeared (or changed) in the landing folder since the last tick."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    fresh = new_files(c2c.settings().landing_path, seen)
    seen.update({f.key: f.signature for f in fresh})
    return dg.SensorResult(run_requests=ingest_requests(fresh), cursor=json.dumps(seen))


@dg.sensor(job=extract_job, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING)
def approved_request_sensor(c2c: C2CResource) -> dg.SensorResult:
    """Requests whose approvals reached quorum and whose extract is not built yet."""
    with c2c.governance() as session:
        ready = requests_ready_for_fulfilment(session)
    return dg.SensorResult(run_requests=[
        dg.RunRequest(
            run_key=f"extract:{r.request_id}",
            run_config={"ops": {"research_extracts": {"config": {"request_ids": [r.request_id]}}}},
            tags={"c2c/request": r.request_id},
        )
        for r in ready
    ])


SENSORS = [landing_sensor, approved_request_sensor]
