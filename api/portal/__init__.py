"""The web portal: server-rendered pages for partners, researchers, the board,
data stewards, output checkers and the public.

Pages call the same governance, ingest, analytics and deidentify functions as the API routes
(``api.routes``), and refuse the same things; the portal adds only a browser session (see
``sessions``) in front. Every asset is served from ``static/``.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.portal import (
    routes_auth,
    routes_board,
    routes_checker,
    routes_partner,
    routes_partner_quality,
    routes_public,
    routes_quality,
    routes_researcher,
    routes_researcher_extract,
    routes_researcher_form,
    routes_steward,
)
from api.portal.access import install_handlers
from api.portal.sessions import SessionStore
from api.portal.web import HERE
from core.settings import Settings

ROUTERS = tuple(m.router for m in (routes_auth, routes_public, routes_quality, routes_partner,
                                   routes_partner_quality, routes_researcher,
                                   routes_researcher_form, routes_researcher_extract,
                                   routes_board, routes_steward, routes_checker))


def install(app: FastAPI, settings: Settings) -> None:
    app.state.portal_sessions = SessionStore(idle_seconds=settings.portal_idle_minutes * 60)
    # Signs the sign-in form's nonce (api.portal.csrf.signin_token); a restart changes it, which
    # only asks an open sign-in form to be reloaded.
    app.state.portal_signin_secret = secrets.token_bytes(32)
    install_handlers(app)
    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="portal-static")
    for router in ROUTERS:
        app.include_router(router)

    # People type the bare address: the portal is what they came for (the API lives under /v1).
    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=307)

    # Browsers ask for /favicon.ico on every page whatever the page links.
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})
