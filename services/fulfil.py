"""Use case: fulfil approved requests (build, check and register each one's extract).

The one place that wires analytics and deidentify for a release: ``c2c fulfil`` and the
Dagster ``research_extracts`` asset both call :func:`fulfil_approved`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.orm import Session, sessionmaker

from analytics import aggregate_for_request
from analytics.output_checks import check_aggregate, record_release
from core.keys import KeyProvider
from core.requests import ApprovedRequest, RequestKind
from core.settings import Settings
from core.warehouse import warehouse
from deidentify import EarlierExtracts, ExtractResult, build_extract, package_table
from governance.requests import (
    ExtractInfo,
    expire_due,
    individual_extracts,
    mark_fulfilled,
    requests_ready_for_fulfilment,
)

# Key of the automated output checks in a result's manifest and the extract record's detail
# (governance.output_check reads them there).
OUTPUT_CHECKS = "output_checks"


def build_package(
    con: duckdb.DuckDBPyConnection,
    request: ApprovedRequest,
    keys: KeyProvider,
    out_dir: Path,
    *,
    min_cell: int,
    k: int,
    earlier_extracts: EarlierExtracts,
    now: datetime | None = None,
) -> ExtractResult:
    """Individual requests go through de-identification; aggregate requests through the same
    small-cell suppression as the published aggregates, then the same encrypted packaging.
    ``earlier_extracts``: ``governance.requests.individual_extracts(session, excluding=<this
    request>)``, read just before the build (the variables this extract must not be linkable
    on; unused for aggregate tables)."""
    now = now or datetime.now(UTC)
    if request.kind == RequestKind.INDIVIDUAL:
        result = build_extract(con, request, keys, out_dir, k=k, now=now,
                               earlier_extracts=earlier_extracts)
        # build_extract refuses to seal a package that is not k-anonymous or holds an
        # identifier, so reaching here is the pass of both checks.
        result.manifest[OUTPUT_CHECKS] = [
            {"check": "k_anonymity", "passed": True, "detail": f"every row's quasi-identifiers "
             f"are shared by at least {k} people ({result.suppressed_rows} rows suppressed)"},
            {"check": "identifier_scan", "passed": True, "detail": "no identifier found"},
            {"check": "cross_extract_linkage", "passed": True, "detail": _linkage_detail(
                result, k)}]
        return result
    table = aggregate_for_request(con, request, min_cell=min_cell)
    checks = check_aggregate(con, request, table, min_cell)
    result = package_table(table, request, keys, out_dir, now)
    result.manifest[OUTPUT_CHECKS] = [c.as_dict() for c in checks]
    if all(c.passed for c in checks):
        record_release(con, request, table)
    return result


def _linkage_detail(result: ExtractResult, k: int) -> str:
    cross = result.disclosure.cross_extract if result.disclosure is not None else {}
    shared = cross.get("linkage_variables") or []
    if not shared:
        return (f"shares no variable with the {len(cross.get('earlier_requests', []))} earlier "
                "individual-level extract(s)")
    return (f"shares {', '.join(shared)} with earlier extract(s) of "
            f"{', '.join(cross.get('linked_requests', []))}; every person's pattern over them "
            f"is shared by at least {k} people ({cross.get('suppressed_rows', 0)} rows of "
            f"{cross.get('suppressed_persons', 0)} people suppressed)")


def extract_detail(request: ApprovedRequest, result: ExtractResult) -> dict[str, Any]:
    """What the governance store keeps of a built output: the release report a checker and the
    partners whose records it used read (no identifier; counts and names of variables)."""
    detail: dict[str, Any] = {
        "rows": result.rows, "suppressed_rows": result.suppressed_rows,
        "variables": list(result.variables),
        "excluded_partners": list(request.excluded_partners),
        "withheld_variables": list(request.withheld_variables),
        OUTPUT_CHECKS: list(result.manifest.get(OUTPUT_CHECKS, []))}
    if result.disclosure is not None:  # the board's release report shows how it was protected
        detail["k"] = result.disclosure.k
        detail["generalisations"] = result.disclosure.generalisations
        detail["cross_extract"] = result.disclosure.cross_extract
    return detail


def fulfil_approved(
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    keys: KeyProvider,
    request_ids: Sequence[str] = (),
    on_built: Callable[[ExtractResult], None] | None = None,
    now: datetime | None = None,
) -> list[ExtractResult]:
    """Build the extract of every approved request whose fulfilment is queued (only those in
    ``request_ids`` when given), register each in governance and mark it fulfilled.

    The one fulfilment routine: ``c2c fulfil`` calls it, and so does the ``research_extracts``
    asset that ``approved_request_sensor`` starts. One request at a time, each committed on its
    own, so a failure leaves the ones before it fulfilled and the rest queued for a re-run.
    """
    with sessions.begin() as session:  # extracts past their date go first (package and key)
        expire_due(session, now, keys=keys)
    with sessions() as session:
        ready = requests_ready_for_fulfilment(session)
    wanted = [r for r in ready if not request_ids or r.request_id in request_ids]
    if not wanted:
        return []
    built: list[ExtractResult] = []
    with warehouse(settings) as con:
        for request in wanted:
            # Read per request: the one fulfilled just before is an earlier extract too.
            with sessions() as session:
                earlier = individual_extracts(session, excluding=request.request_id)
            result = build_package(con, request, keys, settings.extracts_dir,
                                   min_cell=settings.suppression_min_cell,
                                   k=settings.k_anonymity, earlier_extracts=earlier, now=now)
            with sessions() as session:
                mark_fulfilled(session, request.request_id, ExtractInfo(
                    package_path=str(result.package_path), sha256=result.package_sha256,
                    expires_at=result.expires_at,
                    detail=extract_detail(request, result)))
                session.commit()
            built.append(result)
            if on_built is not None:
                on_built(result)
    return built
