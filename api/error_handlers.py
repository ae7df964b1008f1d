"""The API's exception handlers: each error becomes the JSON body of ``api.errors`` (status by
``api.errors.STATUS``), or the portal's HTML error page on a portal path."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import GENERIC_5XX, error_response, status_for
from core.errors import C2CError

log = logging.getLogger("c2c.api")


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
