"""Separation of duties by person: no one admin makes, keys or impersonates a privileged account.

Quorum, provider review and output checking each mean "more than one person", so the accounts
behind them must not all come from one person. The privileged roles are ``admin``, ``board``,
``steward`` and ``checker``; the others (researcher, partner, reviewer) one admin may still make
alone. Through the API:

* an admin creates only unprivileged accounts and issues keys only to unprivileged accounts;
* a *grant* (``role``: give an account a privileged role; ``key``: a new key for a privileged
  account that lost its own) is *requested* by one admin and *approved* by a second admin who
  is a different person (:func:`ensure_independent`); on approval every earlier key of the
  account is revoked and one new key is shown to the approver to hand over, so whoever created
  the account holds nothing;
* a steward role is granted only to a user whose e-mail address the partner's current agreement
  names as its steward (``stewards`` in partners.csv: the liaison names them in the MOU), so
  the service's admins cannot appoint a partner's steward on their own;
* members rotate their own keys (``POST /v1/me/keys``);
* requests and approvals are audit entries of their own (``grant.request`` /
  ``grant.approve``, naming the role), and the board lists them (``GET /v1/board/grants``).

"The same person" is decided from the audit log, the record of who made what:

* the *makers* of an account are the admins who created it, issued it a key, or requested or
  approved one of its grants; two admins are one person for a grant when either is a maker of
  the other, and the approver must not have created the grantee;
* the *key holders* of an account are the account itself and whoever was shown its current key:
  the approver of its latest grant, or (never granted) the admin who created it and every admin
  who issued it a key. Two accounts with a key holder in common count as one person: one such
  person casts one board vote and one output-checker vote, and never decides on a request made
  by an account they hold (:func:`ensure_different_people`).

The host operator is the root of trust and is nobody's maker: the first two admins of a store
are made on the host (:func:`bootstrap_admin`, ``c2c users create NAME --role admin``, audited
``user.bootstrap``) and from then on every privileged account needs two of them. Accounts with
no audit record of their making (made by the library directly, or before this version) have only
themselves as key holders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.emails import normal_email
from core.errors import Conflict, NotFound, PermissionDenied, UserError
from governance import users as gu
from governance.audit import HEAD_ID, append
from governance.models import ApiKey, AuditEntry, AuditHead, PartnerRow, User, utcnow
from governance.partners import to_record

REQUEST = "grant.request"
APPROVE = "grant.approve"
BOOTSTRAP = "user.bootstrap"
CREATE = "user.create"
ISSUE = "key.issue"
# Entries written before grants covered every privileged role (board only); still read.
LEGACY_REQUEST = "board_grant.request"
LEGACY_APPROVE = "board_grant.approve"
REQUESTS = (REQUEST, LEGACY_REQUEST)
APPROVALS = (APPROVE, LEGACY_APPROVE)

PRIVILEGED = frozenset({gu.Role.ADMIN, gu.Role.BOARD, gu.Role.STEWARD, gu.Role.CHECKER})
# The operator on the host makes at most this many admins; every further one needs a grant.
BOOTSTRAP_ADMINS = 2


class GrantKind(StrEnum):
    ROLE = "role"
    KEY = "key"


class Grant(BaseModel):
    """A grant request and its approval; the API returns it as it is."""

    model_config = ConfigDict(frozen=True)

    id: int  # the audit seq of the request
    kind: str
    role: str | None  # the role a ``role`` grant gives; None for ``key``
    user_id: int
    user_name: str
    requested_by: str
    requested_at: str
    approved_by: str | None
    approved_at: str | None


def _privileged(roles: Iterable[gu.Role | str]) -> list[str]:
    return sorted(r.value for r in {gu.Role(r) for r in roles} & PRIVILEGED)


def ensure_creatable_alone(roles: Iterable[gu.Role | str]) -> None:
    """One admin creates only unprivileged accounts."""
    held = _privileged(roles)
    if held:
        raise PermissionDenied(
            f"the {', '.join(held)} role needs a second admin: create the user without it, "
            'then POST /v1/admin/users/{id}/grants {"kind": "role", "role": "...'
            '"} and have another admin approve')


def ensure_key_issuable_alone(session: Session, user_id: int) -> None:
    """One admin issues keys only to unprivileged accounts."""
    held = _privileged(gu.user_roles(gu.get_user(session, user_id)))
    if held:
        raise PermissionDenied(
            f"keys of {', '.join(held)} accounts are not issued by one admin: the member "
            'rotates their own (POST /v1/me/keys), or request a grant {"kind": "key"} that '
            "another admin approves")


def bootstrap_admin(session: Session, name: str, email: str | None = None
                    ) -> tuple[User, gu.IssuedKey]:
    """The host operator makes one of the first admins of a store (audited ``user.bootstrap``).

    Refused once the store has :data:`BOOTSTRAP_ADMINS` active admins: from then on an admin is
    made by a grant two of them agree on."""
    count = count_admins(session)
    if count >= BOOTSTRAP_ADMINS:
        raise PermissionDenied(
            f"the store already has {count} admins: a further admin is made by a grant one "
            "admin requests and another approves (docs/api.md, Separation of duties)")
    user = gu.create_user(session, name, [gu.Role.ADMIN], None, email)
    key = gu.issue_key(session, user.id, label="bootstrap")
    append(session, actor=gu.OPERATOR, role="admin", action=BOOTSTRAP, target=f"user:{user.id}",
           detail={"role": gu.Role.ADMIN.value, "user": user.name, "key_id": key.key_id})
    return user, key


def operator_create_user(session: Session, name: str, roles: Iterable[gu.Role | str],
                         org_code: str | None = None, email: str | None = None
                         ) -> tuple[User, gu.IssuedKey]:
    """The host operator makes an unprivileged account (``c2c users create``, audited)."""
    roles = list(roles)
    ensure_creatable_alone(roles)
    user = gu.create_user(session, name, roles, org_code, email)
    key = gu.issue_key(session, user.id, label="cli")
    append(session, actor=gu.OPERATOR, role="admin", action=CREATE, target=f"user:{user.id}",
           detail={"key_id": key.key_id})
    return user, key


def request_grant(session: Session, admin: str, user_id: int, kind: GrantKind,
                  role: gu.Role | None = None) -> int:
    """Record an admin's request; returns the grant id (its audit sequence number).

    ``role`` (for ``kind=role``) defaults to board, the only grant before this version."""
    user = gu.get_user(session, user_id)
    if user.name == admin:
        raise PermissionDenied("nobody requests a grant for their own account")
    held = gu.user_roles(user)
    detail: dict[str, Any] = {"kind": kind.value, "user": user.name}
    if kind == GrantKind.ROLE:
        role = gu.Role(role or gu.Role.BOARD)
        if role not in PRIVILEGED:
            raise UserError(f"the {role.value} role needs no grant: one admin gives it")
        if role in held:
            raise Conflict(f"user {user_id} already holds the {role.value} role")
        if role == gu.Role.STEWARD:
            ensure_named_steward(session, user)
        detail["role"] = role.value
    elif not held & PRIVILEGED:
        raise Conflict(f"user {user_id} holds no privileged role: issue the key directly")
    entry = append(session, actor=admin, role="admin", action=REQUEST,
                   target=f"user:{user_id}", detail=detail)
    return entry.seq


def approve_grant(session: Session, admin: str, grant_id: int) -> tuple[int, gu.IssuedKey]:
    """A second admin, a different person, approves: the role is added (for ``role``), every
    earlier key is revoked, and the one new key is returned to the approver.

    Returns ``(user_id, key)``."""
    # The head row lock serialises approvals (and every audit append) on both back ends.
    session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).one()
    requested = session.get(AuditEntry, grant_id)
    if requested is None or requested.action not in REQUESTS or requested.outcome != "ok":
        raise NotFound(f"no grant request {grant_id}")
    if _approval(session, grant_id) is not None:
        raise Conflict(f"grant {grant_id} was already approved")
    detail: dict[str, Any] = json.loads(requested.detail)
    user_id = int(requested.target.removeprefix("user:"))
    user = gu.get_user(session, user_id)
    ensure_independent(session, requester=requested.actor, approver=admin, grantee=user)
    role = detail.get("role", gu.Role.BOARD.value) if detail["kind"] == "role" else None
    if role is not None:
        if role == gu.Role.STEWARD.value:
            ensure_named_steward(session, user)  # the agreement may have changed since
        user.roles = sorted({*user.roles, role})
    for key in session.execute(select(ApiKey).where(ApiKey.user_id == user_id,
                                                    ApiKey.revoked_at.is_(None))).scalars():
        key.revoked_at = utcnow()  # whoever held the account's keys before holds nothing now
    session.flush()
    issued = gu.issue_key(session, user_id, label=f"grant {grant_id} by {admin}")
    append(session, actor=admin, role="admin", action=APPROVE, target=f"grant:{grant_id}",
           detail={"kind": detail["kind"], "role": role, "user": user.name, "user_id": user_id,
                   "key_id": issued.key_id})
    return user_id, issued


def ensure_independent(session: Session, *, requester: str, approver: str,
                       grantee: User) -> None:
    """The approver of a grant is a second person: not the requester, not the grantee, not the
    grantee's creator, and neither admin a maker of the other's account."""
    if approver == requester:
        raise PermissionDenied("a grant needs a second admin: you requested this one")
    if approver == grantee.name:
        raise PermissionDenied("nobody approves a grant for their own account")
    if approver in _creators(session, grantee.id):
        raise PermissionDenied("you created this account, so a grant for it needs an admin "
                               "who did not")
    for name, other in ((approver, requester), (requester, approver)):
        account = _user_named(session, name)
        if account is not None and other in makers(session, account.id):
            raise PermissionDenied(
                f"admin {other} took part in making {name}'s account, so the two of you "
                "count as one person for a grant: another admin must approve")


def ensure_named_steward(session: Session, user: User) -> None:
    """A steward is the person the partner named: its agreement lists the user's address."""
    partner_row = session.get(PartnerRow, user.org_code) if user.org_code else None
    if partner_row is None:
        raise UserError("a steward acts for one partner: the user needs its org_code")
    named = to_record(partner_row).stewards
    if not named:
        raise PermissionDenied(
            f"the agreement of partner {user.org_code} names no data steward: the partner's "
            "liaison names them in the agreement (the stewards column of partners.csv)")
    if not user.email or normal_email(user.email) not in named:
        raise PermissionDenied(
            f"the agreement of partner {user.org_code} does not name this user's e-mail "
            "address as its data steward; only the partner's liaison names its steward")


