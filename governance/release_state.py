"""Where a request's output stands (pure: reads the extract record and the checkers' votes,
sends nothing). ``governance.output_release`` records the votes; ``governance.request_facts``
and the notices read the state from here, so neither depends on the module that sends notices.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from governance.models import DataRequest, ExtractRecord

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
