"""Extract keys for their owners, as age identities (the key itself comes from the deidentify
library): what the API's key routes and the portal's key page hand out; and the running API's
expiry of extracts past their date."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from core.keys import KeyProvider
from governance.requests import expire_due

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OwnerKey:
    identity: str  # AGE-SECRET-KEY-1...
    key_file: str  # the identity file to save (comments, then the identity)
    file_name: str  # what to save it as
    package_name: str  # the download's file name
    command: str  # the one command that opens the download


def owner_key(keys: KeyProvider, request_id: str, expires_at: datetime) -> OwnerKey:
    # Imported here so the API starts even when only this route needs the extract library.
    from deidentify import extract_data_key, key_file_text
    from deidentify.contents import PACKAGE_SUFFIX
    from deidentify.package import age_identity

    data_key = extract_data_key(keys, request_id)
    file_name, package_name = f"{request_id}-key.txt", f"{request_id}{PACKAGE_SUFFIX}"
    return OwnerKey(identity=age_identity(data_key),
                    key_file=key_file_text(request_id, data_key, f"{expires_at:%Y-%m-%d}"),
                    file_name=file_name, package_name=package_name,
                    command=f"age -d -i {file_name} {package_name} | tar -x")


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