def makers(session: Session, user_id: int) -> set[str]:
    """Admins who created the account, issued it a key, or requested or approved a grant of
    it (the host operator is nobody's maker)."""
    rows = session.execute(
        select(AuditEntry.actor).where(AuditEntry.target == f"user:{user_id}",
                                       AuditEntry.outcome == "ok",
                                       AuditEntry.action.in_((CREATE, ISSUE, *REQUESTS)))).scalars()
    approvers = {actor for actor, _ in _approvals_of(session, user_id)}
    return ({*rows} | approvers) - {gu.OPERATOR}


def key_holders(session: Session, user: User) -> set[str]:
    """The account and whoever was shown its current key (see the module's docstring)."""
    approvals = _approvals_of(session, user.id)
    if approvals:
        latest = max(approvals, key=lambda a: a[1])
        return {user.name, latest[0]}
    issuers = session.execute(
        select(AuditEntry.actor).where(AuditEntry.target == f"user:{user.id}",
                                       AuditEntry.outcome == "ok",
                                       AuditEntry.action.in_((CREATE, ISSUE)))).scalars()
    return ({user.name, *issuers}) - {gu.OPERATOR}


def ensure_different_people(session: Session, user_id: int, others: Iterable[int], *,
                            doing: str) -> None:
    """Refuse when ``user_id`` and any of ``others`` share a key holder (one person)."""
    me = gu.get_user(session, user_id)
    mine = key_holders(session, me)
    for other_id in set(others) - {user_id}:
        other = session.get(User, other_id)
        if other is None:
            continue
        shared = mine & key_holders(session, other)
        if shared:
            raise PermissionDenied(
                f"your account and {other.name}'s were both in the hands of "
                f"{', '.join(sorted(shared))}: one person may not {doing}")


