"""Jobs: what the schedules and sensors start."""

from __future__ import annotations

import dagster as dg

# partitioned by academic year through its asset (Dagster infers it; naming it here is deprecated)
calpads_ingest_job = dg.define_asset_job("calpads_ingest_job", selection=["calpads_staging"])
college_ingest_job = dg.define_asset_job("college_ingest_job", selection=["college_staging"])
ccgi_ingest_job = dg.define_asset_job("ccgi_ingest_job", selection=["ccgi_staging"])
calpads_completeness_job = dg.define_asset_job(
    "calpads_completeness_job", selection=["calpads_submission_report"]
)
annual_link_job = dg.define_asset_job(
    "annual_link_job",
    selection=dg.AssetSelection.assets("mdm_identities", "mdm_crosswalk").downstream()
    - dg.AssetSelection.assets("research_extracts"),
)
extract_job = dg.define_asset_job("extract_job", selection=["research_extracts"])

JOBS = [calpads_ingest_job, college_ingest_job, ccgi_ingest_job, calpads_completeness_job,
        annual_link_job, extract_job]
