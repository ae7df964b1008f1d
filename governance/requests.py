"""Data requests: lifecycle, board decisions, fulfilment hand-off, extract registry, public log.

Lifecycle (DESIGN.md, C2C data request process)::

    draft -> submitted -> approved | denied;  approved -> fulfilled -> expired
    draft | submitted -> withdrawn

Two kinds: ``aggregate`` tables the published aggregates do not already give (expedited
review), and ``individual`` extracts (comprehensive review: research-training attestation and
an IRB reference are required before submission).

Concurrency: a decision locks the request row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
serialises writers with ``BEGIN IMMEDIATE``), every state change is a conditional UPDATE whose
row count is checked, and ``fulfilment_jobs.request_id`` is unique. So two board members
approving at the same moment give exactly one approval transition and one fulfilment job.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.catalog import VARIABLE_BY_NAME
from core.data_use import DEFAULT_REVIEW_BUSINESS_DAYS, Purpose
from core.errors import Conflict, Expired, NotFound, PermissionDenied, UserError
from core.keys import KeyProvider, extract_key_name
from core.protection import EXTRACT_DEFAULT_DAYS, require_extract_days, require_quorum
from core.requests import ApprovedRequest, CohortFilter, RequestKind
from governance import grants, notices, output_check, provider_review
from governance.audit import append
from governance.locking import locked_request
from governance.models import (
    BoardDecision,
    DataRequest,
    ExtractRecord,
    FulfilmentJob,
    utcnow,
)


class RequestStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    DENIED = "denied"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Decision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


MAX_TEXT = 5000


def check_variables(names: list[str], field: str = "variables") -> list[str]:
    """``names`` when every one is a catalog variable listed once; ``ValueError`` otherwise
    (pydantic turns it into a 422 naming the field)."""
    unknown = [n for n in names if n not in VARIABLE_BY_NAME]
    if unknown:
        raise ValueError(
            f"unknown {field} {', '.join(unknown)}; see the variable catalog (docs/metrics.md)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{field} lists a variable twice")
    return names


class RequestInput(BaseModel):
    """What a researcher writes; every field may change while the request is a draft."""

    kind: RequestKind
    title: str = Field(min_length=3, max_length=300)
    purpose: str = Field(min_length=10, max_length=MAX_TEXT)
    purpose_code: Purpose = Field(default=Purpose.RESEARCH, description=(
        "Why the data is wanted; partners' agreements list the purposes they permit"))
    variables: list[str] = Field(default_factory=list, max_length=len(VARIABLE_BY_NAME))
    cohort: CohortFilter = Field(default_factory=CohortFilter)
    group_by: list[str] = Field(default_factory=list, max_length=8)
    requested_expiry: date | None = None
    training_attested: bool = False
    irb_reference: str | None = Field(default=None, max_length=200)

    @field_validator("variables")
    @classmethod
    def _variables_known(cls, value: list[str]) -> list[str]:
        return check_variables(value, "variables")

    @field_validator("group_by")
    @classmethod
    def _group_by_known(cls, value: list[str]) -> list[str]:
        return check_group_by(value)


def check_group_by(names: list[str]) -> list[str]:
    """``names`` when they may group an aggregate table: catalog variables, never person_id."""
    check_variables(names, "group_by")
    if "person_id" in names:
        raise ValueError("group_by cannot use person_id: aggregates are over groups")
    return names


# Fields a draft always has: a PATCH may change them but not send null to remove them.
NOT_NULLABLE = ("kind", "title", "purpose", "variables", "cohort", "group_by",
                "training_attested")


class RequestPatch(BaseModel):
    """Partial edit of a draft: only the fields given change; ``null`` clears only the optional
    ones (``requested_expiry``, ``irb_reference``)."""

    kind: RequestKind | None = None
    title: str | None = Field(default=None, min_length=3, max_length=300)
    purpose: str | None = Field(default=None, min_length=10, max_length=MAX_TEXT)
    purpose_code: Purpose | None = None
    variables: list[str] | None = Field(default=None, max_length=len(VARIABLE_BY_NAME))
    cohort: CohortFilter | None = None
    group_by: list[str] | None = Field(default=None, max_length=8)
    requested_expiry: date | None = None
    training_attested: bool | None = None
    irb_reference: str | None = Field(default=None, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _no_null_for_required(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [name for name in NOT_NULLABLE if name in data and data[name] is None]
            if nulls:
                raise ValueError(f"{', '.join(nulls)} cannot be null: send a value, or leave "
                                 "the field out to keep it")
        return data

    @field_validator("variables")
    @classmethod
    def _variables_known(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_variables(value, "variables")

    @field_validator("group_by")
    @classmethod
    def _group_by_known(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_group_by(value)


def new_request_id() -> str:
    return f"req-{secrets.token_hex(6)}"


def create_request(session: Session, requester_id: int, data: RequestInput) -> DataRequest:
    now = utcnow()
    request = DataRequest(
        id=new_request_id(),
        requester_id=requester_id,
        kind=data.kind.value,
        title=data.title.strip(),
        purpose=data.purpose.strip(),
        purpose_code=data.purpose_code.value,
        variables=list(data.variables),
        cohort=data.cohort.model_dump(mode="json"),
        group_by=list(data.group_by),
        requested_expiry=data.requested_expiry,
        training_attested=data.training_attested,
        irb_reference=(data.irb_reference or "").strip() or None,
        status=RequestStatus.DRAFT.value,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    return request


def own_request(
    session: Session, request_id: str, requester_id: int, *, lock: bool = False
) -> DataRequest:
    """The caller's own request. Someone else's request is reported exactly like a missing one,
    so ids cannot be probed."""
    request = (locked_request(session, request_id) if lock else session.execute(
        select(DataRequest).where(DataRequest.id == request_id)).scalar_one_or_none())
    if request is None or request.requester_id != requester_id:
        raise NotFound(f"no request {request_id!r} of yours")
    return request


def list_own_requests(session: Session, requester_id: int) -> list[DataRequest]:
    query = (select(DataRequest).where(DataRequest.requester_id == requester_id)
             .order_by(DataRequest.created_at, DataRequest.id))
    return list(session.execute(query).scalars())


def _require_status(request: DataRequest, *allowed: RequestStatus, doing: str) -> None:
    if request.status not in {s.value for s in allowed}:
        names = " or ".join(s.value for s in allowed)
        raise Conflict(
            f"request {request.id} is {request.status}; you can {doing} only a {names} request"
        )


def update_request(
    session: Session, request_id: str, requester_id: int, patch: RequestPatch
) -> DataRequest:
    request = own_request(session, request_id, requester_id, lock=True)
    _require_status(request, RequestStatus.DRAFT, doing="edit")
    changes = patch.model_dump(exclude_unset=True)
    if not changes:
        return request
    for name, value in changes.items():
        if name == "kind":
            request.kind = RequestKind(value).value
        elif name == "cohort":
            request.cohort = CohortFilter.model_validate(value).model_dump(mode="json")
        elif name in {"title", "purpose"}:  # never None: RequestPatch refuses null for them
            setattr(request, name, str(value).strip())
        elif name in {"variables", "group_by"}:
            setattr(request, name, list(value or []))
        elif name == "training_attested":
            request.training_attested = bool(value)
        elif name == "irb_reference":
            request.irb_reference = (value or "").strip() or None
        elif name == "requested_expiry":
            request.requested_expiry = value
        else:  # purpose_code, the last field of RequestPatch: a new field needs a branch above
            if value is None:
                raise UserError("purpose_code cannot be removed")
            request.purpose_code = Purpose(value).value
    request.updated_at = utcnow()
    session.flush()
    return request


def submission_problems(request: DataRequest, today: date) -> list[str]:
    """What stops a draft from being submitted, in words the researcher can act on."""
    problems = []
    if not request.variables:
        problems.append("list at least one variable from the catalog")
    if request.kind == RequestKind.INDIVIDUAL.value:
        if not request.training_attested:
            problems.append("individual-level requests need the research-training attestation")
        if not request.irb_reference:
            problems.append("individual-level requests need an IRB approval reference")
        if request.group_by:
            problems.append("group_by applies to aggregate requests only")
    if request.kind == RequestKind.AGGREGATE.value and "person_id" in request.variables:
        problems.append("aggregate requests cannot include person_id")
    if request.requested_expiry is not None and request.requested_expiry <= today:
        problems.append("requested_expiry must be a future date")
    return problems


def _transition(
    session: Session, request: DataRequest, source: RequestStatus, **values: Any
) -> None:
    """Conditional UPDATE: applies only if the row is still in ``source`` (a lost race is a
    Conflict, never a second transition)."""
    result = session.execute(
        update(DataRequest)
        .where(DataRequest.id == request.id, DataRequest.status == source.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    # pragma below: every caller locks the row before it reads the status, so the UPDATE
    # cannot find it changed; the check stays as the last defence should a caller not.
    if getattr(result, "rowcount", 0) != 1:  # pragma: no cover
        raise Conflict(f"request {request.id} changed meanwhile; reload it and try again")
    session.refresh(request)


def submit_request(session: Session, request_id: str, requester_id: int, *,
                   review_days: int = DEFAULT_REVIEW_BUSINESS_DAYS) -> DataRequest:
    """Submit a draft: the board sees it, and every partner whose records it would use gets a
    provider review with a window of ``review_days`` business days."""
    request = own_request(session, request_id, requester_id, lock=True)
    _require_status(request, RequestStatus.DRAFT, doing="submit")
    now = utcnow()
    problems = submission_problems(request, now.date())
    if problems:
        raise UserError("cannot submit: " + "; ".join(problems))
    _transition(session, request, RequestStatus.DRAFT, status=RequestStatus.SUBMITTED.value,
                submitted_at=now, updated_at=now)
    provider_review.open_reviews(session, request, now=now, business_days=review_days)
    session.refresh(request)
    notices.request_submitted(session, request)
    return request


def withdraw_request(session: Session, request_id: str, requester_id: int) -> DataRequest:
    request = own_request(session, request_id, requester_id, lock=True)
    _require_status(request, RequestStatus.DRAFT, RequestStatus.SUBMITTED, doing="withdraw")
    now = utcnow()
    _transition(session, request, RequestStatus(request.status),
                status=RequestStatus.WITHDRAWN.value, withdrawn_at=now, updated_at=now)
    return request


def list_submitted(session: Session) -> list[DataRequest]:
    """What the board has to review, oldest first."""
    query = (select(DataRequest).where(DataRequest.status == RequestStatus.SUBMITTED.value)
             .order_by(DataRequest.submitted_at, DataRequest.id))
    return list(session.execute(query).scalars())


def get_for_board(session: Session, request_id: str) -> DataRequest:
    """Board members see submitted and already decided requests, not researchers' drafts."""
    request = session.get(DataRequest, request_id)
    if request is None or request.status in {RequestStatus.DRAFT.value}:
        raise NotFound(f"no submitted request {request_id!r}")
    if request.status == RequestStatus.SUBMITTED.value:
        provider_review.close_if_due(session, request)
    return request


