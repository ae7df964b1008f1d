"""Researcher routes for a fulfilled request's extract: the encrypted package and its key.

Another researcher's request answers 404 exactly like a missing one (no existence leak).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse

from api.deps import KeysDep, ResearcherUser, SessionDep
from api.errors import COMMON_RESPONSES
from api.extracts import package_response
from api.params import RequestId
from api.request_schemas import ExtractKey
from services import data_request as requests

router = APIRouter(prefix="/v1/requests", tags=["researcher"], responses=COMMON_RESPONSES)


@router.get("/{request_id}/extract", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The encrypted extract package"},
                       404: {"description": "No such request of yours"},
                       409: {"description": "Not fulfilled yet"},
                       410: {"description": "The extract expired"}})
def download(request_id: RequestId, session: SessionDep, caller: ResearcherUser) -> FileResponse:
    """Download the encrypted extract of your fulfilled request, before it expires."""
    return package_response(request_id, requests.extract_package(
        session=session, researcher=caller, request_id=request_id))


@router.get("/{request_id}/extract/key", response_model=ExtractKey)
def extract_key(request_id: RequestId, session: SessionDep, keys: KeysDep,
                caller: ResearcherUser) -> ExtractKey:
    """The age identity that opens your extract package, and the command to run (audited;
    keep it secret). ``.../extract/key.txt`` gives the same key as a file for ``age -i``."""
    key = requests.extract_key(session=session, keys=keys, researcher=caller,
                               request_id=request_id)
    return ExtractKey(request_id=request_id, age_identity=key.identity,
                      key_file_name=key.file_name, command=key.command,
                      expires_at=key.expires_at)


@router.get("/{request_id}/extract/key.txt", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}}}})
def extract_key_file(request_id: RequestId, session: SessionDep, keys: KeysDep,
                     caller: ResearcherUser) -> PlainTextResponse:
    """The same key as an age identity file: ``age -d -i KEY.txt REQUEST.tar.age | tar -x``."""
    key = requests.extract_key(session=session, keys=keys, researcher=caller,
                               request_id=request_id)
    return PlainTextResponse(key.key_file, headers={
        "Content-Disposition": f'attachment; filename="{key.file_name}"',
        "Cache-Control": "no-store"})
