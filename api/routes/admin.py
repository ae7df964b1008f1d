"""Admin routes: users and API keys, partners and their agreements, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import AdminUser, CurrentUser, ReadSessionDep, SessionDep
from api.errors import COMMON_RESPONSES
from api.schemas import (
    AgreementIn,
    AuditEntryOut,
    AuditVerifyOut,
    KeyOut,
    Me,
    NewKey,
    Page,
    PartnerIn,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)
from core.errors import C2CError, UserError
from core.partners import Partner, org_code_problem
from governance import audit as gaudit
from governance import grants as gg
from governance import partners as gp
from governance import users as gu
from governance.audit import audited

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=COMMON_RESPONSES)
me_router = APIRouter(tags=["any role"], responses=COMMON_RESPONSES)
ROLE = "admin"

UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
KeyId = Annotated[str, Path(min_length=1, max_length=32)]
OrgCode = Annotated[str, Path(min_length=1, max_length=16)]


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


@me_router.post("/v1/me/keys", status_code=201, response_model=NewKey)
def rotate_own_key(session: SessionDep, caller: CurrentUser) -> NewKey:
    """Issue yourself a new API key (then revoke the old one with your admin, or keep both)."""
    with audited(session, actor=caller.name, role="self", action="key.issue.self",
                 target=f"user:{caller.user_id}") as audit:
        key = gu.issue_key(session, caller.user_id, label="issued by the user")
        audit["key_id"] = key.key_id
        out = NewKey(key_id=key.key_id, user_id=caller.user_id, token=key.token)
    return out


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


AGREEMENT_FIELDS = {"agreement_status", "agreement_start", "agreement_end", "silence_means",
                    "on_objection", "permitted_purposes", "stewards"}
# The state registry has about 2,500 partners: pages, never the whole registry at once.
PageLimit = Annotated[int, Query(ge=1, le=1000)]
PageOffset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("/partners", response_model=Page[Partner])
def partners(session: ReadSessionDep, caller: AdminUser, limit: PageLimit = 100,
             offset: PageOffset = 0) -> Page[Partner]:
    """The partner registry with each partner's current agreement, by org_code, a page at a
    time (``limit`` at most 1000; ``count`` is the registry's size)."""
    with audited(session, actor=caller.name, role=ROLE, action="partner.list"):
        total, rows = gp.list_partners_page(session, limit=limit, offset=offset)
        out = Page[Partner](data=rows, count=total, limit=limit, offset=offset)
    return out


@router.put("/partners/{org_code}", response_model=Partner)
def put_partner(org_code: OrgCode, body: PartnerIn, session: SessionDep,
                caller: AdminUser) -> Partner:
    """Create or update a partner (its agreement is managed with the agreements route)."""
    with audited(session, actor=caller.name, role=ROLE, action="partner.put",
                 target=f"partner:{org_code}"):
        problem = org_code_problem(org_code, body.kind.value)
        if problem:
            raise UserError(problem)
        record = Partner(
            org_code=org_code, name=body.name, kind=body.kind, charter=body.charter,
            liaison_contact=body.liaison_contact,
            data_security_contact=body.data_security_contact, swp_rounds=body.swp_rounds,
        )
        current = gp.find_partner(session, org_code)
        if current is not None:
            # the agreement and its terms (named stewards included) are not this route's
            record = record.model_copy(update=current.model_dump(include=AGREEMENT_FIELDS))
        out = gp.upsert_partner(session, record)
    return out


@router.post("/partners/{org_code}/agreements", status_code=201, response_model=Partner)
def add_agreement(org_code: OrgCode, body: AgreementIn, session: SessionDep,
                  caller: AdminUser) -> Partner:
    """Record a new version of a partner's data-sharing agreement (it becomes current)."""
    with audited(session, actor=caller.name, role=ROLE, action="agreement.record",
                 target=f"partner:{org_code}",
                 detail={"status": body.status.value, "start": str(body.start),
                         "end": str(body.end)}):
        out = gp.record_agreement(session, org_code, body.status, body.start, body.end,
                                  body.note)
    return out


@router.get("/audit", response_model=list[AuditEntryOut])
def audit_entries(session: ReadSessionDep, caller: AdminUser,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[AuditEntryOut]:
    """The newest audit entries."""
    with audited(session, actor=caller.name, role=ROLE, action="audit.read"):
        out = [AuditEntryOut(seq=e.seq, at=e.at, actor=e.actor, role=e.role, action=e.action,
                             target=e.target, outcome=e.outcome, detail=e.detail)
               for e in gaudit.recent(session, limit=limit, offset=offset)]
    return out


@router.get("/audit/verify", response_model=AuditVerifyOut)
def audit_verify(session: ReadSessionDep, caller: AdminUser) -> AuditVerifyOut:
    """Recompute the audit hash chain: reports any edited or deleted entry."""
    result = gaudit.verify(session)
    session.rollback()
    with audited(session, actor=caller.name, role=ROLE, action="audit.verify",
                 detail={"ok": result.ok, "entries": result.entries}):
        pass
    return AuditVerifyOut(ok=result.ok, entries=result.entries, head_seq=result.head_seq,
                          head_hash=result.head_hash, first_bad_seq=result.first_bad_seq,
                          problems=result.problems)
