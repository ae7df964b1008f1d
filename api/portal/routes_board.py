"""Board pages: the queue, each request with its disclosure preview and its requester's
record, the decision form, and after fulfilment the release report.

Reading and deciding call the board's use cases (``services.board_decision``), as
``GET /v1/board/requests/{id}`` and ``POST /v1/board/requests/{id}/decisions`` do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.deps import get_services as services
from api.notifying import OutboxDep
from api.params import RequestId
from api.portal.access import BoardPage
from api.portal.csrf import check_csrf
from api.portal.form_fields import CsrfToken, Reason
from api.portal.web import redirect, refused, render
from core.errors import Busy, UserError
from governance import request_lifecycle as gr
from governance.models import DataRequest
from governance.request_facts import stage as stage_of
from services.board_decision import decide_request, read_request, waiting_requests
from services.preview import Preview, preview_stored_request
from services.request_facts import partner_names, request_facts

router = APIRouter(prefix="/portal/board", include_in_schema=False)


@router.get("")
def queue(request: Request, db: SessionDep, me: BoardPage) -> Response:
    rows = [{"r": r, "approvals": gr.approvals(r), "requester": r.requester.name}
            for r in waiting_requests(session=db, member=me)]
    return render(request, "board.html", {"title": "Requests waiting for the board",
                                          "rows": rows,
                                          "quorum": services(request).settings.board_quorum})


def request_preview(request: Request, db: Session, r: DataRequest
                    ) -> tuple[Preview | None, str | None]:
    """The preview on a read session: the page's write session holds nothing meanwhile (its
    audited block committed before this runs)."""
    svc = services(request)
    try:
        with svc.read_sessions() as read:
            return preview_stored_request(settings=svc.settings, session=read, request=r), None
    except (UserError, Busy, ValueError) as exc:
        return None, str(exc)


@router.get("/requests/{request_id}")
def read(request_id: RequestId, request: Request, db: SessionDep, me: BoardPage) -> Response:
    settings = services(request).settings
    view = read_request(session=db, member=me, request_id=request_id)
    r, org = view.request, view.organisation
    decisions = [(d.board_member.name, d.decision, d.reason, d.decided_at) for d in r.decisions]
    own = r.requester_id == me.user_id
    mine = next(((d.decision, d.reason, d.decided_at) for d in r.decisions
                 if d.board_member_id == me.user_id), None)
    shown, problem = request_preview(request, db, r) if r.status in ("submitted", "approved") \
        else (None, None)
    facts = request_facts(session=db, request=r, quorum=settings.board_quorum)
    return render(request, "board_request.html", {
        "title": f"Request {r.id}: {r.title}", "r": r, "requester": r.requester,
        "org_name": org.name if org else None, "extract": view.extract,
        "earlier": [(e.id, e.title, stage_of(e).value) for e in view.earlier],
        "decisions": decisions, "approvals": gr.approvals(r), "quorum": settings.board_quorum,
        "own": own, "mine": mine, "review_open": facts.review_open, "preview": shown,
        "preview_error": problem, "facts": facts, "names": partner_names(session=db)})


@router.post("/requests/{request_id}/decide")
def decide(request_id: RequestId, request: Request, db: SessionDep, me: BoardPage,
           outbox: OutboxDep,
           decision: Annotated[gr.Decision, Form()],
           reason: Reason,
           csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    svc = services(request)
    # The API's use case: quorum, self-approval rule, audit; then the notifications.
    try:
        out = decide_request(session=db, settings=svc.settings, member=me,
                             request_id=request_id, decision=decision, reason=reason)
    except UserError as exc:
        db.rollback()
        return refused(request, exc, f"/portal/board/requests/{request_id}",
                       "Your decision was not recorded")
    said = (f"Your decision ({decision.value}) is recorded; the request is now "
            f"{stage_of(out).value}.")
    outbox.send_after(db)
    return redirect(request, f"/portal/board/requests/{request_id}", said)