def approvals(request: DataRequest) -> int:
    return sum(1 for d in request.decisions if d.decision == Decision.APPROVE.value)


def _expiry(request: DataRequest, now: datetime, default_days: int) -> datetime:
    """The requested expiry (end of that day, UTC), never later than the default term."""
    latest = now + timedelta(days=default_days)
    if request.requested_expiry is None:
        return latest
    requested = datetime.combine(request.requested_expiry, time(23, 59, 59), tzinfo=UTC)
    return min(requested, latest)


def decide(
    session: Session,
    request_id: str,
    board_member_id: int,
    decision: Decision | str,
    reason: str,
    *,
    quorum: int,
    default_days: int = EXTRACT_DEFAULT_DAYS,
) -> DataRequest:
    """Record one board member's decision; may approve (quorum reached) or deny the request.

    One denial with a reason ends the request. Approval needs ``quorum`` distinct members'
    approvals; when reached the request becomes ``approved`` and one fulfilment job is queued.
    """
    decision = Decision(decision)
    reason = reason.strip()
    if len(reason) < 3:
        raise UserError("a decision needs a written reason")
    # the operator's settings, checked at start-up; out of bounds here is the service's fault
    require_quorum(quorum)
    require_extract_days(default_days)
    request = locked_request(session, request_id)
    if request is None or request.status == RequestStatus.DRAFT.value:
        raise NotFound(f"no submitted request {request_id!r}")
    if request.requester_id == board_member_id:
        raise PermissionDenied("you made this request, so you cannot decide on it")
    _require_status(request, RequestStatus.SUBMITTED, doing="decide on")
    if decision == Decision.APPROVE:
        provider_review.require_complete_for_approval(session, request)
    if any(d.board_member_id == board_member_id for d in request.decisions):
        raise Conflict(f"you already decided on request {request_id}")
    # One person, one vote: an account that shares a key holder with the requester or with a
    # member who already approved is the same person (governance.grants).
    grants.ensure_different_people(session, board_member_id, [request.requester_id],
                                   doing="decide on a request they made")
    if decision == Decision.APPROVE:
        grants.ensure_different_people(
            session, board_member_id,
            [d.board_member_id for d in request.decisions if d.decision == Decision.APPROVE.value],
            doing="cast two of a quorum's votes")
    session.add(BoardDecision(request_id=request.id, board_member_id=board_member_id,
                              decision=decision.value, reason=reason))
    try:
        session.flush()
    except IntegrityError as exc:  # pragma: no cover - the row lock makes the check above see
        # every earlier decision; the unique constraint is the last defence
        raise Conflict(f"you already decided on request {request_id}") from exc
    session.refresh(request)
    now = utcnow()
    if decision == Decision.DENY:
        _transition(session, request, RequestStatus.SUBMITTED, status=RequestStatus.DENIED.value,
                    decided_at=now, denial_reason=reason, updated_at=now)
    elif approvals(request) >= quorum:
        _transition(session, request, RequestStatus.SUBMITTED, status=RequestStatus.APPROVED.value,
                    decided_at=now, expires_at=_expiry(request, now, default_days), updated_at=now)
        session.add(FulfilmentJob(request_id=request.id, status="queued"))
        try:
            session.flush()
        except IntegrityError as exc:  # pragma: no cover - only the one submitted -> approved
            # transition (locked, conditional) queues a job; the unique constraint backs it up
            raise Conflict(f"request {request_id} is already queued for fulfilment") from exc
    if request.status != RequestStatus.SUBMITTED.value:
        notices.status_changed(session, request)
    return request


