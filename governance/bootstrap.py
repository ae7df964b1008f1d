"""Demo users in every role, made the way a deployment makes them, so ``make demo`` can print
working keys.

The two demo admins are the store's bootstrap admins (the host operator's step); the
unprivileged users are made by the operator; every privileged account is a grant one admin
requests and the other approves (governance.grants). The two board members and the two
checkers are handed over by *different* admins, so neither admin ever held two votes.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict
from governance import grants
from governance.audit import append
from governance.models import User
from governance.partners import list_partners
from governance.users import Role, create_user

ADMINS: tuple[tuple[str, str], ...] = (("admin", "demo-admin"), ("admin_2", "demo-admin-2"))
PLAIN_USERS: tuple[tuple[str, str, Role], ...] = (
    ("partner", "demo-partner", Role.PARTNER),
    ("researcher", "demo-researcher", Role.RESEARCHER),
    ("reviewer", "demo-reviewer", Role.REVIEWER),  # clerical review: `c2c review list`
)
# label, name, role, which admin (0 or 1) requests the grant; the other one approves it
GRANTED_USERS: tuple[tuple[str, str, Role, int], ...] = (
    ("board", "demo-board-1", Role.BOARD, 0),
    ("board_2", "demo-board-2", Role.BOARD, 1),  # the default quorum is two board members
    ("checker", "demo-checker-1", Role.CHECKER, 0),  # two output checkers release an extract
    ("checker_2", "demo-checker-2", Role.CHECKER, 1),
)


def create_demo_users(session: Session, today: date | None = None) -> dict[str, str]:
    """Create one demo user per role on a fresh store; returns ``label -> key``.

    Labels: ``admin``, ``admin_2``, ``partner``, ``researcher``, ``reviewer``, ``board``,
    ``board_2``, ``checker``, ``checker_2``. The partner user belongs to the first partner (by
    org_code) whose agreement is active ``today``. Partners must be imported first; a store
    that already has the demo users is refused (the demo starts from an empty C2C_HOME). The
    caller commits.
    """
    today = today or date.today()
    active = [p for p in list_partners(session) if p.agreement_active(today)]
    if not active:
        raise Conflict("no partner with an active agreement: run `c2c partners import "
                       "partners.csv` first")
    if session.execute(select(User.id).where(User.name == ADMINS[0][1])).first():
        raise Conflict("the demo users exist already: the demo starts from an empty C2C_HOME")
    keys: dict[str, str] = {}
    admins = []
    for label, name in ADMINS:
        admin, key = grants.bootstrap_admin(session, name)
        admins.append(admin.name)
        keys[label] = key.token
    for label, name, role in PLAIN_USERS:
        org = active[0].org_code if role == Role.PARTNER else None
        keys[label] = grants.operator_create_user(session, name, [role], org)[1].token
    for label, name, role, asks in GRANTED_USERS:
        keys[label] = _granted(session, name, role, None, None, admins[asks], admins[1 - asks])
    return keys


def create_demo_stewards(session: Session, today: date | None = None) -> dict[str, str]:
    """One data steward per partner with an active agreement that names one (the first
    address it names), granted by the two demo admins; returns ``{org_code: token}``. Call
    after :func:`create_demo_users`. The caller commits."""
    today = today or date.today()
    requester, approver = (name for _, name in ADMINS)
    keys: dict[str, str] = {}
    for partner in list_partners(session):
        if not partner.agreement_active(today) or not partner.stewards:
            continue
        keys[partner.org_code] = _granted(session, f"demo-steward-{partner.org_code}",
                                          Role.STEWARD, partner.org_code, partner.stewards[0],
                                          requester, approver)
    return keys


def _granted(session: Session, name: str, role: Role, org: str | None, email: str | None,
             requester: str, approver: str) -> str:
    """An account with no role, created by ``requester``; the role granted by ``approver``."""
    user = create_user(session, name, [], org, email)
    append(session, actor=requester, role="admin", action=grants.CREATE,
           target=f"user:{user.id}")
    grant = grants.request_grant(session, requester, user.id, grants.GrantKind.ROLE, role)
    return grants.approve_grant(session, approver, grant)[1].token
