"""Board pages: the queue, each request with its disclosure preview and its requester's
record, the decision form, and after fulfilment the release report.

Decisions call ``governance.requests.decide`` with the same quorum, self-approval rule and
audit action as ``POST /v1/board/requests/{id}/decisions``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.deps import get_services as services
from api.portal.web import BoardPage, check_csrf, redirect, render
from api.routes import board as api
from api.schemas import DecisionIn
from core.errors import Busy, UserError
from governance import requests as gr
from governance.audit import audited
from governance.models import DataRequest, ExtractRecord
from governance.partners import find_partner
from services.preview import Preview, preview_stored_request

router = APIRouter(prefix="/portal/board", include_in_schema=False)
ROLE = "board"
RequestId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("")
def queue(request: Request, db: SessionDep, me: BoardPage) -> Response:
    with audited(db, actor=me.name, role=ROLE, action="board.list"):
        rows = [{"r": r, "approvals": gr.approvals(r), "requester": r.requester.name}
                for r in gr.list_submitted(db)]
    return render(request, "board.html", {"title": "Requests waiting for the board",
                                          "rows": rows,
                                          "quorum": services(request).settings.board_quorum})


def request_preview(request: Request, db: Session, r: DataRequest
                    ) -> tuple[Preview | None, str | None]:
    try:
        return preview_stored_request(settings=services(request).settings, session=db,
                                      request=r), None
    except (UserError, Busy, ValueError) as exc:
        return None, str(exc)


@router.get("/requests/{request_id}")
def read(request_id: RequestId, request: Request, db: SessionDep, me: BoardPage) -> Response:
    settings = services(request).settings
    with audited(db, actor=me.name, role=ROLE, action="board.read",
                 target=f"request:{request_id}"):
        r = gr.get_for_board(db, request_id)
        requester = r.requester
        org = find_partner(db, requester.org_code) if requester.org_code else None
        earlier = list(db.execute(
            select(DataRequest).where(DataRequest.requester_id == requester.id,
                                      DataRequest.id != r.id,
                                      DataRequest.status != gr.RequestStatus.DRAFT.value)
            .order_by(DataRequest.created_at)).scalars())
        extract = db.execute(select(ExtractRecord).where(
            ExtractRecord.request_id == r.id)).scalar_one_or_none()
        decisions = [(d.board_member.name, d.decision, d.reason, d.decided_at)
                     for d in r.decisions]
        own = r.requester_id == me.user_id
        reviews = [(p.org_code, p.status, p.reason) for p in r.provider_reviews]
    shown, problem = request_preview(request, db, r) if r.status in ("submitted", "approved") \
        else (None, None)
    return render(request, "board_request.html", {
        "title": f"Request {r.id}: {r.title}", "r": r, "requester": requester,
        "org_name": org.name if org else None, "earlier": earlier, "extract": extract,
        "decisions": decisions, "approvals": gr.approvals(r), "quorum": settings.board_quorum,
        "own": own, "preview": shown, "preview_error": problem, "reviews": reviews})


@router.post("/requests/{request_id}/decide")
def decide(request_id: RequestId, request: Request, db: SessionDep, me: BoardPage,
           background: BackgroundTasks,
           decision: Annotated[gr.Decision, Form()],
           reason: Annotated[str, Form(min_length=3, max_length=gr.MAX_TEXT)],
           csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    svc = services(request)
    # The API's own route function: quorum, self-approval rule, audit and notifications.
    api.decide(request_id, DecisionIn(decision=decision, reason=reason), db, svc.settings, me,
               background, svc.sessions)
    return redirect(request, f"/portal/board/requests/{request_id}")
