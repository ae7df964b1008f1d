"""Admin routes: users and API keys, partners and their agreements, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.admin_schemas import (
    KeyOut,
    Me,
    NewKey,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)
from api.deps import AdminUser, CurrentUser, ReadSessionDep, SessionDep
from api.errors import COMMON_RESPONSES
from governance import grants as gg
from governance import users as gu
from governance.audit import audited

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=COMMON_RESPONSES)
me_router = APIRouter(tags=["any role"], responses=COMMON_RESPONSES)
ROLE = "admin"

UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
KeyId = Annotated[str, Path(min_length=1, max_length=32)]


@me_router.get("/v1/me", response_model=Me)
def me(caller: CurrentUser) -> Me:
    """Who your key belongs to and which roles it carries."""
    return Me(name=caller.name, roles=sorted(caller.roles), org_code=caller.org_code,
              key_id=caller.key_id)


@router.get("/users", response_model=list[UserOut])
def users(session: ReadSessionDep, caller: AdminUser) -> list[UserOut]:
    """All users."""
    with audited(session, actor=caller.name, role=ROLE, action="user.list"):
        out = [UserOut.of(u) for u in gu.list_users(session)]
    return out


@router.post("/users", status_code=201, response_model=UserCreated)
def create_user(body: UserIn, session: SessionDep, caller: AdminUser) -> UserCreated:
    """Create a user and its first API key (the key is shown in this response only)."""
    with audited(session, actor=caller.name, role=ROLE, action=gg.CREATE) as audit:
        gg.ensure_creatable_alone(body.roles)
        user = gu.create_user(session, body.name, body.roles, body.org_code, body.email)
        key = gu.issue_key(session, user.id, label="initial")
        audit.target = f"user:{user.id}"
        audit["key_id"] = key.key_id
        out = UserCreated(user=UserOut.of(user),
                          key=NewKey(key_id=key.key_id, user_id=user.id, token=key.token))
    return out


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: UserId, body: UserPatch, session: SessionDep,
                caller: AdminUser) -> UserOut:
    """Activate or deactivate a user (a deactivated user's keys stop working)."""
    with audited(session, actor=caller.name, role=ROLE, action="user.update",
                 target=f"user:{user_id}", detail={"active": body.active}):
        out = UserOut.of(gu.set_active(session, user_id, body.active))
    return out


@router.post("/users/{user_id}/keys", status_code=201, response_model=NewKey)
def issue_key(user_id: UserId, session: SessionDep, caller: AdminUser) -> NewKey:
    """Issue another API key for a user (shown in this response only)."""
    with audited(session, actor=caller.name, role=ROLE, action=gg.ISSUE,
                 target=f"user:{user_id}") as audit:
        gg.ensure_key_issuable_alone(session, user_id)
        key = gu.issue_key(session, user_id, label=f"issued by {caller.name}")
        audit["key_id"] = key.key_id
        out = NewKey(key_id=key.key_id, user_id=user_id, token=key.token)
    return out


@me_router.post("/v1/me/keys", status_code=201, response_model=NewKey)
def rotate_own_key(session: SessionDep, caller: CurrentUser) -> NewKey:
    """Issue yourself a new API key (then revoke the old one with your admin, or keep both)."""
    with audited(session, actor=caller.name, role="self", action="key.issue.self",
                 target=f"user:{caller.user_id}") as audit:
        key = gu.issue_key(session, caller.user_id, label="issued by the user")
        audit["key_id"] = key.key_id
        out = NewKey(key_id=key.key_id, user_id=caller.user_id, token=key.token)
    return out


@router.get("/keys", response_model=list[KeyOut])
def keys(session: ReadSessionDep, caller: AdminUser,
         user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> list[KeyOut]:
    """API keys (ids and dates only; secrets are never stored)."""
    with audited(session, actor=caller.name, role=ROLE, action="key.list"):
        out = [KeyOut(key_id=k.key_id, user_id=k.user_id, label=k.label,
                      created_at=k.created_at, revoked_at=k.revoked_at)
               for k in gu.list_keys(session, user_id)]
    return out


@router.post("/keys/{key_id}/revoke", response_model=KeyOut)
def revoke_key(key_id: KeyId, session: SessionDep, caller: AdminUser) -> KeyOut:
    """Revoke an API key; it stops working at once."""
    with audited(session, actor=caller.name, role=ROLE, action="key.revoke",
                 target=f"key:{key_id}"):
        k = gu.revoke_key(session, key_id)
        out = KeyOut(key_id=k.key_id, user_id=k.user_id, label=k.label,
                     created_at=k.created_at, revoked_at=k.revoked_at)
    return out
