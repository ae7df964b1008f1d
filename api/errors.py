"""The one place that turns errors into HTTP responses.

Every error body is ``{"error": {"code": <stable code>, "message": <what to do>}}`` (plus
``details`` for request validation). Service errors come from ``core.errors``; the few below
exist only at the HTTP edge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    Busy,
    C2CError,
    Conflict,
    Expired,
    Held,
    InputRejected,
    InternalError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    UserError,
)

log = logging.getLogger("c2c.api")


class BadRequest(UserError):
    """The HTTP request itself is malformed (e.g. broken multipart)."""

    code = "bad_request"


class TooLarge(UserError):
    code = "too_large"


# Most specific class first is not needed: the lookup walks the error's MRO.
STATUS: dict[type[C2CError], int] = {
    NotAuthenticated: 401,
    PermissionDenied: 403,
    TooManyAttempts: 429,
    NotFound: 404,
    Conflict: 409,
    # Held as an *error* means nothing was kept (a held file that was stored comes back as a
    # 202 receipt instead): the agreement state forbids the action, so 409.
    Held: 409,
    Expired: 410,
    TooLarge: 413,
    BadRequest: 400,
    InputRejected: 422,
    UserError: 422,
    Busy: 503,
    # Key, integrity, settings and identifier problems inside the service are not the
    # caller's to fix: every InternalError is a 500.
    InternalError: 500,
    C2CError: 500,
}

# A 5xx body never carries str(error): it can name a keyring path, a file or a setting. The
# message goes to the operator's log; the caller gets what to do.
GENERIC_5XX: dict[int, str] = {
    503: "the service is busy; retry in a minute",
    500: "the service failed; the operator has been told",
}


def status_for(error: C2CError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(status: int, code: str, message: str, *, retry_after: int | None = None,
                   **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    body["error"].update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "60"}
    if status == 429:
        headers = {"Retry-After": str(retry_after or 60)}
    return JSONResponse(body, status_code=status, headers=headers)


# Responses every route may give, for the OpenAPI document.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in [
        (401, "Missing, unknown or revoked API key"),
        (403, "Your role may not use this route"),
        (429, "Too many failed sign-ins from your address or with this key (Retry-After)"),
        (422, "The input breaks a rule"),
    ]
}


def _portal_page(request: Request) -> Callable[[Request, int, str, str], Response] | None:
    """The portal's HTML error page for a portal path (set by api.portal), else None: browsers
    get a page they can read, API clients keep the JSON body."""
    if not request.url.path.startswith("/portal"):
        return None
    page: Callable[[Request, int, str, str], Response] | None = getattr(
        request.app.state, "portal_error_page", None)
    return page


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(C2CError)
    async def _service_error(request: Request, error: C2CError) -> Response:
        status = status_for(error)
        if status >= 500:
            log.error("service error %s: %s", error.code, error)
            message = GENERIC_5XX.get(status, GENERIC_5XX[500])
        else:
            message = str(error)
        page = _portal_page(request)
        if page is not None:
            return page(request, status, error.code, message)
        return error_response(status, error.code, message,
                              retry_after=getattr(error, "retry_after", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> Response:
        details = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in error.errors()
        ]
        first = details[0] if details else {"location": "", "message": "invalid input"}
        message = f"{first['location']}: {first['message']}" if first["location"] else str(
            first["message"])
        page = _portal_page(request)
        if page is not None:
            return page(request, 422, "invalid_input", message)
        return error_response(422, "invalid_input", message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated",
                 403: "permission_denied", 413: "too_large", 400: "bad_request"}
        code = codes.get(error.status_code, "http_error")
        page = _portal_page(request)
        if page is not None:
            return page(request, error.status_code, code, str(error.detail))
        return error_response(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error",
                              "the service failed unexpectedly; the operator has been told")
