"""Use case: preview a request (what would leave, before anyone approves it).

The API routes and the portal pages of researcher and board call :func:`preview_request`.

It runs what fulfilment would run, on today's warehouse, without building or keeping anything:
individual-level requests go through ``deidentify.plan_for_request`` (rows, the rung each
quasi-identifier is generalised to or withheld at k, rows suppressed, also for the variables
shared with earlier extracts of other requests, which the caller reads from the governance
store exactly as fulfilment does); aggregate requests go
through ``analytics.aggregate_for_request`` (cells, and cells suppressed by the published
rule). The warehouse is opened for the length of one preview.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from core.catalog import STUDENT_YEAR
from core.cohort import cohort_where
from core.errors import Busy, NotFound, UserError
from core.requests import ApprovedRequest, CohortFilter, RequestKind
from core.settings import Settings
from core.warehouse import open_warehouse
from deidentify import EarlierExtracts
from governance.models import DataRequest
from governance.requests import check_group_by, check_variables, individual_extracts


class PreviewInput(BaseModel):
    """The parts of a request that decide what would leave."""

    kind: RequestKind
    variables: list[str] = Field(default_factory=list, max_length=64)
    cohort: CohortFilter = Field(default_factory=CohortFilter)
    group_by: list[str] = Field(default_factory=list, max_length=8)

    @field_validator("variables")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return check_variables(value, "variables")

    @field_validator("group_by")
    @classmethod
    def _group_known(cls, value: list[str]) -> list[str]:
        return check_group_by(value)


class Preview(BaseModel):
    kind: RequestKind
    k: int
    cohort_rows: int = Field(description="rows of analytics.student_year the cohort selects")
    expected_rows: int = Field(description="rows (individual) or cells (aggregate) released")
    persons: int | None = None
    generalised: dict[str, str] = Field(default_factory=dict,
                                        description="quasi-identifier -> rung it is released at")
    withheld: list[str] = Field(default_factory=list)
    suppressed_rows: int = 0
    linkage_variables: list[str] = Field(
        default_factory=list, description="variables an earlier individual-level extract of "
        "another request also holds: each person's pattern over them must be shared by k")
    linkage_suppressed_rows: int = Field(
        default=0, description="rows (of suppressed_rows) of people whose pattern over the "
        "linkage variables is shared by fewer than k")
    cells: int = 0
    suppressed_cells: int = 0
    notes: list[str] = Field(default_factory=list)


def preview_request(*, settings: Settings, session: Session, data: PreviewInput,
                    excluding: str | None = None) -> Preview:
    """The preview for ``data``; ``Busy`` when the pipeline holds the warehouse.
    ``excluding``: the request previewed, when it exists already (its own extract is not an
    earlier one). The earlier extracts are read as fulfilment reads them."""
    return preview(settings, data, individual_extracts(session, excluding=excluding))


def preview_stored_request(*, settings: Settings, session: Session, request: DataRequest
                           ) -> Preview:
    """The preview of a request already written (the board's view of it)."""
    data = PreviewInput(kind=RequestKind(request.kind), variables=list(request.variables),
                        cohort=CohortFilter.model_validate(request.cohort),
                        group_by=list(request.group_by))
    return preview_request(settings=settings, session=session, data=data, excluding=request.id)


def preview(settings: Settings, data: PreviewInput, earlier_extracts: EarlierExtracts
            ) -> Preview:
    """The preview for ``data`` against ``earlier_extracts`` (request id -> variables)."""
    if not data.variables:
        raise UserError("variables: choose at least one variable to preview")
    if not settings.warehouse_path.exists():
        raise NotFound("no data has been linked yet, so there is nothing to preview")
    request = ApprovedRequest(
        request_id="preview", kind=data.kind, title="preview", purpose="preview",
        variables=data.variables, cohort=data.cohort, group_by=data.group_by,
        expires_at=datetime.now(UTC) + timedelta(days=1), requester="preview",
    )
    try:
        # Aggregate tables need each person's stable record key (cell-key rounding), which the
        # first table ever made creates: that preview opens the warehouse for writing, as an
        # upload does. Individual-level previews only read.
        con = open_warehouse(settings, read_only=data.kind == RequestKind.INDIVIDUAL)
    except duckdb.Error as exc:  # locked by a pipeline run, or open for an upload right now
        raise Busy("the warehouse is busy with a pipeline run; try the preview again in a "
                   "minute") from exc
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'analytics' "
                           "AND table_name = 'student_year'").fetchone()[0]:  # type: ignore[index]
            raise NotFound("no outcomes have been built yet (c2c outcomes), so there is "
                           "nothing to preview")
        return _individual(con, request, settings, earlier_extracts) \
            if data.kind == RequestKind.INDIVIDUAL \
            else _aggregate(con, request, settings)
    finally:
        con.close()


def _cohort_rows(con: duckdb.DuckDBPyConnection, request: ApprovedRequest) -> int:
    where, params = cohort_where(request.request_id, request.cohort)  # the builds' own SQL
    row = con.execute(f"SELECT count(*) FROM {STUDENT_YEAR} WHERE {where}", params).fetchone()
    return int(row[0]) if row else 0


def _individual(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
                settings: Settings, earlier_extracts: EarlierExtracts) -> Preview:
    from deidentify import plan_for_request

    plan = plan_for_request(con, request, k=settings.k_anonymity,
                            earlier_extracts=earlier_extracts)
    rungs = plan.rung_names()
    withheld = [q for q, rung in rungs.items() if rung == "withheld"]
    generalised = {q: rung for q, rung in rungs.items() if rung != q and rung != "withheld"}
    notes = []
    if plan.rows == 0:
        notes.append("the cohort selects no rows: check the years, LEAs and filters")
    if withheld:
        notes.append(f"{', '.join(withheld)} would be replaced by '*' for everyone: with these "
                     f"variables no finer value keeps every group at {plan.k} or more people")
    shared = plan.cross.linkage_variables
    if plan.linkage_suppressed_rows:
        notes.append(f"{plan.linkage_suppressed_persons} people would be left out because their "
                     f"pattern of {', '.join(shared)} over the years, which an earlier extract "
                     f"also holds, is shared by fewer than {plan.k} people: dropping those "
                     "variables or years keeps them")
    return Preview(kind=request.kind, k=plan.k, cohort_rows=plan.rows,
                   expected_rows=plan.released_rows, persons=plan.persons,
                   generalised=generalised, withheld=withheld,
                   suppressed_rows=plan.suppressed_rows, linkage_variables=shared,
                   linkage_suppressed_rows=plan.linkage_suppressed_rows, notes=notes)


def _aggregate(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
               settings: Settings) -> Preview:
    from analytics.requests import aggregate_for_request

    table = aggregate_for_request(con, request, min_cell=settings.suppression_min_cell)
    flags = table.column("suppressed").to_pylist()
    cells, hidden = len(flags), sum(1 for f in flags if f)
    rows = _cohort_rows(con, request)
    notes = []
    if rows == 0:
        notes.append("the cohort selects no rows: check the years, LEAs and filters")
    if cells and hidden == cells:
        notes.append("every cell would be suppressed: group by fewer variables or widen the "
                     "cohort")
    return Preview(kind=request.kind, k=settings.suppression_min_cell, cohort_rows=rows,
                   expected_rows=cells - hidden, cells=cells, suppressed_cells=hidden,
                   notes=notes)
