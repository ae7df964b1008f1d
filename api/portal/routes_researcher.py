"""Researcher pages: catalog, request form with a disclosure preview, status, download.

Creating, editing, submitting, withdrawing, regrouping and downloading call the same use
cases as ``api.routes.researcher`` (``services.data_request``: door checks, audit actions);
the preview is ``services.preview`` (also ``POST /v1/requests/preview``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Path, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import ValidationError

from api.choices import choices, metric_years
from api.deps import SessionDep
from api.deps import get_services as services
from api.extracts import package_response
from api.notifying import deliver_later
from api.portal.requestform import FormData, catalog_rows, form_choices, problems_of
from api.portal.web import ResearcherPage, check_csrf, finish, redirect, render
from api.review_schemas import RegroupIn
from core.errors import Busy, NotFound, UserError
from core.protection import MAX_TEXT
from core.requests import RequestKind
from governance import request_lifecycle as gr
from governance.request_inputs import RequestPatch
from services import data_request as requests
from services.choices import check_cohort
from services.preview import Preview, PreviewInput, researcher_preview
from services.request_drafts import form_values, problems_before_submit
from services.request_facts import partner_names, request_facts, withheld_before_submit

router = APIRouter(prefix="/portal/researcher", include_in_schema=False)
ROLE = "researcher"
RequestId = Annotated[str, Path(min_length=1, max_length=64)]
Texts = Annotated[list[str], Form(max_length=64)]


def _lea_names(db: Any) -> dict[str, str]:
    names = partner_names(session=db)
    db.rollback()
    return names


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
        "page": PAGE})


@router.get("/catalog")
def catalog(request: Request, me: ResearcherPage) -> Response:
    snapshot = services(request).serving
    c = choices(snapshot)
    years = metric_years(snapshot) if c.published else {}
    return render(request, "catalog.html", {"title": "Variable catalog",
                                            "rows": catalog_rows(c, years)})


def _form(kind: str, title: str, purpose: str, variables: list[str], years: list[str],
          leas: list[str], group_by: list[str], training_attested: str | None,
          irb_reference: str, requested_expiry: str) -> FormData:
    return FormData(kind=kind, title=title, purpose=purpose, variables=variables, years=years,
                    leas=leas, group_by=group_by, training_attested=bool(training_attested),
                    irb_reference=irb_reference, requested_expiry=requested_expiry)


def _render_form(request: Request, db: Any, form: FormData, *, problems: list[str] | None = None,
                 shown: Preview | None = None, preview_error: str | None = None,
                 status: int = 200, editing: str | None = None) -> Response:
    c = choices(services(request).serving)
    withheld = []
    if form.variables:
        try:
            withheld = withheld_before_submit(
                session=db, variables=form.variables, cohort=form.cohort(),
                group_by=form.group_by if form.kind == "aggregate" else [],
                purpose_code="research")
        except ValidationError:
            withheld = []  # the form's own problems are listed; nothing to say about agreements
    return render(request, "request_form.html", {
        "title": f"Edit draft {editing}" if editing else "New data request", "form": form,
        "problems": problems or [], "preview": shown, "preview_error": preview_error,
        "withheld": withheld,
        "form_action": f"/portal/researcher/requests/{editing}/edit" if editing
        else "/portal/researcher/new", **form_choices(c, _lea_names(db))}, status=status)


@router.get("/new")
def new(request: Request, db: SessionDep, me: ResearcherPage) -> Response:
    return _render_form(request, db, FormData())


def _save(request: Request, db: Any, me: Any, background: BackgroundTasks, form: FormData,
          action: str, editing: str | None) -> Response:
    """Preview, save or submit what the form holds (a new request, or the draft ``editing``).
    A Submit that would be refused creates and changes nothing and keeps the form."""
    c = choices(services(request).serving)
    if action == "preview":
        try:
            check_cohort(c, form.years, form.leas)
            data = PreviewInput(kind=RequestKind(form.kind), variables=form.variables,
                                cohort=form.cohort(),
                                group_by=form.group_by if form.kind == "aggregate" else [])
            svc = services(request)
            db.rollback()  # the page's write session holds nothing while the preview runs
            with svc.read_sessions() as read:
                shown = researcher_preview(settings=svc.settings, sessions=svc.sessions,
                                           read=read, actor=me.name, user_id=me.user_id,
                                           data=data)
        except (ValidationError, ValueError) as exc:
            return _render_form(request, db, form, problems=problems_of(exc), status=422,
                                editing=editing)
        except (UserError, Busy) as exc:
            return _render_form(request, db, form, preview_error=str(exc), editing=editing)
        return _render_form(request, db, form, shown=shown, editing=editing)
    try:
        body = form.to_input()
    except (ValidationError, ValueError) as exc:
        return _render_form(request, db, form, problems=problems_of(exc), status=422,
                            editing=editing)
    if action == "submit":
        refused = problems_before_submit(body=body, today=date.today())
        if refused:
            return _render_form(request, db, form, problems=[
                "not submitted, nothing was saved: " + "; ".join(refused)], status=422,
                editing=editing)
    svc = services(request)
    try:
        # The API's use cases: same door checks, same audit entries, same notifications
        # (provider review), so the page and the API cannot drift.
        if editing:
            rid = requests.edit_request(session=db, researcher=me, request_id=editing,
                                        patch=RequestPatch(**body.model_dump()),
                                        published=choices(svc.serving)).id
        else:
            rid = requests.create_request(session=db, researcher=me, data=body,
                                          published=choices(svc.serving)).id
        if action == "submit":
            requests.submit_request(session=db, settings=svc.settings, researcher=me,
                                    request_id=rid)
            deliver_later(background, svc.sessions, svc.settings, done=db)
    except UserError as exc:
        if isinstance(exc, NotFound):  # no such request for you: the 404 page
            raise
        return _render_form(request, db, form, problems=[str(exc)], status=422,
                            editing=editing)
    done = "submitted" if action == "submit" else "saved as a draft"
    return redirect(request, f"/portal/researcher/requests/{rid}", f"Request {rid} {done}.")


def form_fields(kind: Annotated[str, Form(max_length=20)] = "aggregate",
                title: Annotated[str, Form(max_length=300)] = "",
                purpose: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                variables: Texts = [],  # noqa: B006 (FastAPI copies defaults)
                years: Texts = [],  # noqa: B006
                leas: Texts = [],  # noqa: B006
                group_by: Texts = [],  # noqa: B006
                training_attested: Annotated[str | None, Form(max_length=10)] = None,
                irb_reference: Annotated[str, Form(max_length=200)] = "",
                requested_expiry: Annotated[str, Form(max_length=10)] = "") -> FormData:
    """The request form's fields (the new-request and the edit-draft pages post the same)."""
    return _form(kind, title, purpose, variables, years, leas, group_by, training_attested,
                 irb_reference, requested_expiry)


