"""The one map from errors to HTTP responses: the status of each class and the body.

Every error body is ``{"error": {"code": <stable code>, "message": <what to do>}}`` (plus
``details`` for request validation). Service errors come from ``core.errors``; the few below
exist only at the HTTP edge. The handlers that apply the map: ``api.error_handlers``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

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
    OverBudget,
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
    OverBudget: 429,
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


