"""Governance board routes: review submitted requests, approve or deny with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path

from api.deps import BoardUser, ReadSessionDep, SessionDep, SessionsDep, SettingsDep
from api.errors import COMMON_RESPONSES
from api.notifying import deliver_later
from api.schemas import DecisionIn, RequestOut
from governance import grants as gg
from governance import requests as gr
from governance.audit import audited
from services.preview import Preview, preview_stored_request

router = APIRouter(prefix="/v1/board/requests", tags=["board"], responses=COMMON_RESPONSES)

RequestId = Annotated[str, Path(min_length=1, max_length=64)]
ROLE = "board"


@router.get("", response_model=list[RequestOut])
def submitted(session: ReadSessionDep, caller: BoardUser) -> list[RequestOut]:
    """Requests waiting for a decision, oldest first."""
    with audited(session, actor=caller.name, role=ROLE, action="board.list"):
        out = [RequestOut.of(r, for_board=True) for r in gr.list_submitted(session)]
    return out


@router.get("/{request_id}", response_model=RequestOut)
def read(request_id: RequestId, session: ReadSessionDep, caller: BoardUser) -> RequestOut:
    """A submitted (or already decided) request with its decisions so far."""
    with audited(session, actor=caller.name, role=ROLE, action="board.read",
                 target=f"request:{request_id}"):
        out = RequestOut.of(gr.get_for_board(session, request_id), for_board=True)
    return out


@router.get("/{request_id}/preview", response_model=Preview,
            responses={503: {"description": "Warehouse busy or nothing linked yet"}})
def preview_request(request_id: RequestId, session: SessionDep, settings: SettingsDep,
                    caller: BoardUser) -> Preview:
    """What the request would release if fulfilled today (the researcher saw the same)."""
    with audited(session, actor=caller.name, role=ROLE, action="board.preview",
                 target=f"request:{request_id}"):
        out = preview_stored_request(settings=settings, session=session,
                                     request=gr.get_for_board(session, request_id))
    return out


@router.post("/{request_id}/decisions", response_model=RequestOut)
def decide(request_id: RequestId, body: DecisionIn, session: SessionDep, settings: SettingsDep,
           caller: BoardUser, background: BackgroundTasks, sessions: SessionsDep) -> RequestOut:
    """Approve or deny with a written reason. Quorum approves; one denial ends the request."""
    with audited(session, actor=caller.name, role=ROLE, action=f"board.{body.decision.value}",
                 target=f"request:{request_id}") as audit:
        request = gr.decide(session, request_id, caller.user_id, body.decision, body.reason,
                            quorum=settings.board_quorum,
                            default_days=settings.extract_default_days)
        audit["status"] = request.status
        out = RequestOut.of(request, for_board=True)
    deliver_later(background, sessions, settings)
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
