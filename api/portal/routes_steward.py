"""Data steward pages: the organisation's review queue and history, the approve/object form,
and "who used my data" (issue 19).

Every page calls the steward API's own route functions (``api.routes.steward``), so the page
shows the same neutral summary (what and why, never who), refuses the same callers and writes
the same audit entries as ``/v1/steward/...``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Path, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.notifying import deliver_later
from api.portal.web import StewardPage, check_csrf, redirect, render
from api.routes import steward as api
from governance.provider_review import StewardDecision
from services.review_decision import decide_review

router = APIRouter(prefix="/portal/steward", include_in_schema=False)
RequestId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("")
def home(request: Request, db: SessionDep, me: StewardPage) -> Response:
    reviews = api.reviews(db, me)  # audited as steward.list
    usage = api.usage(db, me)  # audited as steward.usage
    return render(request, "steward.html", {
        "title": f"Data steward: requests using {me.org_code}'s records",
        "pending": [r for r in reviews if r.review.status == "pending"],
        "history": [r for r in reviews if r.review.status != "pending"],
        "usage": usage})


@router.post("/reviews/{request_id}")
def decide(request_id: RequestId, request: Request, db: SessionDep, me: StewardPage,
           background: BackgroundTasks,
           decision: Annotated[StewardDecision, Form()],
           reason: Annotated[str, Form(min_length=3, max_length=5000)],
           csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    svc = services(request)
    # The API's use case: review window, organisation check, audit; then the notifications.
    decide_review(session=db, steward=me, request_id=request_id, decision=decision,
                  reason=reason)
    deliver_later(background, svc.sessions, svc.settings)
    return redirect(request, "/portal/steward")
