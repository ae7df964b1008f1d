"""Research extracts for requests the board approved (quorum reached)."""


import dagster as dg

from dagster_project.assets.analytics import student_outcomes
from dagster_project.metadata import md_table
from dagster_project.resources import C2CResource
from services.fulfil import fulfil_approved

GROUP = "deidentify"


class ExtractConfig(dg.Config):  # type: ignore[misc]
    """``request_ids`` empty: every request whose fulfilment is queued."""

    request_ids: list[str] = []


@dg.asset(group_name=GROUP, deps=[student_outcomes])
def research_extracts(
    context: dg.AssetExecutionContext, config: ExtractConfig, c2c: C2CResource
) -> dg.MaterializeResult:
    """Encrypted, de-identified packages for approved requests; registered in governance
    (the same routine as `c2c fulfil`)."""
    built = fulfil_approved(
        settings=c2c.settings(), sessions=c2c.sessions(), keys=c2c.key_provider(),
        request_ids=config.request_ids,
        on_built=lambda r: context.log.info(f"extract for request {r.request_id}: {r.rows} rows"))
    suppressed = sum(r.suppressed_rows for r in built)
    rows = [(r.request_id, r.rows, r.suppressed_rows, r.package_bytes, r.expires_at.date())
            for r in built]
    return dg.MaterializeResult(metadata={
        "extracts_built": len(built),
        "requests": ", ".join(r.request_id for r in built) or "none",
        "suppressed_rows": suppressed,
        "extracts": dg.MetadataValue.md(md_table(
            ("request", "rows", "suppressed rows", "bytes", "expires"), rows)),
    })

