"""The portal's CSRF tokens: a signed-in session's token, and the sign-in form's nonce MAC."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from api.portal.sessions import COOKIE
from api.portal.web import peek
from core.errors import PermissionDenied


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


def check_csrf(request: Request, token: str | None) -> None:
    """A state-changing form must carry this session's token (SameSite=Strict is the second
    lock). A missing token, or no session to compare with, is a refusal, never a pass."""
    s = peek(request)
    if s is None or not token or not secrets.compare_digest(token.encode(), s.csrf.encode()):
        raise PermissionDenied("the form's security token is missing or out of date; "
                               "reload the page and send it again")
