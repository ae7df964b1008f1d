"""Extract data keys for their owners (the key itself comes from the deidentify library), and
the running API's expiry of extracts past their date."""

from __future__ import annotations

import asyncio
import base64
import logging

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from core.keys import KeyProvider
from governance.requests import expire_due

log = logging.getLogger(__name__)


def data_key_base64(keys: KeyProvider, request_id: str) -> str:
    """Base64, the format of the key files ``deidentify.write_key_file`` writes."""
    # Imported here so the API starts even when only this route needs the extract library.
    from deidentify import extract_data_key

    return base64.b64encode(extract_data_key(keys, request_id)).decode("ascii")


# How often the running API expires extracts past their expiry (and once at start-up).
EXPIRY_SWEEP_SECONDS = 3600


def expire_extracts(sessions: sessionmaker[Session], keys: KeyProvider) -> list[str]:
    """One sweep: every extract past its expiry is marked expired, its package deleted and its
    data key removed (governance.requests.expire_due)."""
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
