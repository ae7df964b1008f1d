"""The researcher's download: the encrypted package, and its key shown or saved as an age
identity file, each on a deliberate, CSRF-checked click."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.extracts import package_response
from api.params import RequestId
from api.portal.access import ResearcherPage
from api.portal.csrf import check_csrf
from api.portal.form_fields import CsrfToken
from api.portal.web import finish, render
from services import data_request as requests
from services.data_request import OwnerKey

router = APIRouter(prefix="/portal/researcher", include_in_schema=False)


@router.get("/requests/{request_id}/extract")
def download(request_id: RequestId, db: SessionDep, me: ResearcherPage) -> FileResponse:
    return package_response(request_id, requests.extract_package(
        session=db, researcher=me, request_id=request_id))


def _owner_key(request_id: RequestId, request: Request, db: SessionDep, me: ResearcherPage,
               csrf_token: CsrfToken = None) -> OwnerKey:
    """The key opens the data: given only on a deliberate, CSRF-checked click (audited)."""
    check_csrf(request, csrf_token)
    return requests.extract_key(session=db, keys=services(request).keys, researcher=me,
                                request_id=request_id)


Key = Annotated[OwnerKey, Depends(_owner_key)]


@router.post("/requests/{request_id}/key")
def key(request_id: RequestId, request: Request, key: Key) -> Response:
    """The data key shown on a page."""
    return render(request, "extract_key.html", {
        "title": f"Key for {request_id}", "rid": request_id, "expires": key.expires_at,
        "key": key})


@router.post("/requests/{request_id}/key.txt")
def key_file(request: Request, key: Key) -> Response:
    """The key as an age identity file (``age -d -i``)."""
    return finish(request, PlainTextResponse(key.key_file, headers={
        "Content-Disposition": f'attachment; filename="{key.file_name}"',
        "Cache-Control": "no-store"}))
