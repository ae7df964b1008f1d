"""Use case: fulfil approved requests (build, check and register each one's extract).

The one place that wires analytics and deidentify for a release: ``c2c fulfil`` and the
Dagster ``research_extracts`` asset both call :func:`fulfil_approved`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.orm import Session, sessionmaker

from analytics import aggregate_for_request
from analytics.request_table_checks import check_aggregate, record_release
from core.errors import UserError
from core.gate import gate_figures, gate_published, plain
from core.keys import KeyProvider
from core.linkage_basis import linkage_basis
from core.requests import ApprovedRequest, RequestKind
from core.settings import Settings
from core.warehouse import warehouse
from deidentify import EarlierExtracts, ExtractResult, build_extract, package_table
from governance.extract_registry import (
    ExtractInfo,
    expire_due,
    individual_extracts,
    mark_fulfilled,
)
from governance.models import DataRequest
from governance.request_lifecycle import (
    mark_failed,
    queued_request_ids,
    to_approved,
)
from linkage.id_changes import record_extract_persons

# Key of the automated output checks in a result's manifest and the extract record's detail
# (governance.output_release reads them there).
OUTPUT_CHECKS = "output_checks"
_log = logging.getLogger(__name__)


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
    ``earlier_extracts``: ``governance.extract_registry.individual_extracts(session,
    excluding=<this request>)``, read just before the build (the variables this extract must
    not be linkable on; unused for aggregate tables)."""
    now = now or datetime.now(UTC)
    if request.kind == RequestKind.INDIVIDUAL:
        result = build_extract(
            con, request, keys, out_dir, k=k, now=now, earlier_extracts=earlier_extracts,
            # its people's ids, so a later link run can tell the holder how many changed
            on_released=lambda persons: record_extract_persons(con, request.request_id,
                                                               persons))
        # build_extract refuses to seal a package that is not k-anonymous or holds an
        # identifier, so reaching here is the pass of both checks.
        result.manifest[OUTPUT_CHECKS] = [
            {"check": "k_anonymity", "passed": True, "detail": f"every row's quasi-identifiers "
             f"are shared by at least {k} people (rows suppressed: "
             f"{_gated(result.suppressed_rows, min_cell, request.request_id, 'suppressed')})"},
            {"check": "identifier_scan", "passed": True, "detail": "no identifier found"},
            {"check": "cross_extract_linkage", "passed": True, "detail": _linkage_detail(
                result, k, min_cell)}]
        return result
    table = aggregate_for_request(con, request, min_cell=min_cell)
    checks = check_aggregate(con, request, table, min_cell)
    result = package_table(table, request, keys, out_dir, now, linkage=linkage_basis(con))
    result.manifest[OUTPUT_CHECKS] = [c.as_dict() for c in checks]
    if all(c.passed for c in checks):
        record_release(con, request, table)
    return result


def _gated(count: int, min_cell: int, request_id: str, what: str) -> str:
    """A count written into a report's text, through the egress gate."""
    gated = gate_published(count, min_cell, label=f"release-report/{request_id}/{what}")
    return f"fewer than {min_cell}" if gated.value is None else f"about {gated.value:,}"


def _linkage_detail(result: ExtractResult, k: int, min_cell: int) -> str:
    cross = result.disclosure.cross_extract if result.disclosure is not None else {}
    request_id = result.request_id
    shared = cross.get("linkage_variables") or []
    if not shared:
        return (f"shares no variable with the {len(cross.get('earlier_requests', []))} earlier "
                "individual-level extract(s)")
    return (f"shares {', '.join(shared)} with earlier extract(s) of "
            f"{', '.join(cross.get('linked_requests', []))}; every person's pattern over them "
            f"is shared by at least {k} people (rows suppressed: "
            f"{_gated(int(cross.get('suppressed_rows', 0)), min_cell, request_id, 'x-rows')}, "
            "of people: "
            f"{_gated(int(cross.get('suppressed_persons', 0)), min_cell, request_id, 'x-p')})")


