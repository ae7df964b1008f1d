"""Researcher routes: own data requests and, once fulfilled, their extract.

Another researcher's request answers 404 exactly like a missing one (no existence leak).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path
from fastapi.responses import FileResponse, PlainTextResponse

from api.choices import choices
from api.deps import (
    KeysDep,
    ReadSessionDep,
    ResearcherUser,
    ServingDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
)
from api.errors import COMMON_RESPONSES
from api.extracts import package_response
from api.notifying import deliver_later
from api.review_schemas import RegroupIn
from api.schemas import ExtractKey, Limit, Offset, Page, RequestOut
from governance.request_inputs import RequestInput, RequestPatch
from services import data_request as requests
from services.choices import check_cohort
from services.preview import Preview, PreviewInput, researcher_preview

router = APIRouter(prefix="/v1/requests", tags=["researcher"], responses=COMMON_RESPONSES)

RequestId = Annotated[str, Path(min_length=1, max_length=64)]
ROLE = "researcher"


@router.post("", status_code=201, response_model=RequestOut)
def create(body: RequestInput, serving: ServingDep, session: SessionDep,
           caller: ResearcherUser) -> RequestOut:
    """Create a draft data request (cohort years and LEAs must exist: 422 names the choices)."""
    return RequestOut.of(requests.create_request(session=session, researcher=caller, data=body,
                                                 published=choices(serving)))


@router.post("/preview", response_model=Preview,
             responses={429: {"description": "Query budget spent (per researcher or cohort)"},
                        503: {"description": "Warehouse busy or nothing linked yet"}})
def preview_request(body: PreviewInput, serving: ServingDep, settings: SettingsDep,
                    sessions: SessionsDep, read: ReadSessionDep,
                    caller: ResearcherUser) -> Preview:
    """Disclosure preview before submitting: coarse bands of rows and cells, quasi-identifiers
    generalised or withheld at k (individual), cells suppressed (aggregate). Runs what
    fulfilment would run; keeps nothing. Counts against your query budget (docs/metrics.md);
    the audit entry records the cohort."""
    check_cohort(choices(serving), body.cohort.academic_years, body.cohort.reporting_leas)
    return researcher_preview(settings=settings, sessions=sessions, read=read,
                              actor=caller.name, user_id=caller.user_id, data=body)


@router.get("", response_model=Page[RequestOut])
def list_own(session: ReadSessionDep, caller: ResearcherUser, limit: Limit = 50,
             offset: Offset = 0) -> Page[RequestOut]:
    """Your own requests, oldest first, one page at a time."""
    total, rows = requests.own_requests(session=session, researcher=caller, limit=limit,
                                        offset=offset)
    return Page[RequestOut](data=[RequestOut.of(r) for r in rows], count=total, limit=limit,
                            offset=offset)


@router.get("/{request_id}", response_model=RequestOut)
def get(request_id: RequestId, session: ReadSessionDep, caller: ResearcherUser) -> RequestOut:
    """One of your requests."""
    return RequestOut.of(requests.own_request(session=session, researcher=caller,
                                              request_id=request_id))


@router.patch("/{request_id}", response_model=RequestOut)
def edit(request_id: RequestId, body: RequestPatch, serving: ServingDep, session: SessionDep,
         caller: ResearcherUser) -> RequestOut:
    """Edit a draft (only the fields sent change)."""
    return RequestOut.of(requests.edit_request(session=session, researcher=caller,
                                               request_id=request_id, patch=body,
                                               published=choices(serving)))


@router.post("/{request_id}/submit", response_model=RequestOut)
def submit(request_id: RequestId, session: SessionDep, settings: SettingsDep,
           caller: ResearcherUser, background: BackgroundTasks,
           sessions: SessionsDep) -> RequestOut:
    """Submit a draft to the governance board and to the data stewards of every partner whose
    records it would use (provider review)."""
    request = requests.submit_request(session=session, settings=settings, researcher=caller,
                                      request_id=request_id)
    out = RequestOut.of(request)
    deliver_later(background, sessions, settings, done=session)
    return out


@router.post("/{request_id}/withdraw", response_model=RequestOut)
def withdraw(request_id: RequestId, session: SessionDep, caller: ResearcherUser) -> RequestOut:
    """Withdraw a draft or submitted request."""
    return RequestOut.of(requests.withdraw_request(session=session, researcher=caller,
                                                   request_id=request_id))


@router.post("/{request_id}/regroup", response_model=RequestOut)
def regroup(request_id: RequestId, body: RegroupIn, session: SessionDep,
            caller: ResearcherUser, background: BackgroundTasks, sessions: SessionsDep,
            settings: SettingsDep) -> RequestOut:
    """After the output failed its checks, drop grouping or outcome variables (never add any);
    the request goes back to fulfilment with the coarser table."""
    updated = requests.regroup_request(session=session, researcher=caller, request_id=request_id,
                                       group_by=body.group_by, variables=body.variables)
    out = RequestOut.of(updated)
    deliver_later(background, sessions, settings, done=session)
    return out


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
