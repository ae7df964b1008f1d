"""Use case: preview a request (what would leave, before anyone approves it).

The API routes and the portal pages of researcher and board call :func:`researcher_preview`
and :func:`preview_stored_request`.

It runs what fulfilment would run, on today's warehouse, without building or keeping anything:
individual-level requests go through ``deidentify.plan_for_request`` (rows, the rung each
quasi-identifier is generalised to or masked (``*``) at k, rows suppressed, also for the variables
shared with earlier extracts of other requests, which the caller reads from the governance
store exactly as fulfilment does); aggregate requests go
through ``analytics.aggregate_for_request`` (cells, and cells suppressed by the published
rule). The warehouse is opened read-only for the length of one preview.

Every number it answers is a coarse band from the egress gate (``core.gate.gate_band``), never
a count: a preview's cohort is the caller's choice, so exact answers were a counting oracle
(issue 25: every suppressed cell of a snapshot recovered by differencing two previews). An
outcome variable cannot filter a preview's cohort. The caller writes the audit entry (with
the cohort) and spends the query budget (``governance.preview_budget``) before it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session, sessionmaker

from analytics.request_tables import cohort_counts
from core.cohort import preview_filter_problem
from core.errors import Busy, InputRejected, NotFound, UserError
from core.gate import GatedBand, gate_band, label_key
from core.requests import ApprovedRequest, CohortFilter, RequestKind
from core.settings import Settings
from core.warehouse import open_warehouse
from deidentify import EarlierExtracts
from governance import preview_budget
from governance.audit import audited
from governance.extract_registry import individual_extracts
from governance.models import DataRequest
from governance.request_facts import Withheld, withheld_variables
from governance.request_inputs import check_group_by, check_variables
from services.request_facts import withheld_before_submit


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
    """What a preview may say: every number is a coarse band from the egress gate
    (``core.gate.gate_band``), never a count (docs/metrics.md, "Previews")."""

    kind: RequestKind
    k: int = Field(description="The protection parameter applied (k, or min_cell)")
    cohort_rows: GatedBand = Field(description="rows of analytics.student_year the cohort "
                                   "selects, as a band")
    expected_rows: GatedBand = Field(description="rows (individual) or shown cells (aggregate) "
                                     "released, as a band")
    persons: GatedBand | None = None
    generalised: dict[str, str] = Field(default_factory=dict,
                                        description="quasi-identifier -> rung it is released at")
    withheld: list[Withheld] = Field(
        default_factory=list, description="requested variables the output would not hold, "
        "with why (governance.request_facts, as on the request's page): left out of every "
        "figure here")
    masked: list[str] = Field(
        default_factory=list, description="quasi-identifiers released as '*' for everyone "
        "(no finer value keeps every group at k); disclosure control, not an agreement")
    suppressed_rows: GatedBand | None = None
    linkage_variables: list[str] = Field(
        default_factory=list, description="variables an earlier individual-level extract of "
        "another request also holds: each person's pattern over them must be shared by k")
    linkage_suppressed_rows: GatedBand | None = Field(
        default=None, description="rows (of suppressed_rows) of people whose pattern over the "
        "linkage variables is shared by fewer than k, as a band")
    cells: GatedBand | None = None
    suppressed_cells: GatedBand | None = None
    notes: list[str] = Field(default_factory=list)


def preview_stored_request(*, settings: Settings, session: Session, request: DataRequest
                           ) -> Preview:
    """The board's preview of a request already written: the cohort the board is judging,
    not one chosen to probe the data (outcome filters allowed), banded all the same. Read
    ``session`` only: it never needs the governance store's write lock."""
    data = PreviewInput(kind=RequestKind(request.kind), variables=list(request.variables),
                        cohort=CohortFilter.model_validate(request.cohort),
                        group_by=list(request.group_by))
    return preview(settings, data, individual_extracts(session, excluding=request.id),
                   caller_chosen=False, withheld=withheld_variables(session, request))


def researcher_preview(*, settings: Settings, sessions: sessionmaker[Session], read: Session,
                       actor: str, user_id: int, data: PreviewInput) -> Preview:
    """A researcher's preview, for the API and the portal alike: a short write (the audit
    entry with the whole question, and the query budget: ``OverBudget`` refuses before
    anything runs), then the preview on a read session, outside the governance store's
    write lock (a slow preview once stalled every other caller for 41-57 s)."""
    with sessions() as session, audited(session, actor=actor, role="researcher",
                                        action="request.preview",
                                        detail=preview_audit_detail(data)):
        preview_budget.spend(session, user_id=user_id, cohort=data.cohort)
    earlier = individual_extracts(read)
    # The same function the request's page, the API answer and the release report use.
    withheld = withheld_before_submit(session=read, variables=data.variables,
                                      group_by=data.group_by, cohort=data.cohort,
                                      purpose_code="research")
    read.rollback()
    return preview(settings, data, earlier, withheld=withheld)


def preview_audit_detail(data: PreviewInput) -> dict[str, object]:
    """What the audit log keeps of a preview: the whole question (kind, variables, grouping,
    cohort), so a differencing series is visible afterwards."""
    return {"kind": data.kind.value, "variables": list(data.variables),
            "group_by": list(data.group_by),
            "cohort": data.cohort.model_dump(exclude_defaults=True)}


