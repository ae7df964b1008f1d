"""The annual link: standardised identities, Splink model, clusters, stable ids, crosswalk."""


import json
from typing import Any

import dagster as dg

from dagster_project.assets.ingest import calpads_staging, ccgi_staging, college_staging
from dagster_project.metadata import md_table
from dagster_project.resources import DeploymentResource, GovernanceResource
from services.annual_link import link_annual
from services.link_quality import estimate_link_quality

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
        **quality_metadata(summary.quality),
    }
    return (
        dg.MaterializeResult(asset_key="mdm_identities", metadata=identities),
        dg.MaterializeResult(asset_key="mdm_crosswalk", metadata=crosswalk),
    )


def quality_metadata(block: dict[str, Any]) -> dict[str, Any]:
    """A run's linkage-quality block as metadata: the status, the sample, and the estimates
    (source pairs and student groups; no per-partner row, no count of people: linked pairs
    are left out, the rates are estimates from the clerical sample)."""
    rows = [(r["source_pair"], "all" if r["dimension"] == "all"
             else f"{r['dimension']}: {r['value']}", _interval(r, "precision"),
             _interval(r, "recall"))
            for r in block.get("estimates", []) if r["dimension"] != "partner"]
    return {
        "quality_status": str(block.get("status", "no_sample")),
        "quality_sample_pairs": int(block.get("sample_pairs", 0)),
        "quality_reviewed_pairs": int(block.get("reviewed_pairs", 0)),
        "quality_estimates": dg.MetadataValue.md(md_table(
            ("source pair", "group", "precision [95%]", "recall [95%]"), rows)
            if rows else "awaiting clerical review of the sample (`c2c review list --sample`)"),
    }


def _interval(row: dict[str, Any], name: str) -> str:
    if row[name] is None:
        return "n/a"
    return f"{row[name]:.4f} [{row[name + '_low']:.4f}, {row[name + '_high']:.4f}]"


@dg.asset(group_name=GROUP, deps=["mdm_crosswalk"])
def linkage_quality(deployment: DeploymentResource) -> dg.MaterializeResult:
    """mdm.link_quality: precision and recall of the last link with 95% intervals, estimated
    from its clerical sample as reviewed so far (linkage/quality.py); awaiting review until
    every stratum has a decision. ``linkage_quality_job`` runs it again after review and
    republishes."""
    result = estimate_link_quality(settings=deployment.settings())
    return dg.MaterializeResult(metadata={"run_id": result.run_id,
                                          **quality_metadata(result.summary())})
