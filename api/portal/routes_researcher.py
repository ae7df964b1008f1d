"""Researcher pages: catalog, request form with a disclosure preview, status, download.

Creating, submitting and downloading call the same governance functions, door checks and
audit actions as ``api.routes.researcher``; the preview is ``services.preview`` (also
``POST /v1/requests/preview``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Path, Request
from fastapi.responses import FileResponse, Response
from pydantic import ValidationError

from api.choices import check_cohort, choices
from api.deps import SessionDep
from api.deps import get_services as services
from api.partner_control_schemas import RegroupIn
from api.portal.requestform import FormData, catalog_rows, form_choices, problems_of
from api.portal.web import ResearcherPage, check_csrf, redirect, render
from api.routes import researcher as api
from core.errors import Busy, UserError
from core.requests import RequestKind
from governance import output_check
from governance import requests as gr
from governance.audit import audited
from governance.models import DataRequest
from governance.partners import list_partners
from services.preview import Preview, PreviewInput, preview_request

router = APIRouter(prefix="/portal/researcher", include_in_schema=False)
ROLE = "researcher"
RequestId = Annotated[str, Path(min_length=1, max_length=64)]
Texts = Annotated[list[str], Form(max_length=64)]


def next_step(r: DataRequest, quorum: int, release: str | None = None) -> str:
    """What happens next and who acts, in words."""
    approvals = gr.approvals(r)
    pending = [p.org_code for p in r.provider_reviews if p.status == "pending"]
    if r.status == "submitted" and pending:
        return (f"The data stewards of {', '.join(pending)}: they review the use of their "
                f"records first; then the board ({approvals} of {quorum} approvals so far).")
    if r.status == "fulfilled" and release not in (None, "released"):
        return (f"Two independent output checkers: the output is built and waits for its "
                f"release check ({release.replace('_', ' ')}); then you can download it.")
    return {
        "draft": "You: check the preview and submit the request to the board.",
        "submitted": f"The board: {approvals} of {quorum} approvals so far; board members "
                     "approve or deny with a reason.",
        "approved": "The operator's pipeline builds the extract; you are told when it is ready.",
        "fulfilled": "You: download the package and its key before it expires.",
        "denied": "Nobody: the request was denied. Read the reason, then write a new request.",
        "withdrawn": "Nobody: you withdrew it.",
        "expired": "Nobody: the extract expired and can no longer be downloaded.",
    }.get(r.status, "")


def _lea_names(db: Any) -> dict[str, str]:
    names = {p.org_code: p.name for p in list_partners(db)}
    db.rollback()
    return names


@router.get("")
def home(request: Request, db: SessionDep, me: ResearcherPage) -> Response:
    quorum = services(request).settings.board_quorum
    with audited(db, actor=me.name, role=ROLE, action="request.list"):
        rows = [{"r": r, "approvals": gr.approvals(r), "next": next_step(r, quorum)}
                for r in gr.list_own_requests(db, me.user_id)]
    return render(request, "researcher.html", {"title": "Your data requests", "rows": rows})


@router.get("/catalog")
def catalog(request: Request, me: ResearcherPage) -> Response:
    snapshot = services(request).serving
    c = choices(snapshot)

    def metric_years(cursor: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for metric, year in cursor.execute(
                "SELECT DISTINCT metric, CAST(academic_year AS VARCHAR) FROM published_aggregates"
                " ORDER BY 1, 2").fetchall():
            out.setdefault(str(metric), []).append(str(year))
        return out

    years = snapshot.cached(("metric_years",), metric_years) if c.published else {}
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
                 status: int = 200) -> Response:
    c = choices(services(request).serving)
    return render(request, "request_form.html", {
        "title": "New data request", "form": form, "problems": problems or [],
        "preview": shown, "preview_error": preview_error, **form_choices(c, _lea_names(db))},
        status=status)


@router.get("/new")
def new(request: Request, db: SessionDep, me: ResearcherPage) -> Response:
    return _render_form(request, db, FormData())


@router.post("/new")
def create(request: Request, db: SessionDep, me: ResearcherPage, background: BackgroundTasks,
           kind: Annotated[str, Form(max_length=20)] = "aggregate",
           title: Annotated[str, Form(max_length=300)] = "",
           purpose: Annotated[str, Form(max_length=gr.MAX_TEXT)] = "",
           variables: Texts = [],  # noqa: B006 (FastAPI copies defaults)
           years: Texts = [],  # noqa: B006
           leas: Texts = [],  # noqa: B006
           group_by: Texts = [],  # noqa: B006
           training_attested: Annotated[str | None, Form(max_length=10)] = None,
           irb_reference: Annotated[str, Form(max_length=200)] = "",
           requested_expiry: Annotated[str, Form(max_length=10)] = "",
           action: Annotated[str, Form(max_length=20)] = "preview",
           csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    form = _form(kind, title, purpose, variables, years, leas, group_by, training_attested,
                 irb_reference, requested_expiry)
    c = choices(services(request).serving)
    if action == "preview":
        try:
            check_cohort(c, form.years, form.leas)
            data = PreviewInput(kind=RequestKind(form.kind), variables=form.variables,
                                cohort=form.cohort(),
                                group_by=form.group_by if form.kind == "aggregate" else [])
            shown = preview_request(settings=services(request).settings, session=db, data=data)
        except (ValidationError, ValueError) as exc:
            return _render_form(request, db, form, problems=problems_of(exc), status=422)
        except (UserError, Busy) as exc:
            return _render_form(request, db, form, preview_error=str(exc))
        return _render_form(request, db, form, shown=shown)
    try:
        body = form.to_input()
    except (ValidationError, ValueError) as exc:
        return _render_form(request, db, form, problems=problems_of(exc), status=422)
    svc = services(request)
    try:
        # The API's own route functions: same door checks, same audit entries, same
        # notifications (provider review), so the page and the API cannot drift.
        rid = api.create(body, svc.serving, db, me).id
        if action == "submit":
            api.submit(rid, db, svc.settings, me, background, svc.sessions)
    except UserError as exc:
        return _render_form(request, db, form, problems=[str(exc)], status=422)
    return redirect(request, f"/portal/researcher/requests/{rid}")


@router.get("/requests/{request_id}")
def detail(request_id: RequestId, request: Request, db: SessionDep,
           me: ResearcherPage) -> Response:
    quorum = services(request).settings.board_quorum
    with audited(db, actor=me.name, role=ROLE, action="request.read",
                 target=f"request:{request_id}"):
        r = gr.own_request(db, request_id, me.user_id)
        problems = gr.submission_problems(r, r.updated_at.date()) if r.status == "draft" else []
        state = output_check.release_of(r, output_check.extract_record(db, r.id))
        release = state.state.value
        ctx = {"title": f"Request {r.id}: {r.title}", "r": r, "approvals": gr.approvals(r),
               "quorum": quorum, "next": next_step(r, quorum, release), "problems": problems,
               "released": release == "released",
               "failed_checks": state.failed_checks if release == "automated_checks_failed"
               else [],
               "reviews": [(p.org_code, p.status) for p in r.provider_reviews]}
    return render(request, "request_detail.html", ctx)


@router.post("/requests/{request_id}/submit")
def submit(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
           background: BackgroundTasks,
           csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    svc = services(request)
    api.submit(request_id, db, svc.settings, me, background, svc.sessions)
    return redirect(request, f"/portal/researcher/requests/{request_id}")


@router.post("/requests/{request_id}/withdraw")
def withdraw(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
             csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    api.withdraw(request_id, db, me)
    return redirect(request, f"/portal/researcher/requests/{request_id}")


@router.post("/requests/{request_id}/regroup")
def regroup(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
            background: BackgroundTasks,
            keep: Texts = [],  # noqa: B006 (FastAPI copies defaults)
            csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    """After failed output checks: keep only the ticked grouping variables (never add any)."""
    check_csrf(request, csrf_token)
    svc = services(request)
    # The API's own route function: only dropping approved variables, audit, old package gone.
    api.regroup(request_id, RegroupIn(group_by=keep), db, me, background, svc.sessions,
                svc.settings)
    return redirect(request, f"/portal/researcher/requests/{request_id}")


@router.get("/requests/{request_id}/extract")
def download(request_id: RequestId, db: SessionDep, me: ResearcherPage) -> FileResponse:
    return api.download(request_id, db, me)


@router.post("/requests/{request_id}/key")
def key(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
        csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    """The data key is shown only on a deliberate, CSRF-checked request (it opens the data)."""
    check_csrf(request, csrf_token)
    out = api.extract_key(request_id, db, services(request).keys, me)
    return render(request, "extract_key.html", {"title": f"Key for {request_id}",
                                                "key": out.key_base64, "rid": request_id,
                                                "expires": out.expires_at})
