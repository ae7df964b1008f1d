"""Separation of duties for the board: no single admin can make or impersonate a board member.

Quorum means nothing if one admin can create board members, or mint keys for existing ones,
and approve with those keys. So through the API:

* an admin cannot create a user with the board role, nor issue a key for a board member;
* a board grant (``role``: make a user a board member; ``key``: a new key for a board member
  who lost theirs) is *requested* by one admin and *approved* by another; on approval every
  earlier key of the member is revoked and one new key is issued to the approving admin to
  hand over, so the requester never holds a board key;
* board members rotate their own keys (``POST /v1/me/keys``);
* every request and approval is in the audit log, and the board lists them
  (``GET /v1/board/grants``).

The grants are audit entries (``board_grant.request`` / ``board_grant.approve``): the
hash-chained, anchored log is the record, so there is no second table to keep in step. The
first board members of a new deployment are created by the operator on the host
(``c2c users create --role board``), which is itself audited.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, PermissionDenied
from governance import users as gu
from governance.audit import HEAD_ID, append
from governance.models import ApiKey, AuditEntry, AuditHead, utcnow

REQUEST = "board_grant.request"
APPROVE = "board_grant.approve"


class GrantKind(StrEnum):
    ROLE = "role"
    KEY = "key"


class Grant(BaseModel):
    """A board grant request and its approval; the API returns it as it is."""

    model_config = ConfigDict(frozen=True)

    id: int  # the audit seq of the request
    kind: str
    user_id: int
    user_name: str
    requested_by: str
    requested_at: str
    approved_by: str | None
    approved_at: str | None


def request_grant(session: Session, admin: str, user_id: int, kind: GrantKind) -> int:
    """Record an admin's request; returns the grant id (its audit sequence number)."""
    user = gu.get_user(session, user_id)
    is_board = gu.Role.BOARD in gu.user_roles(user)
    if kind == GrantKind.ROLE and is_board:
        raise Conflict(f"user {user_id} is already a board member")
    if kind == GrantKind.KEY and not is_board:
        raise Conflict(f"user {user_id} is not a board member: issue the key directly")
    entry = append(session, actor=admin, role="admin", action=REQUEST,
                   target=f"user:{user_id}", detail={"kind": kind.value, "user": user.name})
    return entry.seq


def approve_grant(session: Session, admin: str, grant_id: int) -> gu.IssuedKey:
    """A second admin approves: the role is added (for ``role``), earlier keys are revoked,
    and the one new key is returned to the approver."""
    # The head row lock serialises approvals (and every audit append) on both back ends.
    session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).one()
    requested = session.get(AuditEntry, grant_id)
    if requested is None or requested.action != REQUEST or requested.outcome != "ok":
        raise NotFound(f"no board grant request {grant_id}")
    if requested.actor == admin:
        raise PermissionDenied("a board grant needs a second admin: you requested this one")
    if _approval(session, grant_id) is not None:
        raise Conflict(f"board grant {grant_id} was already approved")
    detail: dict[str, Any] = json.loads(requested.detail)
    user_id = int(requested.target.removeprefix("user:"))
    user = gu.get_user(session, user_id)
    if detail["kind"] == GrantKind.ROLE.value:
        user.roles = sorted({*user.roles, gu.Role.BOARD.value})
    for key in session.execute(select(ApiKey).where(ApiKey.user_id == user_id,
                                                    ApiKey.revoked_at.is_(None))).scalars():
        key.revoked_at = utcnow()  # whoever held the member's keys before holds nothing now
    session.flush()
    issued = gu.issue_key(session, user_id, label=f"board grant {grant_id} by {admin}")
    append(session, actor=admin, role="admin", action=APPROVE, target=f"grant:{grant_id}",
           detail={"kind": detail["kind"], "user": user.name, "key_id": issued.key_id})
    return issued


def _approval(session: Session, grant_id: int) -> AuditEntry | None:
    return session.execute(
        select(AuditEntry).where(AuditEntry.action == APPROVE,
                                 AuditEntry.target == f"grant:{grant_id}",
                                 AuditEntry.outcome == "ok")).scalars().first()


def list_grants(session: Session) -> list[Grant]:
    """Every board grant request with its approval, newest first (what the board sees)."""
    requests = session.execute(
        select(AuditEntry).where(AuditEntry.action == REQUEST, AuditEntry.outcome == "ok")
        .order_by(AuditEntry.seq.desc())).scalars().all()
    out = []
    for entry in requests:
        detail = json.loads(entry.detail)
        approval = _approval(session, entry.seq)
        out.append(Grant(
            id=entry.seq, kind=str(detail["kind"]),
            user_id=int(entry.target.removeprefix("user:")), user_name=str(detail["user"]),
            requested_by=entry.actor, requested_at=entry.at,
            approved_by=approval.actor if approval else None,
            approved_at=approval.at if approval else None))
    return out


def ensure_no_board_role(roles: list[str]) -> None:
    if gu.Role.BOARD.value in roles:
        raise PermissionDenied("the board role needs a second admin: create the user without "
                               "it, then POST /v1/admin/users/{id}/board-grants "
                               '{"kind": "role"} and have another admin approve')


def ensure_not_board_member(session: Session, user_id: int) -> None:
    if gu.Role.BOARD in gu.user_roles(gu.get_user(session, user_id)):
        raise PermissionDenied("keys of board members are not issued by one admin: the member "
                               "rotates their own (POST /v1/me/keys), or request a board grant "
                               '{"kind": "key"} that another admin approves')
