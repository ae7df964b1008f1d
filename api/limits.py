"""Bound every request body and check the API key before any of it is read.

FastAPI reads and parses a JSON body before it resolves the dependencies that check the key,
so an anonymous caller could make the service read and parse any amount of data. This ASGI
middleware runs first for every request that may carry a body (POST, PUT, PATCH, DELETE):

* no usable key -> 401 at once, the body never read (every such API route needs a key;
  the portal's cookie-authenticated forms under ``/portal`` get the size bounds only);
* ``Content-Length`` above the route's limit -> 413 at once;
* a body sent without a length (chunked) is counted as it streams and cut off with 413.

Limits: uploads ``C2C_UPLOAD_MAX_BYTES`` plus multipart framing, every other body
:data:`MAX_JSON_BODY`. The route still authenticates and checks the role as before.
"""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import client_of, principal_for
from api.errors import error_response, status_for
from core.errors import C2CError, NotAuthenticated, TooManyAttempts

MAX_JSON_BODY = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_PATHS = ("/v1/partner/uploads", "/portal/partner/upload")
# Portal pages authenticate with a session cookie (and CSRF token), not a bearer key: only the
# size bounds apply to them here.
PORTAL_PREFIX = "/portal"
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        services = scope["app"].state.services
        refusal = None
        if not scope["path"].startswith(PORTAL_PREFIX):  # the portal signs in by cookie
            refusal = await run_in_threadpool(_key_refusal, services, client_of(scope),
                                              headers.get("authorization"))
        if refusal is not None:
            await error_response(
                status_for(refusal), refusal.code, str(refusal),
                retry_after=getattr(refusal, "retry_after", None))(scope, receive, send)
            return
        limit = (services.settings.upload_max_bytes + MULTIPART_OVERHEAD
                 if scope["path"] in UPLOAD_PATHS else MAX_JSON_BODY)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            message = f"the request body exceeds the limit of {limit} bytes"
            await error_response(413, "too_large", message)(scope, receive, send)
            return
        await self.app(scope, _counted(receive, limit), send)


def _key_refusal(services: Any, source: str, authorization: str | None) -> C2CError | None:
    """Why the key is refused (401, or 429 while sign-ins are locked), or None for a key that
    authenticates (the same check, guard and refusal audit as every route's)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return NotAuthenticated("send your API key as 'Authorization: Bearer <key>'")
    with services.read_sessions() as session:
        try:
            principal_for(session, services, source, token)
        except (NotAuthenticated, TooManyAttempts) as refused:
            return refused
    return None


def _counted(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # HTTPException passes FastAPI's body reader unchanged and maps to 413.
                raise HTTPException(413, f"the request body exceeds the limit of {limit} bytes")
        return message

    return wrapped
