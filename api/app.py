"""The FastAPI application: the only door in or out of c2c-link (composition root)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from api import docs_offline, error_handlers, portal
from api.deps import Services
from api.extracts import sweep_expired
from api.headers import SecurityHeaders
from api.limits import BodyGuard
from api.routes import (
    admin,
    admin_grants,
    admin_registry,
    board,
    checker,
    partner,
    partner_quality,
    public,
    quality,
    researcher,
    researcher_extract,
    steward,
)
from api.serving import ServingSnapshot
from api.upload_area import remove_stale_uploads
from core.keys import KeyProvider
from core.private_files import restrict_umask
from core.settings import Settings
from governance.anchor import anchor_for, session_info
from governance.db import make_engine, read_engine, require_current

DESCRIPTION = """
Governed access to the c2c-link cradle-to-career data system.

* **anyone**: published (suppressed) aggregates, the variable catalog, the public request log;
* **partner**: upload files for your organisation, see your submissions and what is missing;
* **researcher**: create, edit, submit and withdraw data requests; download fulfilled extracts;
* **board**: review submitted requests; approve (quorum) or deny with a written reason;
* **steward**: review requests that would use your organisation's records; see who used them;
* **checker**: check each output before release (two independent checkers);
* **admin**: users and API keys, grants, partners and agreements, audit verification.

People can do the same in a browser: the portal at `/portal`.

Authenticate with `Authorization: Bearer <api key>`. Errors are
`{"error": {"code": ..., "message": ...}}`; see docs/api.md.
"""


@contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """While serving, keep the objects that exist at start-up out of the cyclic collector.

    Imports and app construction leave ~160,000 long-lived objects (modules, pydantic and
    SQLAlchemy metadata, route tables). Each full (generation 2) collection walked all of them:
    300-400 ms on a loaded 2-core machine, triggered every few dozen requests by the objects a
    list page allocates, so it *was* the p99 of ``GET /v1/admin/partners`` (issue 13). Frozen,
    a full collection walks only what was allocated since start-up (a few ms). They are
    unfrozen at shutdown so a process that builds many apps (the tests) frees them again
    (no collection before freezing: start-up garbage is small, and a full collection per
    app would slow every API test's set-up).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_app(settings: Settings) -> FastAPI:
    """Build the app for ``settings``; opens nothing but the governance store's engine.

    Does not migrate: a store behind this version stops start-up with ``SchemaOutOfDate``
    naming ``c2c migrate`` (the explicit step the demo and CI run).
    """
    restrict_umask()  # every file this process creates is owner-only
    engine = make_engine(settings.governance_url)
    try:
        require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    # Plaintext partner files left by a process killed mid-upload go before anything else.
    remove_stale_uploads(settings.tmp_dir / "uploads")
    serving = ServingSnapshot(settings.serving_path)
    info = session_info(anchor_for(settings))  # every audit commit anchored outside the DB
    services = Services(
        settings=settings,
        sessions=sessionmaker(engine, expire_on_commit=False, info=info),
        serving=serving,
        keys=KeyProvider(settings.master_key_path, settings.keyring_path),
        read_sessions=sessionmaker(read_engine(engine), expire_on_commit=False, info=info),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_expired(services.sessions, services.keys))
        with startup_heap_frozen():
            yield
        sweeper.cancel()
        serving.close()
        engine.dispose()

    app = FastAPI(title="c2c-link API", version="1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # served offline by api.docs_offline
    app.state.services = services  # read only by api.deps.get_services
    error_handlers.install(app)
    app.add_middleware(BodyGuard)
    app.add_middleware(SecurityHeaders)  # outermost: refusals of BodyGuard carry them too
    for router in (public.router, admin.me_router, partner.router, partner_quality.router,
                   researcher.router, researcher_extract.router,
                   board.router, board.grants_router, steward.router, checker.router,
                   admin.router, admin_grants.router, admin_registry.router, quality.router):
        app.include_router(router)
    docs_offline.install(app)
    portal.install(app, settings)
    return app
