"""The researcher's request form: a new request or a draft, previewed, saved or submitted.

Saving and submitting call the same use cases as ``api.routes.researcher``
(``services.data_request``); the preview is ``services.preview`` (also
``POST /v1/requests/preview``). The form's fields and rendering: ``api.portal.request_form_page``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.choices import choices
from api.deps import SessionDep
from api.deps import get_services as services
from api.notifying import Outbox, OutboxDep
from api.params import RequestId
from api.portal.access import ResearcherPage
from api.portal.csrf import check_csrf
from api.portal.form_fields import Action, CsrfToken
from api.portal.request_form_page import Fields, render_form
from api.portal.requestform import FormData, problems_of
from api.portal.web import redirect
from core.errors import Busy, NotFound, UserError
from core.requests import RequestKind
from governance.request_inputs import RequestPatch
from services import data_request as requests
from services.choices import check_cohort
from services.preview import PreviewInput, researcher_preview
from services.request_drafts import form_values, problems_before_submit

router = APIRouter(prefix="/portal/researcher", include_in_schema=False)


@router.get("/new")
def new(request: Request, db: SessionDep, me: ResearcherPage) -> Response:
    return render_form(request, db, FormData())


def _save(request: Request, db: Any, me: Any, outbox: Outbox, form: FormData,
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
            return render_form(request, db, form, problems=problems_of(exc), status=422,
                                editing=editing)
        except (UserError, Busy) as exc:
            return render_form(request, db, form, preview_error=str(exc), editing=editing)
        return render_form(request, db, form, shown=shown, editing=editing)
    try:
        body = form.to_input()
    except (ValidationError, ValueError) as exc:
        return render_form(request, db, form, problems=problems_of(exc), status=422,
                            editing=editing)
    if action == "submit":
        refused = problems_before_submit(body=body, today=date.today())
        if refused:
            return render_form(request, db, form, problems=[
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
            outbox.send_after(db)
    except UserError as exc:
        if isinstance(exc, NotFound):  # no such request for you: the 404 page
            raise
        return render_form(request, db, form, problems=[str(exc)], status=422,
                            editing=editing)
    done = "submitted" if action == "submit" else "saved as a draft"
    return redirect(request, f"/portal/researcher/requests/{rid}", f"Request {rid} {done}.")


@router.post("/new")
def create(request: Request, db: SessionDep, me: ResearcherPage, outbox: OutboxDep,
           form: Fields, action: Action = "preview", csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    return _save(request, db, me, outbox, form, action, None)


@router.get("/requests/{request_id}/edit")
def edit_form(request_id: RequestId, request: Request, db: SessionDep,
              me: ResearcherPage) -> Response:
    r = requests.own_request(session=db, researcher=me, request_id=request_id)
    values = form_values(r)
    status = r.status
    if status != "draft":
        return redirect(request, f"/portal/researcher/requests/{request_id}",
                        f"Request {request_id} is no longer a draft, so it cannot be edited.")
    return render_form(request, db, FormData(**values), editing=request_id)  # type: ignore[arg-type]


@router.post("/requests/{request_id}/edit")
def edit(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
         outbox: OutboxDep, form: Fields, action: Action = "preview",
         csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    return _save(request, db, me, outbox, form, action, request_id)
