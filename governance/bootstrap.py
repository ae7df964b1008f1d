"""Demo users, one per role, so ``make demo`` can print working keys."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict
from governance.models import User
from governance.partners import list_partners
from governance.users import Role, create_user, issue_key

DEMO_USERS: tuple[tuple[str, str, Role], ...] = (
    ("partner", "demo-partner", Role.PARTNER),
    ("researcher", "demo-researcher", Role.RESEARCHER),
    ("board", "demo-board-1", Role.BOARD),
    ("board_2", "demo-board-2", Role.BOARD),  # the default quorum is two board members
    ("admin", "demo-admin", Role.ADMIN),
    ("reviewer", "demo-reviewer", Role.REVIEWER),  # clerical review: `c2c review list`
    ("checker", "demo-checker-1", Role.CHECKER),  # two output checkers release an extract
    ("checker_2", "demo-checker-2", Role.CHECKER),
)


def demo_address(name: str) -> str:
    """Demo users get an address so the mail the service would send them can be read
    (``c2c demo`` delivers it to a local Maildir; ``.invalid`` never resolves)."""
    return f"{name}@demo.invalid"


def create_demo_users(session: Session, today: date | None = None) -> dict[str, str]:
    """Create (or reuse) one demo user per role and issue each a fresh key.

    Returns ``{"partner", "researcher", "board", "board_2", "admin", "reviewer", "checker",
    "checker_2"} -> token``;
    ``board_2`` is a second board member so a request can reach the default quorum of two.
    The partner user belongs to the first partner (by org_code) whose agreement is active
    ``today``. Partners must be imported first. The caller commits.
    """
    today = today or date.today()
    partners = list_partners(session)
    active = [p for p in partners if p.agreement_active(today)]
    if not active:
        raise Conflict("no partner with an active agreement: run `c2c partners import "
                       "partners.csv` first")
    keys: dict[str, str] = {}
    for label, name, role in DEMO_USERS:
        user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            org = active[0].org_code if role == Role.PARTNER else None
            user = create_user(session, name, [role], org, email=demo_address(name))
        keys[label] = issue_key(session, user.id, label="demo").token
    return keys


def create_demo_stewards(session: Session, today: date | None = None) -> dict[str, str]:
    """One data steward per partner with an active agreement (provider review answers for
    it); returns ``{org_code: token}``. The caller commits."""
    today = today or date.today()
    keys: dict[str, str] = {}
    for partner in list_partners(session):
        if not partner.agreement_active(today):
            continue
        name = f"demo-steward-{partner.org_code}"
        user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            user = create_user(session, name, [Role.STEWARD], partner.org_code,
                               email=demo_address(name))
        keys[partner.org_code] = issue_key(session, user.id, label="demo").token
    return keys
