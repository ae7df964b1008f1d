"""Dependencies: the services built once per process, the store session, the caller, roles.

``create_app`` builds one ``Services`` from ``Settings`` (engine, session factory, serving
snapshot, key provider); routes receive each part through ``Depends`` (``SettingsDep``,
``ServingDep``, ``SessionsDep``, ``KeysDep``), never from ``request.app.state``, so a test can
swap any of them with ``app.dependency_overrides``. ``get_services`` is the one function that
reads the application state.

A route's signature reads as its policy: ``caller: ResearcherUser`` means "needs a valid key of
a user holding the researcher role". 401 = no usable key; 403 = a valid key without the role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.serving import ServingSnapshot
from core.errors import NotAuthenticated, PermissionDenied
from core.keys import KeyProvider
from core.settings import Settings
from governance import audit
from governance.signin_guard import SignInGuard, sign_in
from governance.users import Principal, Role

bearer = HTTPBearer(
    auto_error=False, description="API key: `Authorization: Bearer c2c.<id>.<secret>`"
)


@dataclass(frozen=True)
class Services:
    """What the API uses, built once per process from ``Settings`` by ``create_app``."""

    settings: Settings
    sessions: sessionmaker[Session]
    serving: ServingSnapshot
    keys: KeyProvider
    # Sessions for routes that only read: on SQLite they begin DEFERRED and take no write
    # lock (governance.db.read_engine); their audit entry is written in its own transaction.
    read_sessions: sessionmaker[Session]
    # Failed sign-ins of this process, portal and API keys alike (governance.signin_guard).
    signin_guard: SignInGuard = field(default_factory=SignInGuard)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_sessions(services: ServicesDep) -> sessionmaker[Session]:
    return services.sessions


def get_serving(services: ServicesDep) -> ServingSnapshot:
    return services.serving


def get_keys(services: ServicesDep) -> KeyProvider:
    return services.keys


SettingsDep = Annotated[Settings, Depends(get_settings)]
def get_read_sessions(services: ServicesDep) -> sessionmaker[Session]:
    return services.read_sessions


SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
ReadSessionsDep = Annotated[sessionmaker[Session], Depends(get_read_sessions)]
ServingDep = Annotated[ServingSnapshot, Depends(get_serving)]
KeysDep = Annotated[KeyProvider, Depends(get_keys)]


def get_session(sessions: SessionsDep) -> Iterator[Session]:
    with sessions() as session:
        yield session


def get_read_session(sessions: ReadSessionsDep) -> Iterator[Session]:
    """A session for routes that only read: it never holds SQLite's write lock, so a slow
    listing does not stall other callers."""
    with sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def get_principal(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send your API key as 'Authorization: Bearer <key>'")
    return principal_for(session, services, client_of(request.scope), credentials.credentials)


def client_of(scope: Any) -> str:
    """The caller's address as the server saw it (behind a proxy, run uvicorn with
    ``--proxy-headers`` so this is the real client)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def principal_for(session: Session, services: Services, source: str, token: str) -> Principal:
    """Authenticate ``token`` through the sign-in guard (rate limit, lockout, failure audit)."""
    return sign_in(session, services.signin_guard, source=source, token=token,
                   action="auth.refused")


CurrentUser = Annotated[Principal, Depends(get_principal)]


def refuse_without(role: Role, principal: Principal, session: Session, request: Request, *,
                   place: str, holder: str) -> None:
    """Audit and refuse a caller who lacks ``role``: one rule for the API's routes and the
    portal's pages (``place`` "this route", ``holder`` "your key has", say)."""
    if principal.has(role):
        return
    audit.append_committed(
        session, actor=principal.name, role=",".join(sorted(principal.roles)),
        action="authz.denied", target=f"{request.method} {request.url.path}",
        outcome=PermissionDenied.code)
    raise PermissionDenied(f"{place} is for the {role.value} role; {holder} "
                           f"{', '.join(sorted(principal.roles))}")


def require(role: Role) -> Callable[[Request, Session, Principal], Principal]:
    def dependency(request: Request, session: ReadSessionDep,
                   principal: CurrentUser) -> Principal:
        refuse_without(role, principal, session, request,
                       place="this route", holder="your key has")
        return principal

    return dependency


PartnerUser = Annotated[Principal, Depends(require(Role.PARTNER))]
ResearcherUser = Annotated[Principal, Depends(require(Role.RESEARCHER))]
BoardUser = Annotated[Principal, Depends(require(Role.BOARD))]
AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]
StewardUser = Annotated[Principal, Depends(require(Role.STEWARD))]
CheckerUser = Annotated[Principal, Depends(require(Role.CHECKER))]
