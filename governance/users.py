"""Users, roles and API keys.

Keys are ``c2c.<key_id>.<secret>``: ``key_id`` (12 hex chars) is stored in clear to find the
row; the whole token is stored only as its SHA-256. A slow password hash (argon2, bcrypt)
exists to make guessing *low-entropy human passwords* expensive; these tokens carry 256 random
bits from ``secrets``, so brute force is already infeasible and one fast SHA-256 per request
is enough (and keeps authentication off the request's critical path). A leaked database gives
no usable key. The token is returned once, at creation, and never again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.emails import email_problem
from core.errors import Conflict, NotAuthenticated, NotFound, UserError
from governance.models import ApiKey, PartnerRow, User, utcnow

TOKEN_PREFIX = "c2c"  # noqa: S105 - a fixed label, not a secret
# The audit actor of what the operator does on the host (`c2c users create`, imports).
OPERATOR = "operator (cli)"
OPERATOR_PREFIX = "operator"


class Role(StrEnum):
    PARTNER = "partner"
    RESEARCHER = "researcher"
    BOARD = "board"
    ADMIN = "admin"
    STEWARD = "steward"  # a partner's data steward: reviews requests that use its records
    CHECKER = "checker"  # output checker: reviews tables before they leave the system
    # Sees both records of a clerical-review pair, identifiers included (`c2c review`); every
    # viewing is audited. Operators without it see only which fields agree.
    REVIEWER = "reviewer"


# Roles that act for one partner organisation and so must name it.
ORG_ROLES = frozenset({Role.PARTNER, Role.STEWARD})


@dataclass(frozen=True)
class Principal:
    """Who is calling: what an authenticated request carries through the API."""

    user_id: int
    name: str
    roles: frozenset[Role]
    org_code: str | None
    key_id: str

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    token: str  # shown once; only its hash is stored


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session, name: str, roles: Iterable[Role | str], org_code: str | None = None,
    email: str | None = None,
) -> User:
    """Add a user with roles (none: it waits for a grant). A partner or steward user must name
    an existing partner."""
    try:
        role_set = {Role(r) for r in roles}
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        raise UserError(f"unknown role: {exc}; roles are {known}") from exc
    name = name.strip()
    if not name:
        raise UserError("user name must not be empty")
    if name.lower().startswith(OPERATOR_PREFIX):
        # audit entries name the host operator this way; no account may pass for it
        raise UserError(f"user names starting with {OPERATOR_PREFIX!r} are reserved")
    # No role yet is allowed: an account waiting for the grant that gives it a privileged
    # role (governance.grants) can do nothing until then; a future steward names its partner.
    if role_set & ORG_ROLES and not org_code:
        raise UserError("a partner or steward user needs an organisation: the partner's "
                        "org_code (--org)")
    if org_code and role_set and not role_set & ORG_ROLES:
        raise UserError("only partner and steward users belong to an organisation")
    if org_code and session.get(PartnerRow, org_code) is None:
        raise NotFound(f"no partner with org_code {org_code!r}; import or add it first")
    email = (email or "").strip() or None
    if email is not None:
        problem = email_problem(email)
        if problem:
            raise UserError(problem)
    if session.execute(select(User.id).where(User.name == name)).first():
        raise Conflict(f"a user named {name!r} already exists")
    user = User(name=name, roles=sorted(r.value for r in role_set), org_code=org_code or None,
                email=email)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create with the same name
        raise Conflict(f"a user named {name!r} already exists") from exc
    return user


def user_roles(user: User) -> frozenset[Role]:
    return frozenset(Role(r) for r in user.roles)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.id)).scalars())


def set_active(session: Session, user_id: int, active: bool) -> User:
    user = get_user(session, user_id)
    user.active = active
    session.flush()
    return user


def issue_key(session: Session, user_id: int, label: str | None = None) -> IssuedKey:
    """A new random key for the user; the returned token is the only copy."""
    user = get_user(session, user_id)
    key_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}.{key_id}.{secrets.token_urlsafe(32)}"
    session.add(ApiKey(key_id=key_id, key_hash=hash_token(token), user_id=user.id, label=label))
    session.flush()
    return IssuedKey(key_id=key_id, token=token)


def list_keys(session: Session, user_id: int | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return list(session.execute(query).scalars())


def revoke_key(session: Session, key_id: str) -> ApiKey:
    key = session.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar_one_or_none()
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


class KeyRefused(NotAuthenticated):
    """A well-formed key whose id exists but that is revoked, wrong or whose user is inactive.

    Carries the key id so the refusal can be audited against the key's owner. A wrong secret
    tells the caller no more than an unknown id does (same message).
    """

    def __init__(self, message: str, key_id: str, user_name: str,
                 reason: str = "refused") -> None:
        super().__init__(message)
        self.key_id = key_id
        self.user_name = user_name
        self.reason = reason  # revoked | deactivated | wrong_secret (for the audit only)


def authenticate(session: Session, token: str) -> Principal:
    """The principal behind ``token``, or NotAuthenticated (never says which part was wrong
    to a caller without a real key id)."""
    parts = token.strip().split(".", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise NotAuthenticated(
            "malformed API key: expected 'Authorization: Bearer c2c.<id>.<secret>'"
        )
    key = session.execute(select(ApiKey).where(ApiKey.key_id == parts[1])).scalar_one_or_none()
    unknown = "unknown API key: ask an administrator for a valid key"
    if key is None:
        raise NotAuthenticated(unknown)
    user = key.user
    if not hmac.compare_digest(key.key_hash, hash_token(token.strip())):
        raise KeyRefused(unknown, key.key_id, user.name, "wrong_secret")
    if key.revoked_at is not None:
        raise KeyRefused("this API key was revoked: ask an administrator for a new key",
                         key.key_id, user.name, "revoked")
    if not user.active:
        raise KeyRefused("this user is deactivated: contact an administrator",
                         key.key_id, user.name, "deactivated")
    return Principal(user_id=user.id, name=user.name, roles=user_roles(user),
                     org_code=user.org_code, key_id=key.key_id)
