"""Output checker pages: the outputs waiting for a check, each one's release report, and the
approve/reject form (issue 19).

The pages call the checker API's own route functions (``api.routes.checker``): the same queue
(a checker's own requests left out), the same two-checker rule and the same audit entries as
``/v1/checker/requests``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Path, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.notifying import deliver_later
from api.portal.web import CheckerPage, check_csrf, redirect, render
from api.routes import checker as api
from governance.output_check import CheckerDecision
from services.output_check import decide_output

router = APIRouter(prefix="/portal/checker", include_in_schema=False)
RequestId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("")
def queue(request: Request, db: SessionDep, me: CheckerPage) -> Response:
    return render(request, "checker.html", {"title": "Outputs waiting for a check",
                                            "rows": api.queue(db, me)})


@router.get("/requests/{request_id}")
def read(request_id: RequestId, request: Request, db: SessionDep, me: CheckerPage) -> Response:
    report = api.read(request_id, db, me)
    return render(request, "checker_request.html", {
        "title": f"Release report of {report.request.id}: {report.request.title}",
        "report": report, "checks": report.detail.get("output_checks") or [],
        "open": report.release.state.value in ("awaiting_checkers", "needs_third_checker")})


@router.post("/requests/{request_id}/decide")
def decide(request_id: RequestId, request: Request, db: SessionDep, me: CheckerPage,
           background: BackgroundTasks,
           decision: Annotated[CheckerDecision, Form()],
           reason: Annotated[str, Form(min_length=3, max_length=5000)],
           csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    svc = services(request)
    # The API's use case: own-request refusal, one vote each, audit; then the notifications.
    decide_output(session=db, checker=me, request_id=request_id, decision=decision,
                  reason=reason)
    deliver_later(background, svc.sessions, svc.settings)
    return redirect(request, f"/portal/checker/requests/{request_id}")
