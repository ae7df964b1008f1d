"""The request form's fields and its page: what the researcher typed, the variables the
agreements would withhold, the preview when one was asked for."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.choices import choices
from api.deps import get_services as services
from api.portal.form_fields import Texts
from api.portal.requestform import FormData, form_choices
from api.portal.web import render
from core.protection import MAX_TEXT
from core.requests import CohortFilter
from services.preview import Preview
from services.request_facts import partner_names, withheld_before_submit, withheld_if_chosen


def _lea_names(db: Any) -> dict[str, str]:
    names = partner_names(session=db)
    db.rollback()
    return names


def _form(kind: str, title: str, purpose: str, variables: list[str], years: list[str],
          leas: list[str], group_by: list[str], training_attested: str | None,
          irb_reference: str, requested_expiry: str) -> FormData:
    return FormData(kind=kind, title=title, purpose=purpose, variables=variables, years=years,
                    leas=leas, group_by=group_by, training_attested=bool(training_attested),
                    irb_reference=irb_reference, requested_expiry=requested_expiry)


def render_form(request: Request, db: Any, form: FormData, *, problems: list[str] | None = None,
                shown: Preview | None = None, preview_error: str | None = None,
                status: int = 200, editing: str | None = None) -> Response:
    c = choices(services(request).serving)
    try:
        cohort = form.cohort()
    except ValidationError:
        cohort = None  # the form's own problems are listed
    withheld = []
    if form.variables and cohort is not None:
        withheld = withheld_before_submit(
            session=db, variables=form.variables, cohort=cohort,
            group_by=form.group_by if form.kind == "aggregate" else [], purpose_code="research")
    offered = form_choices(c, {})
    # Beside each checkbox, before it is ticked: what the same function would withhold (a
    # cohort decides which LEAs are asked, never which variable is withheld).
    would_withhold = withheld_if_chosen(
        session=db, cohort=cohort or CohortFilter(), purpose_code="research",
        candidates=[v.name for v in offered["variables"]] + list(offered["groupable"]))
    choices_ = form_choices(c, _lea_names(db))  # its rollback ends the page's reads
    return render(request, "request_form.html", {
        "title": f"Edit draft {editing}" if editing else "New data request", "form": form,
        "problems": problems or [], "preview": shown, "preview_error": preview_error,
        "withheld": withheld, "would_withhold": would_withhold,
        "form_action": f"/portal/researcher/requests/{editing}/edit" if editing
        else "/portal/researcher/new", **choices_}, status=status)


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




