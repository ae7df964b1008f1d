"""Use case: check an output (an output checker approves or rejects a built extract before
it is released; two independent approvals release it). The API route and the portal page
call :func:`decide_output`; they render what it returns and send the notices it queued."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.gate import gate_figures, plain
from core.keys import KeyProvider
from deidentify.opening import ExtractHead, extract_sample
from governance import output_release
from governance.audit import audited
from governance.models import DataRequest, ExtractRecord, OutputReview
from governance.output_release import CheckerDecision, Release
from governance.users import Principal

ROLE = "checker"


@dataclass
class OutputReport:
    """A built output as a checker reads it: the request, its extract record, the release."""

    request: DataRequest
    record: ExtractRecord | None
    release: Release


def outputs_to_check(*, session: Session, checker: Principal, limit: int | None = None,
                     offset: int = 0) -> list[OutputReport]:
    """Outputs waiting for a checker, oldest first (one page when ``limit`` is given); the
    checker's own requests left out."""
    with audited(session, actor=checker.name, role=ROLE, action="checker.list"):
        out = []
        for request in output_release.checker_queue(session, limit=limit, offset=offset):
            if request.requester_id == checker.user_id:
                continue
            record = output_release.extract_record(session, request.id)
            out.append(OutputReport(request, record, output_release.release_of(request, record)))
    return out


def output_report(*, session: Session, checker: Principal, request_id: str) -> OutputReport:
    """The release report of one output: rows, generalisation, suppression, automated checks."""
    with audited(session, actor=checker.name, role=ROLE, action="checker.read",
                 target=f"request:{request_id}"):
        request = session.get(DataRequest, request_id)
        record = output_release.extract_record(session, request_id)
        if request is None or record is None:
            raise NotFound(f"no output of request {request_id!r} to check")
        report = OutputReport(request, record, output_release.release_of(request, record))
    return report


def decide_output(*, session: Session, checker: Principal, request_id: str,
                  decision: CheckerDecision, reason: str) -> Release:
    """Record one checker's decision (own requests refused, one vote each), audited."""
    with audited(session, actor=checker.name, role=ROLE, action=f"checker.{decision.value}",
                 target=f"request:{request_id}") as audit:
        release = output_release.checker_decide(session, request_id, checker_id=checker.user_id,
                                              decision=decision, reason=reason)
        audit["state"] = release.state.value
    return release


# How many rows a checker sees: an aggregate table whole (its cells are what leaves), an
# individual-level extract as a random sample (seeded by the request, so both checkers see
# the same rows).
SAMPLE_ROWS = 50
TABLE_CELLS = 1000


@dataclass(frozen=True)
class OutputSample:
    """What a checker looks at: rows of the output, whether they are a sample, and the
    extract's disclosure report (what disclosure control did; counts through the gate)."""

    rows: ExtractHead
    sampled: bool
    disclosure: dict[str, Any] | None


def output_sample(*, session: Session, keys: KeyProvider, request_id: str,
                  min_cell: int) -> OutputSample:
    """The output as the requester would receive it, read from the built package itself
    (decrypted and authenticated in memory, never written out): an aggregate table's cells,
    or a seeded random sample of an extract's rows, with its disclosure report."""
    record = output_release.extract_record(session, request_id)
    request = session.get(DataRequest, request_id)
    if record is None or request is None:
        raise NotFound(f"no output of request {request_id!r} to check")
    size = TABLE_CELLS if request.kind == "aggregate" else SAMPLE_ROWS
    rows = extract_sample(Path(record.package_path), keys=keys, rows=size)
    report = rows.manifest.get("disclosure")
    disclosure = (plain(gate_figures(report, min_cell,
                                     label=f"release-report/{request_id}/disclosure"))
                  if isinstance(report, dict) and request.kind != "aggregate" else None)
    return OutputSample(rows=rows, sampled=(rows.total_rows or 0) > len(rows.rows),
                        disclosure=disclosure)


def my_check(*, session: Session, request_id: str, checker_id: int) -> OutputReview | None:
    """This checker's own decision on the output, if they made one (the page shows it
    instead of a form that could only be refused)."""
    return session.execute(select(OutputReview).where(
        OutputReview.request_id == request_id,
        OutputReview.checker_id == checker_id)).scalar_one_or_none()