def to_approved(request: DataRequest) -> ApprovedRequest:
    if request.expires_at is None:
        raise Conflict(f"request {request.id} has no expiry; it was never approved")
    removed = provider_review.exclusions(request)
    cohort = CohortFilter.model_validate(request.cohort)
    cohort.excluded_leas = sorted(set(cohort.excluded_leas) | set(removed.leas))
    withheld = set(removed.variables)
    return ApprovedRequest(
        request_id=request.id,
        kind=RequestKind(request.kind),
        title=request.title,
        purpose=request.purpose,
        variables=[v for v in request.variables if v not in withheld],
        cohort=cohort,
        group_by=[g for g in request.group_by if g not in withheld],
        expires_at=request.expires_at,
        requester=request.requester.name,
        excluded_partners=removed.partners,
        withheld_variables=removed.variables,
    )


def requests_ready_for_fulfilment(session: Session) -> list[ApprovedRequest]:
    """Approved requests whose fulfilment job is queued (for the Dagster sensor/asset)."""
    query = (
        select(DataRequest)
        .join(FulfilmentJob, FulfilmentJob.request_id == DataRequest.id)
        .where(FulfilmentJob.status == "queued",
               DataRequest.status == RequestStatus.APPROVED.value)
        .order_by(FulfilmentJob.id)
    )
    return [to_approved(r) for r in session.execute(query).scalars()]


