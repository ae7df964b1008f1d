"""Sensors: new landed files start an ingest of just those files; quorum starts an extract."""


import json
from collections import defaultdict

import dagster as dg
import duckdb

from core.warehouse import warehouse
from dagster_project.jobs import (
    calpads_ingest_job,
    ccgi_ingest_job,
    college_ingest_job,
    extract_job,
)
from dagster_project.resources import C2CResource
from governance.requests import requests_ready_for_fulfilment
from ingest.landing import LandedFile, content_hash, new_files, received_hashes

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


def _not_yet_received(c2c: C2CResource, files: list[LandedFile]) -> list[LandedFile] | None:
    """``files`` less those whose content the warehouse already holds; None when the
    warehouse is busy (a run is writing): the sensor then waits for its next tick."""
    settings = c2c.settings()
    if not files or not settings.warehouse_path.exists():
        return files
    hashes = {f.key: content_hash(f.path) for f in files}
    try:
        with warehouse(settings, read_only=True) as con:
            known = received_hashes(con, sorted(set(hashes.values())))
    except duckdb.IOException:  # DuckDB's lock: another process is writing the warehouse
        return None
    return [f for f in files if hashes[f.key] not in known]


@dg.sensor(jobs=[calpads_ingest_job, college_ingest_job, ccgi_ingest_job],
           minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts one ingest run per source (and CALPADS year) naming the files "
                       "that appeared or changed in the landing folder. Files whose content "
                       "was already received (by any route: this sensor, `c2c ingest`, an API "
                       "upload, the demo) are recorded as seen and not ingested again.")
def landing_sensor(context: dg.SensorEvaluationContext, c2c: C2CResource) -> dg.SensorResult:
    """Files that appeared (or changed) in the landing folder since the last tick."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    fresh = new_files(c2c.settings().landing_path, seen)
    wanted = _not_yet_received(c2c, fresh)
    if wanted is None:
        return dg.SensorResult(skip_reason="warehouse busy (a run is writing); next tick")
    if len(wanted) < len(fresh):
        context.log.info(f"{len(fresh) - len(wanted)} landed file(s) already received: skipped")
    seen.update({f.key: f.signature for f in fresh})
    return dg.SensorResult(run_requests=ingest_requests(wanted), cursor=json.dumps(seen))


@dg.sensor(job=extract_job, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts extract_job for each data request whose board approvals "
                       "reached quorum and whose extract is not built yet (the same "
                       "fulfilment routine as `c2c fulfil`).")
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
