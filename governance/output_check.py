"""Output checking: every table that leaves for a request is checked before release.

First the automated checks (run where the table is built; their results travel in the extract
record's ``detail["output_checks"]``), then two independent output checkers (the ``checker``
role; never the requester; one checker counts once). Two approvals release the file; a
disagreement needs a third checker, whose decision breaks it; two rejections refuse it. Only a
released file can be downloaded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, PermissionDenied, UserError
from governance import grants, notices
from governance.locking import locked_request
from governance.models import DataRequest, ExtractRecord, OutputReview

MAX_CHECKERS = 3
NEEDED = 2


class CheckerDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReleaseState(StrEnum):
    NOT_BUILT = "not_built"
    AUTOMATED_CHECKS_FAILED = "automated_checks_failed"
    AWAITING_CHECKERS = "awaiting_checkers"
    NEEDS_THIRD_CHECKER = "needs_third_checker"
    RELEASED = "released"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Release:
    state: ReleaseState
    approvals: int
    rejections: int
    failed_checks: list[dict[str, Any]]


def automated_results(record: ExtractRecord | None) -> list[dict[str, Any]]:
    if record is None:
        return []
    return list((record.detail or {}).get("output_checks") or [])


def release_of(request: DataRequest, record: ExtractRecord | None) -> Release:
    """Where a request's output stands. A record built before output checks existed carries no
    results: that is not a pass, so it waits for checkers like any other."""
    if record is None:
        return Release(ReleaseState.NOT_BUILT, 0, 0, [])
    failed = [c for c in automated_results(record) if not c.get("passed")]
    votes = Counter(r.decision for r in request.output_reviews)
    approvals, rejections = votes[CheckerDecision.APPROVE.value], votes[
        CheckerDecision.REJECT.value]
    if failed:
        state = ReleaseState.AUTOMATED_CHECKS_FAILED
    elif approvals >= NEEDED and approvals > rejections:
        state = ReleaseState.RELEASED
    elif rejections >= NEEDED and rejections > approvals:
        state = ReleaseState.REJECTED
    elif approvals == 1 and rejections == 1:
        state = ReleaseState.NEEDS_THIRD_CHECKER
    else:
        state = ReleaseState.AWAITING_CHECKERS
    return Release(state, approvals, rejections, failed)


def extract_record(session: Session, request_id: str) -> ExtractRecord | None:
    return session.execute(
        select(ExtractRecord).where(ExtractRecord.request_id == request_id)
    ).scalar_one_or_none()


def checker_queue(session: Session) -> list[DataRequest]:
    """Fulfilled requests whose output waits for a checker."""
    query = (select(DataRequest).join(ExtractRecord, ExtractRecord.request_id == DataRequest.id)
             .where(DataRequest.status == "fulfilled").order_by(DataRequest.fulfilled_at))
    waiting = {ReleaseState.AWAITING_CHECKERS, ReleaseState.NEEDS_THIRD_CHECKER}
    return [r for r in session.execute(query).scalars()
            if release_of(r, extract_record(session, r.id)).state in waiting]


def checker_decide(session: Session, request_id: str, *, checker_id: int,
                   decision: CheckerDecision | str, reason: str) -> Release:
    decision = CheckerDecision(decision)
    reason = reason.strip()
    if len(reason) < 3:
        raise UserError("an output-check decision needs a written reason")
    request = locked_request(session, request_id)
    if request is None or request.status == "draft":
        raise NotFound(f"no request {request_id!r} with output to check")
    if request.requester_id == checker_id:
        raise PermissionDenied("you made this request, so you cannot check its output")
    record = extract_record(session, request_id)
    before = release_of(request, record)
    if before.state not in {ReleaseState.AWAITING_CHECKERS, ReleaseState.NEEDS_THIRD_CHECKER}:
        raise Conflict(f"the output of {request_id} is {before.state.value}; nothing to check")
    if any(r.checker_id == checker_id for r in request.output_reviews):
        raise Conflict(f"you already checked the output of {request_id}")
    if len(request.output_reviews) >= MAX_CHECKERS:
        raise Conflict(f"the output of {request_id} already has {MAX_CHECKERS} checkers")
    # Two checkers means two people: not the requester's key holder, not an earlier checker's.
    grants.ensure_different_people(session, checker_id, [request.requester_id],
                                   doing="check the output of a request they made")
    grants.ensure_different_people(session, checker_id,
                                   [r.checker_id for r in request.output_reviews],
                                   doing="be two of an output's checkers")
    session.add(OutputReview(request_id=request_id, checker_id=checker_id,
                             decision=decision.value, reason=reason))
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"you already checked the output of {request_id}") from exc
    session.refresh(request)
    release = release_of(request, record)
    notices.output_decided(session, request, release.state.value)
    return release


def require_released(session: Session, request: DataRequest) -> None:
    """Refuse a download until the output is released (called by the download routes)."""
    release = release_of(request, extract_record(session, request.id))
    if release.state == ReleaseState.RELEASED:
        return
    words = {
        ReleaseState.NOT_BUILT: "has no output yet",
        ReleaseState.AUTOMATED_CHECKS_FAILED: "failed the automated output checks; re-group "
        "the request to a coarser grouping (POST .../regroup)",
        ReleaseState.AWAITING_CHECKERS: f"waits for output checkers ({release.approvals} of "
        f"{NEEDED} approvals)",
        ReleaseState.NEEDS_THIRD_CHECKER: "has one approval and one rejection; a third output "
        "checker decides",
        ReleaseState.REJECTED: "was rejected by the output checkers",
    }
    raise Conflict(f"the output of request {request.id} {words[release.state]}")
