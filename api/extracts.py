"""Extracts at the HTTP edge: the answer carrying a package (API route and portal page alike),
and the running API's expiry of extracts past their date."""

from __future__ import annotations

import asyncio
import logging

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session, sessionmaker

from core.keys import KeyProvider
from governance.extract_registry import expire_due
from services.data_request import Package, package_file_name

log = logging.getLogger(__name__)


def package_response(request_id: str, package: Package) -> FileResponse:
    return FileResponse(package.path, media_type="application/octet-stream",
                        filename=package_file_name(request_id),
                        headers={"X-SHA256": package.sha256})


# How often the running API expires extracts past their expiry (and once at start-up).
EXPIRY_SWEEP_SECONDS = 3600


def expire_extracts(sessions: sessionmaker[Session], keys: KeyProvider) -> list[str]:
    """One sweep: every extract past its expiry is marked expired, its package deleted and its
    data key removed (governance.extract_registry.expire_due)."""
    with sessions.begin() as session:
        return expire_due(session, keys=keys)


async def sweep_expired(sessions: sessionmaker[Session], keys: KeyProvider) -> None:
    """Run :func:`expire_extracts` now and every :data:`EXPIRY_SWEEP_SECONDS` until cancelled;
    a failed sweep (a busy store, say) is logged and tried again at the next one."""
    while True:
        try:
            await run_in_threadpool(expire_extracts, sessions, keys)
        except Exception:  # a sweep must never stop the API; the next one retries
            log.exception("expiring extracts failed; retrying in %s s", EXPIRY_SWEEP_SECONDS)
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