class ExtractInfo(BaseModel):
    """What the extract builder reports back for the registry."""

    package_path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: datetime | None = None  # defaults to the request's expiry
    detail: dict[str, Any] = Field(default_factory=dict)


def mark_fulfilled(session: Session, request_id: str, extract_info: ExtractInfo) -> ExtractRecord:
    """Register the built extract and move the request to ``fulfilled`` (exactly once)."""
    request = locked_request(session, request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}")
    _require_status(request, RequestStatus.APPROVED, doing="fulfil")
    now = utcnow()
    expires_at = extract_info.expires_at or request.expires_at or now
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    _transition(session, request, RequestStatus.APPROVED, status=RequestStatus.FULFILLED.value,
                fulfilled_at=now, updated_at=now)
    record = ExtractRecord(request_id=request.id, package_path=extract_info.package_path,
                           sha256=extract_info.sha256, created_at=now, expires_at=expires_at,
                           status="available", detail=extract_info.detail)
    session.add(record)
    session.execute(
        update(FulfilmentJob).where(FulfilmentJob.request_id == request.id)
        .values(status="done", done_at=now).execution_options(synchronize_session=False)
    )
    try:
        session.flush()
    except IntegrityError as exc:  # pragma: no cover - only the one approved -> fulfilled
        # transition (locked, conditional) registers an extract; the unique constraint backs it up
        raise Conflict(f"request {request_id} already has an extract") from exc
    notices.status_changed(session, request, "Its output now goes through output checking.")
    notices.output_ready(session, request)
    return record