Fields = Annotated[FormData, Depends(form_fields)]
Action = Annotated[str, Form(max_length=20)]
Csrf = Annotated[str | None, Form(max_length=100)]


@router.post("/new")
def create(request: Request, db: SessionDep, me: ResearcherPage, background: BackgroundTasks,
           form: Fields, action: Action = "preview", csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    return _save(request, db, me, background, form, action, None)


@router.get("/requests/{request_id}/edit")
def edit_form(request_id: RequestId, request: Request, db: SessionDep,
              me: ResearcherPage) -> Response:
    r = requests.own_request(session=db, researcher=me, request_id=request_id)
    values = form_values(r)
    status = r.status
    if status != "draft":
        return redirect(request, f"/portal/researcher/requests/{request_id}",
                        f"Request {request_id} is no longer a draft, so it cannot be edited.")
    return _render_form(request, db, FormData(**values), editing=request_id)  # type: ignore[arg-type]


@router.post("/requests/{request_id}/edit")
def edit(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
         background: BackgroundTasks, form: Fields, action: Action = "preview",
         csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    return _save(request, db, me, background, form, action, request_id)


@router.get("/requests/{request_id}")
def detail(request_id: RequestId, request: Request, db: SessionDep,
           me: ResearcherPage) -> Response:
    quorum = services(request).settings.board_quorum
    view = requests.request_progress(session=db, researcher=me, request_id=request_id)
    r = view.request
    ctx = {"title": f"Request {r.id}: {r.title}", "r": r, "approvals": gr.approvals(r),
           "quorum": quorum, "problems": view.problems,
           "facts": request_facts(session=db, request=r, quorum=quorum),
           "names": partner_names(session=db),
           "reviews": [(p.org_code, p.status) for p in r.provider_reviews]}
    return render(request, "request_detail.html", ctx)


@router.post("/requests/{request_id}/submit")
def submit(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
           background: BackgroundTasks,
           csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    svc = services(request)
    try:
        requests.submit_request(session=db, settings=svc.settings, researcher=me,
                                request_id=request_id)
    except UserError as exc:  # said on the request's page, never a bare error page
        if isinstance(exc, NotFound):  # no such request for you: the 404 page
            raise
        return redirect(request, f"/portal/researcher/requests/{request_id}",
                        f"Not submitted: {exc}")
    deliver_later(background, svc.sessions, svc.settings, done=db)
    return redirect(request, f"/portal/researcher/requests/{request_id}",
                    f"Request {request_id} submitted.")


@router.post("/requests/{request_id}/withdraw")
def withdraw(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
             csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    try:
        requests.withdraw_request(session=db, researcher=me, request_id=request_id)
    except UserError as exc:
        if isinstance(exc, NotFound):
            raise
        return redirect(request, f"/portal/researcher/requests/{request_id}",
                        f"Not withdrawn: {exc}")
    return redirect(request, f"/portal/researcher/requests/{request_id}",
                    f"Request {request_id} withdrawn.")


@router.post("/requests/{request_id}/regroup")
def regroup(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
            background: BackgroundTasks,
            keep: Texts = [],  # noqa: B006 (FastAPI copies defaults)
            csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    """After failed output checks: keep only the ticked grouping variables (never add any)."""
    check_csrf(request, csrf_token)
    svc = services(request)
    # The API's use case: only dropping approved variables, audit, old package gone.
    requests.regroup_request(session=db, researcher=me, request_id=request_id,
                             group_by=RegroupIn(group_by=keep).group_by)
    deliver_later(background, svc.sessions, svc.settings, done=db)
    return redirect(request, f"/portal/researcher/requests/{request_id}")


@router.get("/requests/{request_id}/extract")
def download(request_id: RequestId, db: SessionDep, me: ResearcherPage) -> FileResponse:
    return package_response(request_id, requests.extract_package(
        session=db, researcher=me, request_id=request_id))


@router.post("/requests/{request_id}/key")
def key(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
        csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    """The data key is shown only on a deliberate, CSRF-checked request (it opens the data)."""
    check_csrf(request, csrf_token)
    key = requests.extract_key(session=db, keys=services(request).keys, researcher=me,
                               request_id=request_id)
    return render(request, "extract_key.html", {
        "title": f"Key for {request_id}", "rid": request_id, "expires": key.expires_at,
        "key": key})


@router.post("/requests/{request_id}/key.txt")
def key_file(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
             csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    """The key as an age identity file (``age -d -i``), on a deliberate, CSRF-checked click."""
    check_csrf(request, csrf_token)
    key = requests.extract_key(session=db, keys=services(request).keys, researcher=me,
                               request_id=request_id)
    return finish(request, PlainTextResponse(key.key_file, headers={
        "Content-Disposition": f'attachment; filename="{key.file_name}"',
        "Cache-Control": "no-store"}))
