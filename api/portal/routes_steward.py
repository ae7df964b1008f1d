"""Data steward pages: the organisation's review queue and history, the approve/object form,
and "who used my data" (issue 19).

Every page calls the steward's use cases (``services.review_decision``), as
``/v1/steward/...`` does, so the page shows the same neutral summary (what and why, never who),
refuses the same callers and writes the same audit entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.notifying import OutboxDep
from api.params import RequestId
from api.portal.access import StewardPage
from api.portal.csrf import check_csrf
from api.portal.form_fields import CsrfToken, Reason
from api.portal.web import redirect, render
from api.review_schemas import StewardReviewOut, UsageOut
from governance.provider_review import StewardDecision
from services.request_facts import partner_names
from services.review_decision import data_usage, decide_review, reviews_to_answer

router = APIRouter(prefix="/portal/steward", include_in_schema=False)


@router.get("")
def home(request: Request, db: SessionDep, me: StewardPage) -> Response:
    reviews = [StewardReviewOut.of(r) for r in reviews_to_answer(session=db, steward=me)]
    usage = [UsageOut.of(r) for r in data_usage(session=db, steward=me)]
    names = partner_names(session=db)
    org = f"{names[me.org_code]} ({me.org_code})" if me.org_code in names else me.org_code
    return render(request, "steward.html", {
        "title": f"Data steward: requests using the records of {org}",
        "pending": [r for r in reviews if r.review.status == "pending"],
        "history": [r for r in reviews if r.review.status != "pending"],
        "usage": usage, "names": names})


@router.post("/reviews/{request_id}")
def decide(request_id: RequestId, request: Request, db: SessionDep, me: StewardPage,
           outbox: OutboxDep,
           decision: Annotated[StewardDecision, Form()],
           reason: Reason,
           csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    # The API's use case: review window, organisation check, audit; then the notifications.
    decide_review(session=db, steward=me, request_id=request_id, decision=decision,
                  reason=reason)
    outbox.send_after(db)
    return redirect(request, "/portal/steward")
