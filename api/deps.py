"""Request-scoped dependencies: the store session, the caller, role checks.

A route's signature reads as its policy: ``caller: ResearcherUser`` means "needs a valid key of
a user holding the researcher role". 401 = no usable key; 403 = a valid key without the role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core.errors import NotAuthenticated, PermissionDenied
from core.settings import Settings
from governance import audit
from governance.users import KeyRefused, Principal, Role, authenticate

bearer = HTTPBearer(
    auto_error=False, description="API key: `Authorization: Bearer c2c.<id>.<secret>`"
)


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for routes that only read (their audit entry is written apart): on SQLite it
    takes no write lock, so a slow listing never stalls other callers."""
    with request.app.state.read_sessions() as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_principal(
    session: ReadSessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send your API key as 'Authorization: Bearer <key>'")
    return principal_for(session, credentials.credentials)


def principal_for(session: Session, token: str) -> Principal:
    """Authenticate ``token``; a refused real key (revoked, deactivated) is audited."""
    try:
        principal = authenticate(session, token)
    except KeyRefused as refused:
        # A real key that no longer works is worth recording (a leaked, revoked key in use).
        session.rollback()
        audit.append_committed(session, actor=refused.user_name, role="-",
                               action="auth.refused", target=f"key:{refused.key_id}",
                               outcome=refused.code)
        raise
    session.rollback()  # end the read transaction; routes open their own
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require(role: Role) -> Callable[[Request, Session, Principal], Principal]:
    def dependency(request: Request, session: ReadSessionDep,
                   principal: CurrentUser) -> Principal:
        if not principal.has(role):
            audit.append_committed(
                session, actor=principal.name, role=",".join(sorted(principal.roles)),
                action="authz.denied", target=f"{request.method} {request.url.path}",
                outcome=PermissionDenied.code)
            raise PermissionDenied(f"this route is for the {role.value} role; your key has "
                                   f"{', '.join(sorted(principal.roles))}")
        return principal

    return dependency


PartnerUser = Annotated[Principal, Depends(require(Role.PARTNER))]
ResearcherUser = Annotated[Principal, Depends(require(Role.RESEARCHER))]
BoardUser = Annotated[Principal, Depends(require(Role.BOARD))]
AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]
