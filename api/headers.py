"""Security headers on every response: JSON, errors, docs, static files and portal pages.

Portal pages set their own, stricter policy first (``api.portal.web.SECURITY_HEADERS``); this
middleware adds whatever a response still lacks. Nothing the service serves may be framed
(clickjacking of ``/docs`` or a portal form), sniffed into another type, or leak its URL in a
Referer. A JSON answer gets ``default-src 'none'``: it is data, never a page to run. The docs
pages (Swagger UI, ReDoc) run inline scripts, so HTML without its own policy gets
``frame-ancestors 'none'`` only. A pure ASGI middleware: it adds headers to the start message
and never buffers a body (the aggregates' p99 is unchanged).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS: dict[bytes, bytes] = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
}
CSP_DATA = b"default-src 'none'; frame-ancestors 'none'"
CSP_PAGE = b"frame-ancestors 'none'"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in ALWAYS.items() if k not in present]
                if b"content-security-policy" not in present:
                    kind = dict(headers).get(b"content-type", b"")
                    headers.append((b"content-security-policy",
                                    CSP_PAGE if kind.startswith(b"text/html") else CSP_DATA))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
