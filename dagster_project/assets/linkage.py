"""The annual link: standardised identities, Splink model, clusters, stable ids, crosswalk."""


import json
from typing import Any

import dagster as dg

from dagster_project.assets.ingest import calpads_staging, ccgi_staging, college_staging
from dagster_project.metadata import md_table
from dagster_project.resources import DeploymentResource, GovernanceResource
from services.annual_link import link_annual

GROUP = "linkage"


class LinkConfig(dg.Config):  # type: ignore[misc]
    run_id: str = ""  # empty: a timestamped id


@dg.multi_asset(
    specs=[
        dg.AssetSpec("mdm_identities", group_name=GROUP,
                     deps=[calpads_staging, college_staging, ccgi_staging],
                     description="Standardised identity records (names, DOB, SSID) per source "
                                 "person, the input of the link."),
        dg.AssetSpec("mdm_crosswalk", group_name=GROUP, deps=["mdm_identities"],
                     description="mdm.crosswalk and mdm.person_lineage: stable person ids "
                                 "for every source person."),
    ],
)
def annual_link(config: LinkConfig, deployment: DeploymentResource,
                governance: GovernanceResource) -> tuple[dg.MaterializeResult, ...]:
    """Standardise, train, predict, cluster and re-key to stable person ids (one library call)."""
    summary = link_annual(settings=deployment.settings(), run_id=config.run_id or None,
                          sessions=governance.sessions)
    identities = {"records": summary.records, **{f"records_{k}": v
                                                  for k, v in summary.records_by_source.items()}}
    crosswalk: dict[str, Any] = {
        "run_id": summary.run_id,
        "backend": summary.backend,
        "pairs_scored": summary.pairs_scored,
        "clusters": summary.clusters,
        "review_queue": summary.review_queue_size,
        "seconds": summary.seconds,
        "peak_memory_mb": round(summary.peak_memory_mb),
        "match_rates": dg.MetadataValue.md(md_table(
            ("source -> also in", "match rate"), sorted(summary.match_rates.items()))),
        "id_changes": dg.MetadataValue.md(md_table(
            ("person ids", "count"), list(summary.id_changes.items()))),
        "stage_seconds": dg.MetadataValue.md(md_table(
            ("stage", "seconds"), [(k, float(v)) for k, v in summary.stage_seconds.items()
                                   if "." not in k])),
        # fallbacks to fixed parameters and Splink's own messages (linkage/training.py)
        "training": dg.MetadataValue.json(json.loads(json.dumps(summary.training))),
    }
    return (
        dg.MaterializeResult(asset_key="mdm_identities", metadata=identities),
        dg.MaterializeResult(asset_key="mdm_crosswalk", metadata=crosswalk),
    )