def individual_extracts(session: Session, *, excluding: str | None = None
                        ) -> dict[str, list[str] | None]:
    """Every individual-level extract ever built for a request other than ``excluding``, as
    request id -> the variables a researcher holding it has per person; the input
    ``deidentify.build_extract`` needs to keep a new extract unlinkable to these
    (docs/deidentify.md, "Extracts of different requests").

    Expired and revoked extracts count (a researcher may have kept a copy), and so do extracts
    whose output checks have not released them yet. The variables are what the extract
    released (its record's detail), else what the request was approved for (a build releases
    nothing else), plus the columns its cohort filter fixed to one value (every row of that
    extract carries that value implicitly). None when neither list is known: the builder then
    treats that extract as sharing every variable, never as sharing none."""
    query = (select(DataRequest, ExtractRecord)
             .join(ExtractRecord, ExtractRecord.request_id == DataRequest.id)
             .where(DataRequest.kind != RequestKind.AGGREGATE.value)
             .order_by(DataRequest.id))
    found: dict[str, list[str] | None] = {}
    for request, record in session.execute(query).all():
        if request.id == excluding:
            continue
        detail = record.detail if isinstance(record.detail, dict) else {}
        released = detail.get("variables")
        held = released if isinstance(released, list) else request.variables
        if not isinstance(held, list) or not held:
            found[request.id] = None
            continue
        cohort = request.cohort if isinstance(request.cohort, dict) else {}
        fixed = cohort.get("subgroup_equals")
        found[request.id] = sorted({str(v) for v in held}
                                   | {str(c) for c in (fixed if isinstance(fixed, dict) else {})})
    return found


