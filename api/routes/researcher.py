"""Researcher routes: own data requests and, once fulfilled, their extract.

Another researcher's request answers 404 exactly like a missing one (no existence leak).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.choices import choices
from api.deps import (
    ReadSessionDep,
    ResearcherUser,
    ServingDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
)
from api.errors import COMMON_RESPONSES
from api.notifying import OutboxDep
from api.params import Limit, Offset, Page, RequestId
from api.request_schemas import RequestOut
from api.review_schemas import RegroupIn
from governance.request_inputs import RequestInput, RequestPatch
from services import data_request as requests
from services.choices import check_cohort
from services.preview import Preview, PreviewInput, researcher_preview

router = APIRouter(prefix="/v1/requests", tags=["researcher"], responses=COMMON_RESPONSES)



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
           caller: ResearcherUser, outbox: OutboxDep) -> RequestOut:
    """Submit a draft to the governance board and to the data stewards of every partner whose
    records it would use (provider review)."""
    request = requests.submit_request(session=session, settings=settings, researcher=caller,
                                      request_id=request_id)
    out = RequestOut.of(request)
    outbox.send_after(session)
    return out


@router.post("/{request_id}/withdraw", response_model=RequestOut)
def withdraw(request_id: RequestId, session: SessionDep, caller: ResearcherUser) -> RequestOut:
    """Withdraw a draft or submitted request."""
    return RequestOut.of(requests.withdraw_request(session=session, researcher=caller,
                                                   request_id=request_id))


@router.post("/{request_id}/regroup", response_model=RequestOut)
def regroup(request_id: RequestId, body: RegroupIn, session: SessionDep,
            caller: ResearcherUser, outbox: OutboxDep) -> RequestOut:
    """After the output failed its checks, drop grouping or outcome variables (never add any);
    the request goes back to fulfilment with the coarser table."""
    updated = requests.regroup_request(session=session, researcher=caller, request_id=request_id,
                                       group_by=body.group_by, variables=body.variables)
    out = RequestOut.of(updated)
    outbox.send_after(session)
    return out


