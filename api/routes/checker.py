"""Output checker routes: two independent checkers release each output (issue 19)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path

from api.deps import CheckerUser, SessionDep, SessionsDep, SettingsDep
from api.errors import COMMON_RESPONSES
from api.notifying import deliver_later
from api.partner_control_schemas import CheckerDecisionIn, ReleaseOut, ReleaseReport
from core.errors import NotFound
from governance import output_check
from governance.audit import audited
from governance.models import DataRequest
from services.output_check import decide_output

router = APIRouter(prefix="/v1/checker/requests", tags=["checker"],
                   responses=COMMON_RESPONSES)

RequestId = Annotated[str, Path(min_length=1, max_length=64)]
ROLE = "checker"


@router.get("", response_model=list[ReleaseReport])
def queue(session: SessionDep, caller: CheckerUser) -> list[ReleaseReport]:
    """Outputs waiting for a checker, oldest first (your own requests are left out)."""
    with audited(session, actor=caller.name, role=ROLE, action="checker.list"):
        out = []
        for request in output_check.checker_queue(session):
            if request.requester_id == caller.user_id:
                continue
            record = output_check.extract_record(session, request.id)
            out.append(ReleaseReport.of(request, record,
                                        output_check.release_of(request, record)))
    return out


@router.get("/{request_id}", response_model=ReleaseReport)
def read(request_id: RequestId, session: SessionDep, caller: CheckerUser) -> ReleaseReport:
    """The release report of one output: rows, generalisation, suppression, automated checks."""
    with audited(session, actor=caller.name, role=ROLE, action="checker.read",
                 target=f"request:{request_id}"):
        request = session.get(DataRequest, request_id)
        record = output_check.extract_record(session, request_id)
        if request is None or record is None:
            raise NotFound(f"no output of request {request_id!r} to check")
        out = ReleaseReport.of(request, record, output_check.release_of(request, record))
    return out


@router.post("/{request_id}/decisions", response_model=ReleaseOut)
def decide(request_id: RequestId, body: CheckerDecisionIn, session: SessionDep,
           caller: CheckerUser, background: BackgroundTasks, sessions: SessionsDep,
           settings: SettingsDep) -> ReleaseOut:
    """Approve or reject with a reason. Two approvals release; a split needs a third checker."""
    release = decide_output(session=session, checker=caller, request_id=request_id,
                            decision=body.decision, reason=body.reason)
    deliver_later(background, sessions, settings)
    return ReleaseOut.of(release)
