"""Researcher pages: own requests, catalog, a request's status; submit, withdraw, regroup.

They call the same use cases as ``api.routes.researcher`` (``services.data_request``: door
checks, audit actions). The request form: ``routes_researcher_form``; the download and its key:
``routes_researcher_extract``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.choices import choices, metric_years
from api.deps import SessionDep
from api.deps import get_services as services
from api.notifying import OutboxDep
from api.params import RequestId
from api.portal.access import ResearcherPage
from api.portal.csrf import check_csrf
from api.portal.form_fields import CsrfToken, Texts
from api.portal.requestform import catalog_rows
from api.portal.web import redirect, refused, render
from api.review_schemas import RegroupIn
from core.errors import UserError
from governance import request_lifecycle as gr
from services import data_request as requests
from services.request_facts import partner_names, request_facts

router = APIRouter(prefix="/portal/researcher", include_in_schema=False)
PAGE = 50


@router.get("")
def home(request: Request, db: SessionDep, me: ResearcherPage,
         offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    quorum = services(request).settings.board_quorum
    total, page = requests.own_requests(session=db, researcher=me, limit=PAGE, offset=offset)
    rows = [{"r": r, "approvals": gr.approvals(r),
             "facts": request_facts(session=db, request=r, quorum=quorum)}
            for r in page]
    return render(request, "researcher.html", {
        "title": "Your data requests", "rows": rows, "total": total, "offset": offset,
        "page": PAGE, "quorum": quorum})


@router.get("/catalog")
def catalog(request: Request, me: ResearcherPage) -> Response:
    snapshot = services(request).serving
    c = choices(snapshot)
    years = metric_years(snapshot) if c.published else {}
    return render(request, "catalog.html", {"title": "Variable catalog",
                                            "rows": catalog_rows(c, years)})


@router.get("/requests/{request_id}")
def detail(request_id: RequestId, request: Request, db: SessionDep,
           me: ResearcherPage) -> Response:
    quorum = services(request).settings.board_quorum
    view = requests.request_progress(session=db, researcher=me, request_id=request_id)
    r = view.request
    ctx = {"title": f"Request {r.id}: {r.title}", "r": r, "approvals": gr.approvals(r),
           "quorum": quorum, "problems": view.problems,
           "facts": request_facts(session=db, request=r, quorum=quorum),
           "names": partner_names(session=db)}
    return render(request, "request_detail.html", ctx)


@router.post("/requests/{request_id}/submit")
def submit(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
           outbox: OutboxDep,
           csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    svc = services(request)
    try:
        requests.submit_request(session=db, settings=svc.settings, researcher=me,
                                request_id=request_id)
    except UserError as exc:
        return refused(request, exc, f"/portal/researcher/requests/{request_id}",
                       "Not submitted")
    outbox.send_after(db)
    return redirect(request, f"/portal/researcher/requests/{request_id}",
                    f"Request {request_id} submitted.")


@router.post("/requests/{request_id}/withdraw")
def withdraw(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
             csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    try:
        requests.withdraw_request(session=db, researcher=me, request_id=request_id)
    except UserError as exc:
        return refused(request, exc, f"/portal/researcher/requests/{request_id}",
                       "Not withdrawn")
    return redirect(request, f"/portal/researcher/requests/{request_id}",
                    f"Request {request_id} withdrawn.")


@router.post("/requests/{request_id}/regroup")
def regroup(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
            outbox: OutboxDep,
            keep: Texts = [],  # noqa: B006 (FastAPI copies defaults)
            csrf_token: CsrfToken = None) -> Response:
    """After failed output checks: keep only the ticked grouping variables (never add any)."""
    check_csrf(request, csrf_token)
    # The API's use case: only dropping approved variables, audit, old package gone.
    requests.regroup_request(session=db, researcher=me, request_id=request_id,
                             group_by=RegroupIn(group_by=keep).group_by)
    outbox.send_after(db)
    return redirect(request, f"/portal/researcher/requests/{request_id}")