def preview(settings: Settings, data: PreviewInput, earlier_extracts: EarlierExtracts, *,
            caller_chosen: bool = True, withheld: list[Withheld] | None = None) -> Preview:
    """The preview for ``data``; ``Busy`` when the pipeline holds the warehouse.
    ``earlier_extracts``: ``governance.extract_registry.individual_extracts`` (excluding the request
    previewed), the same input fulfilment gives the build. ``withheld``: the variables the
    output would not hold (``governance.request_facts.withheld_variables``): left out of every
    figure, as fulfilment leaves them out of the output, and named with why."""
    if not data.variables:
        raise UserError("variables: choose at least one variable to preview")
    withheld = withheld or []
    dropped = {w.variable for w in withheld}
    kept = [v for v in data.variables if v not in dropped]
    if not kept:
        raise UserError("variables: every variable chosen is withheld ("
                        + "; ".join(f"{w.variable}: {w.reason}" for w in withheld)
                        + "), so the output would hold nothing")
    # The board's preview of a submitted request is of a cohort it is judging, not one chosen
    # to probe the data; its answer is banded all the same.
    problem = preview_filter_problem(data.cohort) if caller_chosen else None
    if problem is not None:
        raise InputRejected("preview refused", problem)
    if not settings.warehouse_path.exists():
        raise NotFound("no data has been linked yet, so there is nothing to preview")
    request = ApprovedRequest(
        request_id="preview", kind=data.kind, title="preview", purpose="preview",
        variables=kept, cohort=data.cohort,
        group_by=[g for g in data.group_by if g not in dropped],
        expires_at=datetime.now(UTC) + timedelta(days=1), requester="preview",
        withheld_variables=sorted(dropped),
    )
    try:
        # Previews only read: a person without a record key yet counts with key 0.
        con = open_warehouse(settings, read_only=True)
    except duckdb.Error as exc:  # locked by a pipeline run, or open for an upload right now
        raise Busy("the warehouse is busy with a pipeline run; try the preview again in a "
                   "minute") from exc
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'analytics' "
                           "AND table_name = 'student_year'").fetchone()[0]:  # type: ignore[index]
            raise NotFound("no outcomes have been built yet (c2c outcomes), so there is "
                           "nothing to preview")
        shown = _individual(con, request, settings, earlier_extracts) \
            if data.kind == RequestKind.INDIVIDUAL \
            else _aggregate(con, request, settings)
        return shown.model_copy(update={"withheld": withheld})
    finally:
        con.close()


def _band(count: int, min_cell: int, request_key: str, what: str) -> GatedBand:
    """A band for a count with no record keys behind it (rows a plan releases or suppresses):
    keyed by the cohort and the figure, so the same preview always says the same."""
    return gate_band(count, label_key(f"preview/{request_key}/{what}"), min_cell)


def _cohort_key(request: ApprovedRequest) -> str:
    return request.cohort.model_dump_json() + "|" + ",".join(sorted(request.variables)) + \
        "|" + ",".join(sorted(request.group_by))


def _individual(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
                settings: Settings, earlier_extracts: EarlierExtracts) -> Preview:
    from deidentify import plan_for_request

    min_cell = settings.suppression_min_cell
    plan = plan_for_request(con, request, k=settings.k_anonymity,
                            earlier_extracts=earlier_extracts)
    rows, rows_key, persons, persons_key = cohort_counts(con, request)
    key = _cohort_key(request)
    rungs = plan.rung_names()
    masked = [q for q, rung in rungs.items() if rung == "withheld"]
    generalised = {q: rung for q, rung in rungs.items() if rung != q and rung != "withheld"}
    notes = []
    if plan.rows == 0:
        notes.append("the cohort selects no rows: check the years, LEAs and filters")
    if masked:
        notes.append(f"{', '.join(masked)} would be replaced by '*' for everyone: with these "
                     f"variables no finer value keeps every group at {plan.k} or more people")
    shared = plan.cross.linkage_variables
    if plan.linkage_suppressed_rows:
        notes.append(f"some people would be left out because their pattern of "
                     f"{', '.join(shared)} over the years, which an earlier extract also "
                     f"holds, is shared by fewer than {plan.k} people: dropping those "
                     "variables or years keeps them")
    return Preview(kind=request.kind, k=plan.k,
                   cohort_rows=gate_band(rows, rows_key, min_cell),
                   expected_rows=_band(plan.released_rows, min_cell, key, "released"),
                   persons=gate_band(persons, persons_key, min_cell),
                   generalised=generalised, masked=masked,
                   suppressed_rows=_band(plan.suppressed_rows, min_cell, key, "suppressed"),
                   linkage_variables=shared,
                   linkage_suppressed_rows=_band(plan.linkage_suppressed_rows, min_cell, key,
                                                 "linkage"),
                   notes=notes)


def _aggregate(con: duckdb.DuckDBPyConnection, request: ApprovedRequest,
               settings: Settings) -> Preview:
    from analytics.request_tables import aggregate_for_request

    min_cell = settings.suppression_min_cell
    table = aggregate_for_request(con, request, min_cell=min_cell, read_only=True)
    flags = table.column("suppressed").to_pylist()
    cells, hidden = len(flags), sum(1 for f in flags if f)
    rows, rows_key, _, _ = cohort_counts(con, request)
    key = _cohort_key(request)
    notes = []
    if rows == 0:
        notes.append("the cohort selects no rows: check the years, LEAs and filters")
    if cells and hidden == cells:
        notes.append("every cell would be suppressed: group by fewer variables or widen the "
                     "cohort")
    return Preview(kind=request.kind, k=min_cell,
                   cohort_rows=gate_band(rows, rows_key, min_cell),
                   expected_rows=_band(cells - hidden, min_cell, key, "shown"),
                   cells=_band(cells, min_cell, key, "cells"),
                   suppressed_cells=_band(hidden, min_cell, key, "hidden"), notes=notes)
