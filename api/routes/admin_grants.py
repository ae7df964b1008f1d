"""Admin routes for privileged grants: a second admin, a different person, approves every
privileged role and every new key of a privileged user (governance.grants)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.admin_schemas import NewKey
from api.deps import AdminUser, SessionDep
from api.errors import COMMON_RESPONSES
from core.errors import C2CError
from governance import audit as gaudit
from governance import grants as gg
from governance import users as gu

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=COMMON_RESPONSES)
ROLE = "admin"
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@contextmanager
def refusals_audited(session: Session, actor: str, action: str,
                     target: str) -> Iterator[None]:
    """For routes whose library call writes its own audit entry: record refusals only."""
    try:
        yield
    except C2CError as error:
        session.rollback()
        gaudit.append_committed(session, actor=actor, role=ROLE, action=action, target=target,
                                outcome=error.code)
        raise


class GrantIn(BaseModel):
    kind: gg.GrantKind
    role: gu.Role | None = None  # for kind "role": admin, board, steward or checker (board)


class GrantRequested(BaseModel):
    grant_id: int


@router.post("/users/{user_id}/grants", status_code=201, response_model=GrantRequested)
def request_grant(user_id: UserId, body: GrantIn, session: SessionDep,
                  caller: AdminUser) -> GrantRequested:
    """Ask for a grant: ``role`` gives the user a privileged role (admin, board, steward,
    checker), ``key`` gets a privileged user a new key. A second admin, a different person,
    must approve it; the board sees both."""
    with refusals_audited(session, caller.name, gg.REQUEST, f"user:{user_id}"):
        grant_id = gg.request_grant(session, caller.name, user_id, body.kind, body.role)
        session.commit()
    return GrantRequested(grant_id=grant_id)


@router.post("/grants/{grant_id}/approve", status_code=201, response_model=NewKey)
def approve_grant(grant_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep,
                  caller: AdminUser) -> NewKey:
    """Approve another admin's grant. The user's earlier keys are revoked and the new key is
    shown to you once, to hand to the user."""
    with refusals_audited(session, caller.name, gg.APPROVE, f"grant:{grant_id}"):
        user_id, issued = gg.approve_grant(session, caller.name, grant_id)
        session.commit()
    return NewKey(key_id=issued.key_id, user_id=user_id, token=issued.token)