def expire_due(session: Session, now: datetime | None = None, *,
               keys: KeyProvider | None = None) -> list[str]:
    """Expire every extract past its expiry: the record and the request become ``expired``,
    the package file is deleted and (with ``keys``) its data key is removed from the keyring,
    one audit entry each (``extract.expire``). Returns the request ids.

    The file and key go before the caller commits: should the commit fail, what is lost is a
    package already past its expiry (downloads refuse it by date anyway), never a live one.
    """
    now = now or utcnow()
    due = session.execute(
        select(ExtractRecord).where(ExtractRecord.status == "available",
                                    ExtractRecord.expires_at <= now)
    ).scalars().all()
    expired = []
    for record in due:
        record.status = "expired"
        session.execute(
            update(DataRequest)
            .where(DataRequest.id == record.request_id,
                   DataRequest.status == RequestStatus.FULFILLED.value)
            .values(status=RequestStatus.EXPIRED.value, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        Path(record.package_path).unlink(missing_ok=True)
        key_removed = keys.forget(extract_key_name(record.request_id)) if keys else False
        append(session, actor="system", role="-", action="extract.expire",
               target=f"request:{record.request_id}",
               detail={"expires_at": f"{record.expires_at:%Y-%m-%d}", "package_deleted": True,
                       "key_removed": key_removed})
        expired.append(record.request_id)
    session.flush()
    return expired


def extract_for_download(session: Session, request_id: str, requester_id: int,
                         now: datetime | None = None) -> ExtractRecord:
    """The caller's extract, if fulfilled and not expired (expired ones are marked so)."""
    now = now or utcnow()
    request = own_request(session, request_id, requester_id)
    record = session.execute(
        select(ExtractRecord).where(ExtractRecord.request_id == request.id)
    ).scalar_one_or_none()
    if record is None:
        raise Conflict(f"request {request_id} is {request.status}; it has no extract yet")
    if record.status != "available" or record.expires_at <= now:
        raise Expired(f"the extract of request {request_id} expired on "
                      f"{record.expires_at:%Y-%m-%d}; submit a new request for continued access")
    output_check.require_released(session, request)
    return record


def regroup(session: Session, request_id: str, requester_id: int, *, group_by: list[str],
            variables: list[str] | None = None) -> tuple[DataRequest, str]:
    """After the output failed its checks, ask for a coarser table: only dropping grouping
    variables or outcome variables the board approved (never adding any), so the board's
    approval still covers it. The old package is unregistered (its path is returned for the
    caller to delete) and the request goes back to the fulfilment queue."""
    request = own_request(session, request_id, requester_id, lock=True)
    _require_status(request, RequestStatus.FULFILLED, doing="re-group")
    record = output_check.extract_record(session, request.id)
    release = output_check.release_of(request, record)
    if record is None or release.state not in {output_check.ReleaseState.AUTOMATED_CHECKS_FAILED,
                                               output_check.ReleaseState.REJECTED}:
        raise Conflict(f"the output of request {request_id} is {release.state.value}; only "
                       "output that failed its checks or was rejected can be re-grouped")
    variables = list(request.variables) if variables is None else list(variables)
    extra = sorted((set(group_by) - set(request.group_by)) | (set(variables)
                                                              - set(request.variables)))
    if extra:
        raise UserError(f"a re-grouping may only drop variables the board approved; "
                        f"{', '.join(extra)} were not approved")
    if not variables:
        raise UserError("keep at least one variable")
    if set(group_by) == set(request.group_by) and set(variables) == set(request.variables):
        raise UserError("drop at least one grouping or outcome variable: the same table would "
                        "fail the same checks")
    old_path = record.package_path
    now = utcnow()
    for review in list(request.output_reviews):
        session.delete(review)
    session.delete(record)
    session.flush()
    _transition(session, request, RequestStatus.FULFILLED, status=RequestStatus.APPROVED.value,
                group_by=list(group_by), variables=variables, fulfilled_at=None,
                updated_at=now)
    session.execute(
        update(FulfilmentJob).where(FulfilmentJob.request_id == request.id)
        .values(status="queued", done_at=None).execution_options(synchronize_session=False))
    session.flush()
    return request, old_path


class PublicLogEntry(BaseModel):
    """One row of the public request log: no requester, no personal data."""

    request_id: str
    kind: RequestKind
    title: str
    purpose: str
    status: RequestStatus
    submitted_at: datetime | None
    decided_at: datetime | None
    fulfilled_at: datetime | None
    provider_review: dict[str, int] = Field(
        default_factory=dict, description="How many partners answered what; nobody is named")


def public_log(
    session: Session, *, limit: int = 100, offset: int = 0
) -> tuple[int, list[PublicLogEntry]]:
    """Every request that was ever submitted (drafts are private), newest first."""
    base = select(DataRequest).where(DataRequest.submitted_at.is_not(None))
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        base.order_by(DataRequest.submitted_at.desc(), DataRequest.id).limit(limit).offset(offset)
    ).scalars()
    return total, [
        PublicLogEntry(request_id=r.id, kind=RequestKind(r.kind), title=r.title, purpose=r.purpose,
                       status=RequestStatus(r.status), submitted_at=r.submitted_at,
                       decided_at=r.decided_at, fulfilled_at=r.fulfilled_at,
                       provider_review=dict(Counter(
                           provider_review.effective_status(p, r.review_due_at).value
                           for p in r.provider_reviews)))
        for r in rows
    ]
