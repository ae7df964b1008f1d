"""A partner's upload, received and ingested: what ``POST /v1/partner/uploads`` and the
portal's upload page share."""

from __future__ import annotations

from functools import partial

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from api.partner_schemas import UploadResult
from api.uploads import receive_upload
from core.keys import KeyProvider
from core.settings import Settings
from governance.users import Principal
from services.receive_upload import ingest_upload

UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files, named as in docs/ingest.md",
                        }
                    },
                    "required": ["files"],
                }
            }
        },
    }
}


async def receive_and_ingest(request: Request, *, settings: Settings,
                             sessions: sessionmaker[Session], keys: KeyProvider,
                             caller: Principal, org: str) -> UploadResult:
    """The upload of ``request`` received into a private folder, ingested for ``org`` (the API
    route and the portal page alike), and the folder removed whatever happened."""
    received = await receive_upload(
        request.headers.get("content-type"), request.headers.get("content-length"),
        request.stream(), settings.tmp_dir / "uploads", settings.upload_max_bytes, org)
    try:
        outcome = await run_in_threadpool(partial(
            ingest_upload, settings=settings, sessions=sessions, keys=keys, caller=caller,
            files=received.files))
    finally:
        received.remove()
    return UploadResult.of(outcome)
