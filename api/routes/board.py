"""Governance board routes: review submitted requests, approve or deny with a reason."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import BoardUser, ReadSessionDep, SessionDep, SettingsDep
from api.errors import COMMON_RESPONSES
from api.notifying import OutboxDep
from api.params import Limit, Offset, RequestId
from api.request_schemas import DecisionIn, RequestOut
from governance import grants as gg
from governance import request_lifecycle as gr
from governance.audit import audited
from services.board_decision import decide_request, read_request, waiting_requests
from services.preview import Preview, preview_stored_request

router = APIRouter(prefix="/v1/board/requests", tags=["board"], responses=COMMON_RESPONSES)

ROLE = "board"


@router.get("", response_model=list[RequestOut])
def submitted(session: ReadSessionDep, caller: BoardUser, limit: Limit = 100,
              offset: Offset = 0) -> list[RequestOut]:
    """Requests waiting for a decision, oldest first, one page at a time (``limit``,
    ``offset``: ask for the next page until one comes back short)."""
    return [RequestOut.of(r, for_board=True)
            for r in waiting_requests(session=session, member=caller, limit=limit,
                                      offset=offset)]


@router.get("/{request_id}", response_model=RequestOut)
def read(request_id: RequestId, session: ReadSessionDep, caller: BoardUser) -> RequestOut:
    """A submitted (or already decided) request with its decisions so far."""
    view = read_request(session=session, member=caller, request_id=request_id)
    return RequestOut.of(view.request, for_board=True)


@router.get("/{request_id}/preview", response_model=Preview,
            responses={503: {"description": "Warehouse busy or nothing linked yet"}})
def preview_request(request_id: RequestId, session: ReadSessionDep, settings: SettingsDep,
                    caller: BoardUser) -> Preview:
    """What the request would release if fulfilled today, as the egress gate's bands. A read
    session: the preview never holds the governance store's write lock."""
    with audited(session, actor=caller.name, role=ROLE, action="board.preview",
                 target=f"request:{request_id}"):
        out = preview_stored_request(settings=settings, session=session,
                                     request=gr.get_for_board(session, request_id))
    return out


@router.post("/{request_id}/decisions", response_model=RequestOut)
def decide(request_id: RequestId, body: DecisionIn, session: SessionDep, settings: SettingsDep,
           caller: BoardUser, outbox: OutboxDep) -> RequestOut:
    """Approve or deny with a written reason. Quorum approves; one denial ends the request."""
    request = decide_request(session=session, settings=settings, member=caller,
                             request_id=request_id, decision=body.decision, reason=body.reason)
    out = RequestOut.of(request, for_board=True)
    outbox.send_after(session)
    return out


grants_router = APIRouter(prefix="/v1/board/grants", tags=["board"], responses=COMMON_RESPONSES)


@grants_router.get("", response_model=list[gg.Grant])
def grants(session: ReadSessionDep, caller: BoardUser) -> list[gg.Grant]:
    """Every request to give someone a privileged role (admin, board, steward, checker) or a
    privileged account a new key, who asked and which second admin approved: the board sees
    who holds the controls."""
    with audited(session, actor=caller.name, role=ROLE, action="board.grants"):
        out = gg.list_grants(session)
    return out
