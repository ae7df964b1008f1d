"""Fulfilment of an approved data request: the one place that wires analytics and deidentify."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from analytics import aggregate_for_request
from core.keys import KeyProvider
from core.requests import ApprovedRequest, RequestKind
from deidentify import ExtractResult, build_extract, package_table


def build_package(
    con: duckdb.DuckDBPyConnection,
    request: ApprovedRequest,
    keys: KeyProvider,
    out_dir: Path,
    *,
    min_cell: int,
    k: int,
    now: datetime | None = None,
) -> ExtractResult:
    """Individual requests go through de-identification; aggregate requests through the same
    small-cell suppression as the published aggregates, then the same encrypted packaging."""
    now = now or datetime.now(UTC)
    if request.kind == RequestKind.INDIVIDUAL:
        return build_extract(con, request, keys, out_dir, k=k, now=now)
    table = aggregate_for_request(con, request, min_cell=min_cell)
    return package_table(table, request, keys, out_dir, now)
