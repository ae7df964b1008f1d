"""The extract registry: extracts built for approved requests, their expiry and download, and
what earlier individual-level extracts hold (cross-extract linkage control)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, Expired, NotFound
from core.keys import KeyProvider, extract_key_name
from core.requests import RequestKind
from governance import notices, output_release
from governance.audit import append
from governance.locking import locked_request
from governance.models import DataRequest, ExtractRecord, FulfilmentJob, utcnow
from governance.request_lifecycle import RequestStatus, own_request, require_status, transition


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
    require_status(request, RequestStatus.APPROVED, doing="fulfil")
    now = utcnow()
    expires_at = extract_info.expires_at or request.expires_at or now
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    transition(session, request, RequestStatus.APPROVED, status=RequestStatus.FULFILLED.value,
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
    output_release.require_released(session, request)
    return record
