"""Output checker routes: two independent checkers release each output (issue 19)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CheckerUser, SessionDep
from api.errors import COMMON_RESPONSES
from api.notifying import OutboxDep
from api.params import Limit, Offset, RequestId
from api.review_schemas import CheckerDecisionIn, ReleaseOut, ReleaseReport
from services.output_decision import decide_output, output_report, outputs_to_check

router = APIRouter(prefix="/v1/checker/requests", tags=["checker"],
                   responses=COMMON_RESPONSES)



@router.get("", response_model=list[ReleaseReport])
def queue(session: SessionDep, caller: CheckerUser, limit: Limit = 100,
          offset: Offset = 0) -> list[ReleaseReport]:
    """Outputs waiting for a checker, oldest first (your own requests are left out), one page
    at a time."""
    return [ReleaseReport.of(r.request, r.record, r.release)
            for r in outputs_to_check(session=session, checker=caller, limit=limit,
                                      offset=offset)]


@router.get("/{request_id}", response_model=ReleaseReport)
def read(request_id: RequestId, session: SessionDep, caller: CheckerUser) -> ReleaseReport:
    """The release report of one output: rows, generalisation, suppression, automated checks."""
    r = output_report(session=session, checker=caller, request_id=request_id)
    return ReleaseReport.of(r.request, r.record, r.release)


@router.post("/{request_id}/decisions", response_model=ReleaseOut)
def decide(request_id: RequestId, body: CheckerDecisionIn, session: SessionDep,
           caller: CheckerUser, outbox: OutboxDep) -> ReleaseOut:
    """Approve or reject with a reason. Two approvals release; a split needs a third checker."""
    release = decide_output(session=session, checker=caller, request_id=request_id,
                            decision=body.decision, reason=body.reason)
    out = ReleaseOut.of(release)
    outbox.send_after(session)
    return out