def _creators(session: Session, user_id: int) -> set[str]:
    return set(session.execute(
        select(AuditEntry.actor).where(AuditEntry.target == f"user:{user_id}",
                                       AuditEntry.outcome == "ok",
                                       AuditEntry.action == CREATE)).scalars())


def _user_named(session: Session, name: str) -> User | None:
    return session.execute(select(User).where(User.name == name)).scalar_one_or_none()


def _approvals_of(session: Session, user_id: int) -> list[tuple[str, int]]:
    """(approver, seq) of every approved grant of the account."""
    requests = select(AuditEntry.seq).where(AuditEntry.action.in_(REQUESTS),
                                            AuditEntry.outcome == "ok",
                                            AuditEntry.target == f"user:{user_id}")
    targets = [f"grant:{seq}" for seq in session.execute(requests).scalars()]
    if not targets:
        return []
    rows = session.execute(
        select(AuditEntry.actor, AuditEntry.seq).where(AuditEntry.action.in_(APPROVALS),
                                                       AuditEntry.outcome == "ok",
                                                       AuditEntry.target.in_(targets)))
    return [(actor, seq) for actor, seq in rows]


def _approval(session: Session, grant_id: int) -> AuditEntry | None:
    return session.execute(
        select(AuditEntry).where(AuditEntry.action.in_(APPROVALS),
                                 AuditEntry.target == f"grant:{grant_id}",
                                 AuditEntry.outcome == "ok")).scalars().first()


def list_grants(session: Session) -> list[Grant]:
    """Every grant request with its approval, newest first (what the board sees)."""
    requests = session.execute(
        select(AuditEntry).where(AuditEntry.action.in_(REQUESTS), AuditEntry.outcome == "ok")
        .order_by(AuditEntry.seq.desc())).scalars().all()
    out = []
    for entry in requests:
        detail = json.loads(entry.detail)
        approval = _approval(session, entry.seq)
        role = detail.get("role", gu.Role.BOARD.value) if detail["kind"] == "role" else None
        out.append(Grant(
            id=entry.seq, kind=str(detail["kind"]), role=role,
            user_id=int(entry.target.removeprefix("user:")), user_name=str(detail["user"]),
            requested_by=entry.actor, requested_at=entry.at,
            approved_by=approval.actor if approval else None,
            approved_at=approval.at if approval else None))
    return out


def count_admins(session: Session) -> int:
    """Active accounts holding the admin role."""
    rows = session.execute(select(User.roles).where(User.active.is_(True))).scalars()
    return sum(1 for roles in rows if gu.Role.ADMIN.value in roles)
