"""Use case: check an output (an output checker approves or rejects a built extract before
it is released; two independent approvals release it). The API route and the portal page
call :func:`decide_output`; they render what it returns and send the notices it queued."""

from __future__ import annotations

from sqlalchemy.orm import Session

from governance import output_check
from governance.audit import audited
from governance.output_check import CheckerDecision, Release
from governance.users import Principal

ROLE = "checker"


def decide_output(*, session: Session, checker: Principal, request_id: str,
                  decision: CheckerDecision, reason: str) -> Release:
    """Record one checker's decision (own requests refused, one vote each), audited."""
    with audited(session, actor=checker.name, role=ROLE, action=f"checker.{decision.value}",
                 target=f"request:{request_id}") as audit:
        release = output_check.checker_decide(session, request_id, checker_id=checker.user_id,
                                              decision=decision, reason=reason)
        audit["state"] = release.state.value
    return release
