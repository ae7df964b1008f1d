"""Output checker pages: the outputs waiting for a check, each one's release report, and the
approve/reject form (issue 19).

The pages call the checker's use cases (``services.output_decision``), as
``/v1/checker/requests`` does: the same queue (a checker's own requests left out), the same
two-checker rule and the same audit entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.notifying import OutboxDep
from api.params import RequestId
from api.portal.access import CheckerPage
from api.portal.csrf import check_csrf
from api.portal.form_fields import CsrfToken, Reason
from api.portal.web import redirect, refused, render
from api.review_schemas import ReleaseReport
from core.errors import C2CError, UserError
from governance.output_release import CheckerDecision
from services.output_decision import (
    decide_output,
    my_check,
    output_report,
    output_sample,
    outputs_to_check,
)
from services.request_facts import partner_names, request_facts_by_id

router = APIRouter(prefix="/portal/checker", include_in_schema=False)


@router.get("")
def queue(request: Request, db: SessionDep, me: CheckerPage) -> Response:
    rows = [ReleaseReport.of(r.request, r.record, r.release)
            for r in outputs_to_check(session=db, checker=me)]
    return render(request, "checker.html", {"title": "Outputs waiting for a check",
                                            "rows": rows})


@router.get("/requests/{request_id}")
def read(request_id: RequestId, request: Request, db: SessionDep, me: CheckerPage) -> Response:
    found = output_report(session=db, checker=me, request_id=request_id)
    report = ReleaseReport.of(found.request, found.record, found.release)
    mine = my_check(session=db, request_id=request_id, checker_id=me.user_id)
    try:
        sample, sample_error = output_sample(
            session=db, keys=services(request).keys, request_id=request_id,
            min_cell=services(request).settings.suppression_min_cell), None
    except C2CError as exc:  # a missing or damaged package: say so, never a blank table
        sample, sample_error = None, str(exc)
    return render(request, "checker_request.html", {
        "title": f"Release report of {report.request.id}: {report.request.title}",
        "report": report, "checks": report.detail.get("output_checks") or [],
        "sample": sample, "sample_error": sample_error, "mine": mine,
        "names": partner_names(session=db),
        "facts": request_facts_by_id(session=db, request_id=request_id,
                                     quorum=services(request).settings.board_quorum),
        "open": report.release.state.value in ("awaiting_checkers", "needs_third_checker")
        and mine is None})


@router.post("/requests/{request_id}/decide")
def decide(request_id: RequestId, request: Request, db: SessionDep, me: CheckerPage,
           outbox: OutboxDep,
           decision: Annotated[CheckerDecision, Form()],
           reason: Reason,
           csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    # The API's use case: own-request refusal, one vote each, audit; then the notifications.
    try:
        release = decide_output(session=db, checker=me, request_id=request_id,
                                decision=decision, reason=reason)
    except UserError as exc:
        return refused(request, exc, f"/portal/checker/requests/{request_id}",
                       "Your check was not recorded")
    outbox.send_after(db)
    return redirect(request, f"/portal/checker/requests/{request_id}",
                    f"Your check ({decision.value}) is recorded; the output is now "
                    f"{release.state.value.replace('_', ' ')}.")
