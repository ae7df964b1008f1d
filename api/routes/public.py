"""Routes anyone may call: published aggregates, metrics, the variable catalog, the public
request log. They read only data that is public by design (suppressed aggregates, request
titles), so they need no key and are not audited (an anonymous caller could otherwise grow the
audit log without limit)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from api.aggregates import AggregatePage, aggregate_page_json
from api.deps import ReadSessionDep, ServingDep
from api.params import Page
from api.serving import records
from core.catalog import VARIABLES
from core.errors import NotFound
from governance.public_log import PublicLogEntry, public_log

router = APIRouter(tags=["public"])

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]
Filter = Annotated[str | None, Query(max_length=100)]

@router.get("/health", tags=["public"])
def health() -> dict[str, str]:
    """Liveness check."""
    return {"status": "ok"}


@router.get("/v1/aggregates", response_model=AggregatePage)
def aggregates(
    snapshot: ServingDep,
    academic_year: Filter = None,
    reporting_lea: Filter = None,
    subgroup: Filter = None,
    subgroup_value: Filter = None,
    metric: Filter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Approved aggregates from the serving snapshot, suppressed as published; filter and page.

    A filter value the snapshot has no data for is refused (422 naming the valid choices)."""
    body = aggregate_page_json(snapshot, academic_year, reporting_lea, subgroup,
                               subgroup_value, metric, limit, offset)
    return Response(content=body, media_type="application/json")


@router.get("/v1/metrics")
def metrics(snapshot: ServingDep) -> list[dict[str, Any]]:
    """The metrics published in the serving snapshot, with their definitions."""
    cursor = snapshot.cursor()
    try:
        return records(cursor, "SELECT * FROM metrics")
    finally:
        cursor.close()


@router.get("/v1/snapshot")
def snapshot(snapshot: ServingDep) -> dict[str, Any]:
    """Which publish run the aggregates come from, and its suppression settings."""
    snapshot.cursor().close()  # (re)opens the current file
    info = snapshot.info()
    if not info:
        raise NotFound("the serving snapshot has no snapshot_info row")
    return info


class CatalogVariable(BaseModel):
    name: str
    role: str
    dtype: str
    description: str


@router.get("/v1/catalog", response_model=list[CatalogVariable])
def catalog() -> list[CatalogVariable]:
    """Variables a researcher may request (docs/metrics.md)."""
    return [CatalogVariable(name=v.name, role=v.role, dtype=v.dtype, description=v.description)
            for v in VARIABLES]


@router.get("/v1/public/requests", response_model=Page[PublicLogEntry])
def public_requests(session: ReadSessionDep, limit: Limit = 100,
                    offset: Offset = 0) -> Page[PublicLogEntry]:
    """The public request log: title, purpose, status and decision dates; no personal data."""
    total, entries = public_log(session, limit=limit, offset=offset)
    return Page[PublicLogEntry](data=entries, count=total, limit=limit, offset=offset)
