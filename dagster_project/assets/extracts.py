"""Research extracts for requests the board approved (quorum reached)."""


import dagster as dg

from dagster_project.assets.analytics import student_outcomes
from dagster_project.fulfil import build_package, extract_detail
from dagster_project.resources import C2CResource
from governance.requests import ExtractInfo, mark_fulfilled, requests_ready_for_fulfilment

GROUP = "deidentify"


class ExtractConfig(dg.Config):  # type: ignore[misc]
    """``request_ids`` empty: every request whose fulfilment is queued."""

    request_ids: list[str] = []


@dg.asset(group_name=GROUP, deps=[student_outcomes])
def research_extracts(
    context: dg.AssetExecutionContext, config: ExtractConfig, c2c: C2CResource
) -> dg.MaterializeResult:
    """Encrypted, de-identified packages for approved requests; registered in governance."""
    settings, keys = c2c.settings(), c2c.key_provider()
    with c2c.governance() as session:
        ready = requests_ready_for_fulfilment(session)
    wanted = [r for r in ready if not config.request_ids or r.request_id in config.request_ids]
    built: list[str] = []
    suppressed = 0
    with c2c.warehouse() as con:
        for request in wanted:
            result = build_package(con, request, keys, settings.extracts_dir,
                                   min_cell=settings.suppression_min_cell, k=settings.k_anonymity)
            with c2c.governance() as session:
                mark_fulfilled(session, request.request_id, ExtractInfo(
                    package_path=str(result.package_path), sha256=result.package_sha256,
                    expires_at=result.expires_at,
                    detail=extract_detail(request, result)))
                session.commit()
            context.log.info(f"extract for request {request.request_id}: {result.rows} rows")
            built.append(request.request_id)
            suppressed += result.suppressed_rows
    return dg.MaterializeResult(metadata={
        "extracts_built": len(built), "requests": ", ".join(built) or "none",
        "suppressed_rows": suppressed,
    })

