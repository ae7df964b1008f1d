"""The words of each notification, and who gets it (queued through ``governance.notify``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.gate import GatedCount, shown_floor
from core.labels import variable_named
from governance import request_facts as facts
from governance.models import DataRequest, User
from governance.notify import emails, liaison_of, queue, users_with_role
from governance.provider_review import ReviewStatus, outcome

SIGNATURE = "\n\n-- c2c-link (this message was sent automatically; do not reply)"


def _request_line(request: DataRequest) -> str:
    return (f"Request {request.id}: {request.title!r} ({request.kind}, "
            f"purpose {request.purpose_code})")


def request_submitted(session: Session, request: DataRequest) -> None:
    """Stewards of every partner still to answer, and the board."""
    due = f"{request.review_due_at:%Y-%m-%d}" if request.review_due_at else "-"
    for review in request.provider_reviews:
        if review.status != ReviewStatus.PENDING.value:
            continue
        silence = ("consent" if review.silence_means == "consent" else "an objection")
        action = ("blocks the request" if review.on_objection == "block"
                  else "removes your organisation's records from it")
        body = (f"{_request_line(request)} would use records your organisation "
                f"{review.org_code} provided.\n\nPurpose: {request.purpose}\n"
                f"Variables: {', '.join(request.variables)}\n"
                f"Grouping: {', '.join(request.group_by) or '-'}\n\n"
                f"Please approve or object with a reason by {due}. Under your agreement, "
                f"silence counts as {silence}, and an objection {action}."
                f"\nReview it in the portal or with POST /v1/steward/reviews/{request.id}."
                + SIGNATURE)
        queue(session, emails(users_with_role(session, "steward", review.org_code)),
              f"[C2C] Provider review requested: {request.id}", body, "review.requested")
    waiting = sum(1 for r in request.provider_reviews if r.status == ReviewStatus.PENDING.value)
    queue(session, emails(users_with_role(session, "board")),
          f"[C2C] New request submitted: {request.id}",
          f"{_request_line(request)} was submitted. Provider review: {waiting} partner(s) to "
          f"answer by {due}; approval waits for it, a denial does not." + SIGNATURE,
          "request.submitted")


def review_progress(session: Session, request: DataRequest) -> None:
    """Tell the board once every partner has answered (or silence was applied)."""
    result = outcome(request)
    if not result.complete:
        return
    excluded = ", ".join(result.excluded) or "none"
    blocking = ", ".join(result.blocking) or "none"
    queue(session, emails(users_with_role(session, "board")),
          f"[C2C] Provider review complete: {request.id}",
          f"{_request_line(request)}: provider review is complete.\nRecords removed: "
          f"{excluded}\nBlocking objections: {blocking}\nThe board may now decide."
          + SIGNATURE, "review.complete")


def status_changed(session: Session, request: DataRequest, detail: str = "") -> None:
    """The requester hears the stage, the withheld variables and every reason: the same
    facts, from the same functions, as the API answer and the portal page."""
    requester = session.get(User, request.requester_id)
    if requester is None:
        return
    session.flush()
    session.refresh(request)
    word = facts.stage(request).value
    lines = [f"{_request_line(request)} is now: {word}.{(' ' + detail) if detail else ''}"]
    withheld = facts.withheld_variables(session, request)
    if withheld:
        lines.append("\nWithheld from the output:")
        lines += [f"- {variable_named(w.variable)}: {w.reason}" for w in withheld]
    said = facts.reasons(session, request)
    if said:
        lines.append("\nReasons given:")
        lines += [f"- {r.who} ({r.decision}): {r.reason}" for r in said]
    queue(session, [requester.email], f"[C2C] {request.id} is now: {word}",
          "\n".join(lines) + SIGNATURE, f"request.{request.status}")


def output_ready(session: Session, request: DataRequest) -> None:
    checkers = [u for u in users_with_role(session, "checker") if u.id != request.requester_id]
    queue(session, emails(checkers), f"[C2C] Output to check: {request.id}",
          f"{_request_line(request)} has output waiting for two independent output checkers."
          + SIGNATURE, "output.ready")


def output_decided(session: Session, request: DataRequest, state: str) -> None:
    if state == "needs_third_checker":
        decided = {r.checker_id for r in request.output_reviews}
        third = [u for u in users_with_role(session, "checker")
                 if u.id not in decided and u.id != request.requester_id]
        queue(session, emails(third), f"[C2C] Third output check needed: {request.id}",
              f"{_request_line(request)}: the two output checkers disagree; a third decides."
              + SIGNATURE, "output.third")
    elif state in {"released", "rejected"}:
        status_changed(session, request)


def upload_receipt(session: Session, org_code: str, filename: str, status: str,
                   error_count: int, receipt_id: int | str | None) -> None:
    problems = (f"{error_count} problem(s); each is listed by line and field in the receipt"
                if error_count else "no problems")
    queue(session, liaison_of(session, org_code), f"[C2C] Receipt: {filename} ({status})",
          f"We received {filename} from {org_code}: {status}, {problems}.\n"
          f"Receipt: {receipt_id}." + SIGNATURE, "upload.receipt")


def missing_files(session: Session, org_code: str, missing: list[str], due: str) -> int:
    if not missing:
        return 0
    lines = "\n".join(f"- {m}" for m in missing)
    return queue(session, liaison_of(session, org_code),
                 f"[C2C] Files still missing for {org_code} (due {due})",
                 f"These files are still missing for {org_code}; they are due {due}:\n{lines}"
                 + SIGNATURE, "reminder.missing")


def _about(count: GatedCount, min_cell: int) -> str:
    if count.value is None:
        return f"fewer than {shown_floor(min_cell)}"
    return f"about {count.value:,}"


def cohort_ids_changed(session: Session, request_id: str, *, run_id: str, merged: GatedCount,
                       split: GatedCount, retired: GatedCount, min_cell: int) -> int:
    """The researcher holding ``request_id``'s extract hears that the annual run changed ids
    of people in it: counts through the egress gate, never which people."""
    request = session.get(DataRequest, request_id)
    requester = session.get(User, request.requester_id) if request is not None else None
    if request is None or requester is None:
        return 0
    body = (f"{_request_line(request)}: the annual link run {run_id} changed the person ids "
            f"of some people in the extract you received.\n\n"
            f"- merged into another person: {_about(merged, min_cell)}\n"
            f"- split (some of their records now belong to another person): "
            f"{_about(split, min_cell)}\n"
            f"- retired (their records were withdrawn): {_about(retired, min_cell)}\n\n"
            "Counts only, rounded and suppressed like every published count; we never say who. "
            "Your extract's pseudonyms are unchanged; a new extract of an approved request is "
            "built on the current ids." + SIGNATURE)
    return queue(session, [requester.email], f"[C2C] Person ids changed in {request.id}",
                 body, "extract.ids_changed")
