"""What every portal page shares: templates, the session cookie, sign-in and role checks, CSRF.

Pages are rendered on the server from ``templates/``; every asset comes from ``static/``
(no CDN). A page for a role needs a signed-in session whose user holds that role; anything else
is sent to sign in (no session) or refused with an audited 403 (wrong role), exactly like the
API's ``require``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from analytics.metrics import variable_label
from api.deps import SessionDep, require
from api.portal.sessions import COOKIE, PortalSession, SessionStore, still_valid
from core.errors import PermissionDenied
from governance.users import Principal, Role

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def withhold(text: str | None, errors: Any) -> str:
    """``text`` without the offending values of ``errors``: a receipt may quote the value that
    broke a rule (a birth date, a name), and pages never show identifier values."""
    out = text or ""
    for error in errors or []:
        value = error.get("value") if isinstance(error, dict) else getattr(error, "value", None)
        if value and len(str(value)) > 1:
            out = out.replace(str(value), "[value withheld]")
    return out


def grouped_errors(errors: Any) -> list[dict[str, Any]]:
    """A receipt's errors grouped by what is wrong (field, rule, message), first seen first:
    371 rows breaking one rule read as one line naming how many and which lines, not 371."""
    groups: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for error in errors or []:
        get = error.get if isinstance(error, dict) else lambda k, e=error: getattr(e, k, None)
        key = (get("field"), get("rule"), get("message"))
        group = groups.setdefault(key, {"field": key[0], "rule": key[1], "message": key[2],
                                        "lines": [], "count": 0})
        group["count"] += 1
        if get("line") is not None:
            group["lines"].append(get("line"))
    for group in groups.values():
        lines = group["lines"]
        consecutive = len(lines) > 5 and lines == list(range(lines[0], lines[0] + len(lines)))
        group["where"] = (f"{lines[0]} to {lines[-1]}" if consecutive else
                          ", ".join(str(n) for n in lines[:5]) + (" …" if len(lines) > 5 else ""))
    return list(groups.values())


templates.env.filters["withhold"] = withhold
templates.env.filters["grouped_errors"] = grouped_errors
# A variable as people read it, with the code the API, the CSV and the docs use.
templates.env.filters["named"] = lambda code: (
    code if variable_label(code) == code.replace("_", " ") else f"{variable_label(code)} ({code})")

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


class SignInRequired(Exception):
    """No live signed-in session: the handler sends the browser to the sign-in page."""


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


def signin_token(request: Request) -> str:
    """The sign-in form's CSRF token, without a server-side session.

    A signed-in browser uses its session's token. Any other browser gets a random nonce in the
    session cookie (no server state: store lookups of it find nothing) and the form carries
    HMAC(process secret, nonce), so anonymous visitors of /portal/signin mint no sessions and
    cannot push out anybody's half-finished sign-in (issue 25)."""
    s = peek(request)
    if s is not None:
        return s.csrf
    nonce = request.cookies.get(COOKIE) or ""
    if not 20 <= len(nonce) <= 100:
        nonce = secrets.token_urlsafe(32)
        request.state.portal_cookie = nonce
    return _signin_mac(request, nonce)


def check_signin_csrf(request: Request, token: str | None) -> None:
    """The sign-in form's token matches this browser's session or its nonce cookie."""
    if peek(request) is not None:
        check_csrf(request, token)
        return
    nonce = request.cookies.get(COOKIE) or ""
    if not nonce or not token or not secrets.compare_digest(
            token.encode(), _signin_mac(request, nonce).encode()):
        raise PermissionDenied("the form's security token is missing or out of date; "
                               "reload the page and send it again")


def _signin_mac(request: Request, nonce: str) -> str:
    key: bytes = request.app.state.portal_signin_secret
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


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


def _nav(s: PortalSession | None) -> list[tuple[str, str]]:
    items = [("/portal/public", "Public dashboard"), ("/portal/public/requests", "Request log"),
             ("/portal/public/linkage-quality", "Linkage quality")]
    if s is not None and s.principal is not None:
        items += [(url, role.value.capitalize()) for role, url in HOME_FOR_ROLE.items()
                  if s.principal.has(role)]
    return items


def check_csrf(request: Request, token: str | None) -> None:
    """A state-changing form must carry this session's token (SameSite=Strict is the second
    lock). A missing token, or no session to compare with, is a refusal, never a pass."""
    s = peek(request)
    if s is None or not token or not secrets.compare_digest(token.encode(), s.csrf.encode()):
        raise PermissionDenied("the form's security token is missing or out of date; "
                               "reload the page and send it again")


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


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    """HTML for errors on portal pages (the API keeps its JSON bodies)."""
    return render(request, "error.html", {"title": f"Error {status}", "status": status,
                                          "code": code, "message": message}, status=status)


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


