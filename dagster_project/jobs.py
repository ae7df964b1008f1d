"""Jobs: what the schedules and sensors start."""

from __future__ import annotations

import dagster as dg

calpads_ingest_job = dg.define_asset_job(
    "calpads_ingest_job", selection=["calpads_staging"],  # partitioned like its asset
    description="Ingest one academic year of CALPADS extracts (the partition); config "
                "ops.calpads_staging.config.files names files, empty means every landed one.",
)
college_ingest_job = dg.define_asset_job(
    "college_ingest_job", selection=["college_staging"],
    description="Ingest community college student, enrollment and award files.")
ccgi_ingest_job = dg.define_asset_job(
    "ccgi_ingest_job", selection=["ccgi_staging"],
    description="Ingest CaliforniaColleges.edu weekly activity files.")
calpads_completeness_job = dg.define_asset_job(
    "calpads_completeness_job", selection=["calpads_submission_report"],
    description="The CALPADS submissions report: rows per partner, year and file type, and "
                "the status of the years each partner's SWP rounds require.",
)
annual_link_job = dg.define_asset_job(
    "annual_link_job",
    selection=dg.AssetSelection.assets("mdm_identities", "mdm_crosswalk").downstream()
    - dg.AssetSelection.assets("research_extracts"),
    description="The annual link (standardise, Splink, clusters, stable person ids), then "
                "outcomes and the published, suppressed aggregates.",
)
linkage_quality_job = dg.define_asset_job(
    "linkage_quality_job", selection=["linkage_quality", "published_aggregates"],
    description="After the clerical sample is reviewed: estimate the last link's precision "
                "and recall, and publish them (the public linkage-quality page, the error "
                "bands beside cross-agency rates).")
extract_job = dg.define_asset_job(
    "extract_job", selection=["research_extracts"],
    description="Build the encrypted extracts of approved requests (as `c2c fulfil` does).")

JOBS = [calpads_ingest_job, college_ingest_job, ccgi_ingest_job, calpads_completeness_job,
        annual_link_job, linkage_quality_job, extract_job]