def extract_detail(request: ApprovedRequest, result: ExtractResult, *, min_cell: int
                   ) -> dict[str, Any]:
    """What the governance store keeps of a built output: the release report a checker and the
    partners whose records it used read (no identifier; counts and names of variables). Every
    count in it passes the egress gate here (``core.gate.gate_figures``), so the report, the
    checker's view and the e-mails about it never carry an exact count."""
    detail: dict[str, Any] = {
        "rows": result.rows, "suppressed_rows": result.suppressed_rows,
        "variables": list(result.variables),
        "excluded_partners": list(request.excluded_partners),
        "withheld_variables": list(request.withheld_variables),
        "lapsed_partners": list(request.lapsed_partners),
        OUTPUT_CHECKS: list(result.manifest.get(OUTPUT_CHECKS, []))}
    if result.disclosure is not None:  # the board's release report shows how it was protected
        detail["k"] = result.disclosure.k
        detail["generalisations"] = result.disclosure.generalisations
        detail["cross_extract"] = result.disclosure.cross_extract
    if request.kind == RequestKind.AGGREGATE:
        # An aggregate table's rows are its cells (a count of table cells, not of people);
        # its counts of people left through the gate cell by cell when the table was made.
        return detail
    return plain(gate_figures(detail, min_cell, label=f"release-report/{request.request_id}"))


@dataclass(frozen=True)
class FulfilFailure:
    request_id: str
    reason: str


@dataclass
class FulfilOutcome:
    built: list[ExtractResult] = field(default_factory=list)
    failed: list[FulfilFailure] = field(default_factory=list)


def failure_reason(exc: Exception) -> str:
    """What the researcher and the board read: a user error says what to change; anything
    else says only that it failed (its message can name files and settings: that goes to
    the operator's log)."""
    if isinstance(exc, UserError):
        return str(exc)
    return f"the build failed ({type(exc).__name__}); the operator has the details"


def fulfil_approved(
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    keys: KeyProvider,
    request_ids: Sequence[str] = (),
    on_built: Callable[[ExtractResult], None] | None = None,
    on_failed: Callable[[FulfilFailure], None] | None = None,
    now: datetime | None = None,
) -> FulfilOutcome:
    """Build the extract of every approved request whose fulfilment is queued (only those in
    ``request_ids`` when given), register each in governance and mark it fulfilled.

    One request at a time, each committed on its own. Partner control is re-read for each
    request just before its build (provider reviews and agreements,
    ``governance.request_lifecycle.to_approved``). A request that cannot be built is marked failed
    with its reason and the others are built regardless: one bad request never blocks
    fulfilment.
    """
    with sessions.begin() as session:  # extracts past their date go first (package and key)
        expire_due(session, now, keys=keys)
    with sessions() as session:
        ready = queued_request_ids(session)
    wanted = [r for r in ready if not request_ids or r in request_ids]
    outcome = FulfilOutcome()
    if not wanted:
        return outcome
    with warehouse(settings) as con:
        for request_id in wanted:
            try:
                # Read per request: the one fulfilled just before is an earlier extract too,
                # and a partner may have objected or ended its agreement since approval.
                with sessions() as session:
                    row = session.get(DataRequest, request_id)
                    if row is None:
                        continue
                    request = to_approved(row)
                    earlier = individual_extracts(session, excluding=request_id)
                result = build_package(con, request, keys, settings.extracts_dir,
                                       min_cell=settings.suppression_min_cell,
                                       k=settings.k_anonymity, earlier_extracts=earlier,
                                       now=now)
                with sessions() as session:
                    mark_fulfilled(session, request_id, ExtractInfo(
                        package_path=str(result.package_path), sha256=result.package_sha256,
                        expires_at=result.expires_at,
                        detail=extract_detail(request, result,
                                              min_cell=settings.suppression_min_cell)))
                    session.commit()
            except Exception as exc:  # noqa: BLE001 - one request's fault stays its own
                _log.warning("fulfilment of %s failed", request_id, exc_info=True)
                failure = FulfilFailure(request_id, failure_reason(exc))
                with sessions() as session:
                    mark_failed(session, request_id, failure.reason)
                    session.commit()
                outcome.failed.append(failure)
                if on_failed is not None:
                    on_failed(failure)
                continue
            outcome.built.append(result)
            if on_built is not None:
                on_built(result)
    return outcome
