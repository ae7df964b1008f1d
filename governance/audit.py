"""Append-only audit log, hash-chained so any edited or deleted entry shows.

Each entry's hash is SHA-256 over the canonical JSON of its fields *including the previous
entry's hash*; sequence numbers are contiguous from 1; a one-row head records the last
sequence number and hash. :func:`verify` recomputes the chain, so it catches an edited entry
(hash mismatch), a deleted entry in the middle (sequence gap / broken link) and a deleted
newest entry (head ahead of the log). Someone able to rewrite the whole table *and* the head
can forge a consistent chain; operators defend against that by recording the head hash that
``c2c audit verify`` prints somewhere the database's writers cannot reach.

Appends lock the head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers are
serialised by ``BEGIN IMMEDIATE``), so two concurrent appends cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import C2CError
from governance.anchor import AuditAnchor, anchor_of, note_entry, session_info
from governance.db import writer_of
from governance.models import AuditEntry, AuditHead, utcnow

GENESIS_HASH = "0" * 64
HEAD_ID = 1


def canonical_json(value: Any) -> str:
    """Stable text for hashing: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(fields: dict[str, Any], prev_hash: str) -> str:
    payload = canonical_json({**fields, "prev_hash": prev_hash})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "detail": entry.detail,
    }


def append(
    session: Session,
    *,
    actor: str,
    role: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction (it commits or rolls back with the change)."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()
    entry = AuditEntry(
        seq=head.seq + 1,
        at=utcnow().isoformat(timespec="microseconds"),
        actor=actor,
        role=role,
        action=action,
        target=target,
        outcome=outcome,
        detail=canonical_json(detail or {}),
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = entry_hash(_hashed_fields(entry), head.hash)
    session.add(entry)
    head.seq = entry.seq
    head.hash = entry.hash
    session.flush()
    note_entry(session, entry.seq, entry.hash)  # anchored outside the store once committed
    return entry


def append_committed(session: Session, **entry: Any) -> None:
    """Append one entry and commit it, outside whatever ``session`` was doing.

    A read-only session (``governance.db.read_engine``) writes its entry through the writing
    engine in a transaction of its own, so the read never held the write lock.
    """
    writer = writer_of(session)
    if writer is None:
        append(session, **entry)
        session.commit()
        return
    session.rollback()
    with Session(writer, info=session_info(anchor_of(session))) as own:
        append(own, **entry)
        own.commit()


@dataclass
class Audited:
    """The entry ``audited`` will write: the body may set ``target`` (e.g. to the id it just
    created) and add detail with ``entry[key] = value``."""

    target: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, key: str, value: Any) -> None:
        self.detail[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.detail[key]


@contextmanager
def audited(
    session: Session,
    *,
    actor: str,
    role: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> Iterator[Audited]:
    """Run a unit of work and audit it, success or refusal, then commit.

    On success the entry is written in the same transaction as the change. When the body
    raises a service error, the change is rolled back and the refusal is recorded (outcome =
    the error code) in its own transaction, then the error propagates. The yielded
    ``Audited`` lets the body set the target and add detail.
    """
    entry = Audited(target=target, detail=dict(detail or {}))
    try:
        yield entry
    except C2CError as error:
        session.rollback()
        append_committed(session, actor=actor, role=role, action=action, target=entry.target,
                         outcome=error.code, detail=entry.detail)
        raise
    except BaseException:
        session.rollback()
        raise
    append_committed(session, actor=actor, role=role, action=action, target=entry.target,
                     outcome="ok", detail=entry.detail)


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None


def verify(session: Session) -> AuditVerification:
    """Recompute the whole chain and compare it with the head record."""
    problems: list[str] = []
    first_bad: int | None = None

    def bad(seq: int, text: str) -> None:
        nonlocal first_bad
        problems.append(text)
        if first_bad is None:
            first_bad = seq

    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if entry.seq != expected_seq:
            bad(expected_seq, f"entries {expected_seq}..{entry.seq - 1} are missing (deleted)")
        if entry.prev_hash != prev_hash:
            bad(entry.seq, f"entry {entry.seq} does not link to the entry before it")
        if entry_hash(_hashed_fields(entry), entry.prev_hash) != entry.hash:
            bad(entry.seq, f"entry {entry.seq} was edited (its hash does not match its content)")
        prev_hash = entry.hash
        expected_seq = entry.seq + 1

    head = session.get(AuditHead, HEAD_ID)
    head_seq = head.seq if head else 0
    head_hash = head.hash if head else GENESIS_HASH
    last_seq = expected_seq - 1
    if head is None:
        bad(last_seq + 1, "the audit head record is missing")
    elif head_seq != last_seq:
        if head_seq > last_seq:
            bad(last_seq + 1, f"entries {last_seq + 1}..{head_seq} at the end are missing")
        else:
            bad(head_seq + 1, f"entries after {head_seq} were added without updating the head")
    elif head_hash != prev_hash:
        bad(last_seq, f"the newest entry {last_seq} does not match the head hash")
    anchor = anchor_of(session)
    if anchor is not None:
        _check_anchor(session, anchor, count, bad)
    return AuditVerification(
        ok=not problems,
        entries=count,
        head_seq=head_seq,
        head_hash=head_hash,
        problems=problems,
        first_bad_seq=first_bad,
    )


def _check_anchor(session: Session, anchor: AuditAnchor, count: int,
                  bad: Callable[[int, str], None]) -> None:
    """The newest checkpoint written outside the store must still be in the chain."""
    read = anchor.read()
    for line in read.forged_lines:
        bad(0, f"audit anchor line {line} is not signed by this service (forged or damaged)")
    newest = read.newest
    if newest is None:
        if count:
            bad(1, f"no audit anchor at {anchor.path} while the log has {count} entries: a "
                   "truncated log cannot be told apart (run `c2c audit checkpoint` once to "
                   "start anchoring a store that predates anchors)")
        return
    entry = session.get(AuditEntry, newest.seq)
    if entry is None:
        bad(newest.seq, f"entry {newest.seq} was anchored outside the database but is gone: "
                        "the log was truncated")
    elif entry.hash != newest.hash:
        bad(newest.seq, f"entry {newest.seq} differs from its anchored hash: the log was "
                        "rewritten")


def checkpoint(session: Session) -> AuditVerification:
    """Verify the chain and, when it is intact, anchor its head now (starts anchoring)."""
    result = verify(session)
    anchor = anchor_of(session)
    only_unanchored = all(p.startswith("no audit anchor") for p in result.problems)
    if anchor is not None and result.head_seq and only_unanchored:
        anchor.write(result.head_seq, result.head_hash)
        return verify(session)
    return result


def recent(session: Session, *, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    """Newest entries first (for the admin view)."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
    return list(session.execute(query).scalars())
