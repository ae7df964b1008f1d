"""Who may see a portal page: a live signed-in session whose user holds the page's role.

No session sends the browser to sign in; a wrong role is an audited 403, exactly like the API's
``require`` (the one role-check factory, ``api.deps.require``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from api.deps import SessionDep, require
from api.portal.sessions import still_valid
from api.portal.web import error_page, peek, redirect, store
from governance.users import Principal, Role


class SignInRequired(Exception):
    """No live signed-in session: the handler sends the browser to the sign-in page."""


def signed_in(request: Request, db: SessionDep) -> Principal:
    s = peek(request)
    if s is None or s.principal is None:
        raise SignInRequired()
    if not still_valid(db, s.principal):
        store(request).drop(s)
        request.state.portal_session = None
        raise SignInRequired()
    return s.principal


def page_for(role: Role) -> Callable[..., Principal]:
    return require(role, who=signed_in, place="this page", holder="you signed in as")


PartnerPage = Annotated[Principal, Depends(page_for(Role.PARTNER))]


ResearcherPage = Annotated[Principal, Depends(page_for(Role.RESEARCHER))]


BoardPage = Annotated[Principal, Depends(page_for(Role.BOARD))]


StewardPage = Annotated[Principal, Depends(page_for(Role.STEWARD))]


CheckerPage = Annotated[Principal, Depends(page_for(Role.CHECKER))]


def install_handlers(app: Any) -> None:
    @app.exception_handler(SignInRequired)
    async def _to_signin(request: Request, _: SignInRequired) -> Response:
        return redirect(request, "/portal/signin?next=" + _safe_next(request.url.path))

    app.state.portal_error_page = error_page


def _safe_next(path: str) -> str:
    # Only our own pages: an open redirect after sign-in would help a phishing page.
    return path if path.startswith("/portal/") and "//" not in path else "/portal"


def safe_next(value: str | None) -> str:
    return _safe_next(value or "/portal")
