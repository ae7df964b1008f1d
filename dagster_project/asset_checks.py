"""Asset checks: each wraps a validator the library's own tests cover."""


from typing import Any

import dagster as dg

from analytics.auditor import audit_warehouse
from analytics.warehouse_checks import no_identifiers, suppression_applied
from dagster_project.assets.analytics import published_aggregates, student_outcomes
from dagster_project.assets.ingest import calpads_staging, ccgi_staging, college_staging
from dagster_project.metadata import md_table
from dagster_project.resources import DeploymentResource, WarehouseResource
from ingest.staging_checks import no_files_left_received, row_counts_match_receipts
from linkage.match_rate_checks import match_rate_floors


def _result(passed: bool, description: str, metadata: dict[str, Any]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=passed,
        description=description,
        metadata={k: _value(v) for k, v in metadata.items()},
    )


def _value(value: Any) -> Any:
    """Scalars as they are; a flat mapping as a two-column table; anything else as JSON."""
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, dict) and all(isinstance(v, int | float | str | None)
                                       for v in value.values()):
        return dg.MetadataValue.md(md_table(("key", "value"), sorted(value.items())))
    return dg.MetadataValue.json(value)


def _staging_checks(asset: dg.AssetsDefinition) -> list[dg.AssetChecksDefinition]:

    @dg.asset_check(asset=asset, name="staging_rows_match_receipts")
    def rows_match(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        """Staging holds exactly the rows every accepted file's receipt reports."""
        with warehouse.connect() as con:
            r = row_counts_match_receipts(con)
        return _result(r.passed, r.description, dict(r.metadata))

    @dg.asset_check(asset=asset, name="no_half_loaded_files")
    def none_stuck(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        """No file was left received but unloaded by an interrupted run."""
        with warehouse.connect() as con:
            r = no_files_left_received(con)
        return _result(r.passed, r.description, dict(r.metadata))

    return [rows_match, none_stuck]


@dg.asset_check(asset="mdm_crosswalk")
def match_rates_above_floors(deployment: DeploymentResource,
                             warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Match rate of each configured source pair is at least its floor (C2C_MATCH_RATE_FLOORS)."""
    configured = deployment.settings().match_rate_floors
    floors = {tuple(k.split("->", 1)): v for k, v in configured.items()}
    with warehouse.connect() as con:
        r = match_rate_floors(con, floors)  # type: ignore[arg-type]
    return _result(r.passed, r.description, dict(r.metadata))


@dg.asset_check(asset=student_outcomes)
def analytics_holds_no_identifiers(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """No name, birth date, SSID, SSN, address or local id in any analytics column."""
    with warehouse.connect() as con:
        r = no_identifiers(con)
    return _result(r.passed, r.description, dict(r.metadata))


@dg.asset_check(asset=published_aggregates)
def small_cells_suppressed(deployment: DeploymentResource) -> dg.AssetCheckResult:
    """Every published cell is at least the minimum or suppressed, and none is recoverable."""
    r = suppression_applied(deployment.settings().serving_path)
    return _result(r.passed, r.description, dict(r.metadata))


@dg.asset_check(asset=published_aggregates)
def standing_attacker(deployment: DeploymentResource,
                      warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """The LP attacker over the snapshot and every request table released so far narrows no
    hidden count below the documented bound (analytics.auditor)."""
    with warehouse.connect() as con:
        r = audit_warehouse(con, min_cell=deployment.settings().suppression_min_cell)
    return _result(not r.held, r.detail(), {"hidden_counts_attacked": r.targets,
                                            "lps": r.lps, "findings": len(r.findings)})


ASSET_CHECKS = [
    *_staging_checks(calpads_staging),
    *_staging_checks(college_staging),
    *_staging_checks(ccgi_staging),
    match_rates_above_floors,
    analytics_holds_no_identifiers,
    small_cells_suppressed,
    standing_attacker,
]
