"""What every portal page shares: templates, the session cookie, rendering and redirects.

Pages are rendered on the server from ``templates/``; every asset comes from ``static/``
(no CDN). Who may see a page: ``api.portal.access``; the forms' tokens: ``api.portal.csrf``;
the templates' filters: ``api.portal.filters``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.portal.filters import grouped_errors, withheld_why, withhold
from api.portal.sessions import COOKIE, PortalSession, SessionStore
from core.errors import NotFound, UserError
from core.labels import variable_named
from governance.users import Role

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["withhold"] = withhold
templates.env.filters["grouped_errors"] = grouped_errors
templates.env.filters["withheld_why"] = withheld_why
# A variable as people read it, with the code the API, the CSV and the docs use.
templates.env.filters["named"] = variable_named

# Pages never load anything from elsewhere; inline SVG charts need no script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

HOME_FOR_ROLE = {
    Role.PARTNER: "/portal/partner",
    Role.RESEARCHER: "/portal/researcher",
    Role.BOARD: "/portal/board",
    Role.STEWARD: "/portal/steward",
    Role.CHECKER: "/portal/checker",
}


def store(request: Request) -> SessionStore:
    s: SessionStore = request.app.state.portal_sessions
    return s


def peek(request: Request) -> PortalSession | None:
    """This browser's live session, if it has one (never creates one)."""
    cached: PortalSession | None = getattr(request.state, "portal_session", None)
    if cached is not None:
        return cached
    s = store(request).get(request.cookies.get(COOKIE))
    request.state.portal_session = s
    return s


def set_session(request: Request, s: PortalSession) -> None:
    request.state.portal_session = s
    request.state.portal_cookie = s.id


def finish(request: Request, response: Response) -> Response:
    """Security headers, and the session cookie when it changed."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    sid = getattr(request.state, "portal_cookie", None)
    if sid is not None:
        response.set_cookie(
            COOKIE, sid, httponly=True, samesite="strict", path="/",
            # Behind TLS (directly or via a proxy that uvicorn trusts) the cookie never
            # travels in clear; on plain loopback http a Secure cookie would not come back.
            secure=request.url.scheme == "https",
        )
    return response


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status: int = 200) -> Response:
    s = peek(request)
    ctx: dict[str, Any] = {"csrf": s.csrf if s else "", "me": s.principal if s else None,
                           "title": "", "nav": _nav(s)}
    if s is not None and s.flash:
        ctx["flash"], s.flash = list(s.flash), []
    ctx.update(context or {})
    response = templates.TemplateResponse(request=request, name=name, context=ctx,
                                          status_code=status)
    return finish(request, response)


def redirect(request: Request, url: str, message: str | None = None) -> Response:
    """303 to ``url``; ``message`` is shown once on that page (what was done, or why not)."""
    s = peek(request)
    if message and s is not None:
        s.flash.append(message)
    return finish(request, RedirectResponse(url, status_code=303))


def refused(request: Request, error: UserError, url: str, what: str) -> Response:
    """A refused action is said on the page it came from (``what: why``), never a bare error
    page; a ``NotFound`` stays the 404 page (no such request for you)."""
    if isinstance(error, NotFound):
        raise error
    return redirect(request, url, f"{what}: {error}")


def _nav(s: PortalSession | None) -> list[tuple[str, str]]:
    items = [("/portal/public", "Public dashboard"), ("/portal/public/requests", "Request log"),
             ("/portal/public/linkage-quality", "Linkage quality")]
    if s is not None and s.principal is not None:
        items += [(url, role.value.capitalize()) for role, url in HOME_FOR_ROLE.items()
                  if s.principal.has(role)]
    return items


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    """HTML for errors on portal pages (the API keeps its JSON bodies)."""
    return render(request, "error.html", {"title": f"Error {status}", "status": status,
                                          "code": code, "message": message}, status=status)


