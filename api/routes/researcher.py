"""Researcher routes: own data requests and, once fulfilled, their extract.

Another researcher's request answers 404 exactly like a missing one (no existence leak).
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path
from fastapi.responses import FileResponse

from api.choices import check_cohort, choices
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
from api.extracts import data_key_base64
from api.notifying import deliver_later
from api.partner_control_schemas import RegroupIn
from api.schemas import ExtractKey, RequestOut
from core.errors import InternalError
from governance import requests as gr
from governance.audit import audited
from services.preview import Preview, PreviewInput
from services.preview import preview_request as run_preview

router = APIRouter(prefix="/v1/requests", tags=["researcher"], responses=COMMON_RESPONSES)

RequestId = Annotated[str, Path(min_length=1, max_length=64)]
ROLE = "researcher"


@router.post("", status_code=201, response_model=RequestOut)
def create(body: gr.RequestInput, serving: ServingDep, session: SessionDep,
           caller: ResearcherUser) -> RequestOut:
    """Create a draft data request (cohort years and LEAs must exist: 422 names the choices)."""
    with audited(session, actor=caller.name, role=ROLE, action="request.create") as audit:
        check_cohort(choices(serving), body.cohort.academic_years, body.cohort.reporting_leas)
        request = gr.create_request(session, caller.user_id, body)
        audit.target = f"request:{request.id}"
        out = RequestOut.of(request)
    return out


@router.post("/preview", response_model=Preview,
             responses={503: {"description": "Warehouse busy or nothing linked yet"}})
def preview_request(body: PreviewInput, serving: ServingDep, settings: SettingsDep,
                    session: SessionDep, caller: ResearcherUser) -> Preview:
    """Disclosure preview before submitting: rows, quasi-identifiers generalised or withheld at
    k (individual), cells suppressed (aggregate). Runs what fulfilment would run; keeps nothing."""
    with audited(session, actor=caller.name, role=ROLE, action="request.preview"):
        check_cohort(choices(serving), body.cohort.academic_years, body.cohort.reporting_leas)
        out = run_preview(settings=settings, session=session, data=body)
    return out


@router.get("", response_model=list[RequestOut])
def list_own(session: ReadSessionDep, caller: ResearcherUser) -> list[RequestOut]:
    """Your own requests."""
    with audited(session, actor=caller.name, role=ROLE, action="request.list"):
        out = [RequestOut.of(r) for r in gr.list_own_requests(session, caller.user_id)]
    return out


@router.get("/{request_id}", response_model=RequestOut)
def get(request_id: RequestId, session: ReadSessionDep, caller: ResearcherUser) -> RequestOut:
    """One of your requests."""
    with audited(session, actor=caller.name, role=ROLE, action="request.read",
                 target=f"request:{request_id}"):
        out = RequestOut.of(gr.own_request(session, request_id, caller.user_id))
    return out


@router.patch("/{request_id}", response_model=RequestOut)
def edit(request_id: RequestId, body: gr.RequestPatch, serving: ServingDep, session: SessionDep,
         caller: ResearcherUser) -> RequestOut:
    """Edit a draft (only the fields sent change)."""
    with audited(session, actor=caller.name, role=ROLE, action="request.edit",
                 target=f"request:{request_id}",
                 detail={"fields": sorted(body.model_fields_set)}):
        if body.cohort is not None:
            check_cohort(choices(serving), body.cohort.academic_years,
                         body.cohort.reporting_leas)
        out = RequestOut.of(gr.update_request(session, request_id, caller.user_id, body))
    return out


@router.post("/{request_id}/submit", response_model=RequestOut)
def submit(request_id: RequestId, session: SessionDep, settings: SettingsDep,
           caller: ResearcherUser, background: BackgroundTasks,
           sessions: SessionsDep) -> RequestOut:
    """Submit a draft to the governance board and to the data stewards of every partner whose
    records it would use (provider review)."""
    with audited(session, actor=caller.name, role=ROLE, action="request.submit",
                 target=f"request:{request_id}"):
        out = RequestOut.of(gr.submit_request(session, request_id, caller.user_id,
                                              review_days=settings.provider_review_days))
    deliver_later(background, sessions, settings)
    return out


@router.post("/{request_id}/withdraw", response_model=RequestOut)
def withdraw(request_id: RequestId, session: SessionDep, caller: ResearcherUser) -> RequestOut:
    """Withdraw a draft or submitted request."""
    with audited(session, actor=caller.name, role=ROLE, action="request.withdraw",
                 target=f"request:{request_id}"):
        out = RequestOut.of(gr.withdraw_request(session, request_id, caller.user_id))
    return out


@router.post("/{request_id}/regroup", response_model=RequestOut)
def regroup(request_id: RequestId, body: RegroupIn, session: SessionDep,
            caller: ResearcherUser, background: BackgroundTasks, sessions: SessionsDep,
            settings: SettingsDep) -> RequestOut:
    """After the output failed its checks, drop grouping or outcome variables (never add any);
    the request goes back to fulfilment with the coarser table."""
    with audited(session, actor=caller.name, role=ROLE, action="request.regroup",
                 target=f"request:{request_id}",
                 detail={"group_by": body.group_by, "variables": body.variables}):
        updated, old_package = gr.regroup(session, request_id, caller.user_id,
                                          group_by=body.group_by, variables=body.variables)
        out = RequestOut.of(updated)
    FsPath(old_package).unlink(missing_ok=True)
    deliver_later(background, sessions, settings)
    return out


@router.get("/{request_id}/extract", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The encrypted extract package"},
                       404: {"description": "No such request of yours"},
                       409: {"description": "Not fulfilled yet"},
                       410: {"description": "The extract expired"}})
def download(request_id: RequestId, session: SessionDep, caller: ResearcherUser) -> FileResponse:
    """Download the encrypted extract of your fulfilled request, before it expires."""
    with audited(session, actor=caller.name, role=ROLE, action="extract.download",
                 target=f"request:{request_id}") as audit:
        record = gr.extract_for_download(session, request_id, caller.user_id)
        path = FsPath(record.package_path)
        if not path.is_file():
            raise InternalError(f"the extract of request {request_id} is missing on disk")
        audit["sha256"] = record.sha256
    return FileResponse(path, media_type="application/octet-stream",
                        filename=f"{request_id}.c2cx", headers={"X-SHA256": record.sha256})


@router.get("/{request_id}/extract/key", response_model=ExtractKey)
def extract_key(request_id: RequestId, session: SessionDep, keys: KeysDep,
                caller: ResearcherUser) -> ExtractKey:
    """The data key that opens your extract package (audited; keep it secret)."""
    with audited(session, actor=caller.name, role=ROLE, action="extract.key",
                 target=f"request:{request_id}"):
        record = gr.extract_for_download(session, request_id, caller.user_id)
        key = data_key_base64(keys, request_id)
        out = ExtractKey(request_id=request_id, key_base64=key, expires_at=record.expires_at)
    return out
