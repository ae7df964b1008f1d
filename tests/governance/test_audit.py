"""Audit log: hash chain verification catches edits and deletions, refusals are recorded."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Conflict
from governance import audit


def _write(sessions: sessionmaker[Session], n: int) -> None:
    for i in range(n):
        with sessions.begin() as s:
            audit.append(s, actor=f"user{i % 2}", role="researcher", action="request.create",
                         target=f"request:req-{i}", detail={"i": i, "note": "café"})


def test_untouched_chain_verifies(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        empty = audit.verify(s)
    assert empty.ok and empty.entries == 0
    _write(sessions, 5)
    with sessions() as s:
        result = audit.verify(s)
    assert result.ok, result.problems
    assert (result.entries, result.head_seq) == (5, 5)


@pytest.mark.parametrize(
    ("statement", "first_bad"),
    [
        ("UPDATE audit_log SET outcome = 'permission_denied' WHERE seq = 3", 3),
        ("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq = 5", 5),
        ("DELETE FROM audit_log WHERE seq = 1", 1),
    ],
    ids=["edited-outcome", "edited-actor", "deleted-middle", "deleted-last", "deleted-first"],
)
def test_tampering_is_detected(
    sessions: sessionmaker[Session], statement: str, first_bad: int
) -> None:
    _write(sessions, 5)
    with sessions.begin() as s:
        s.execute(sa.text(statement))
    with sessions() as s:
        result = audit.verify(s)
    assert not result.ok
    assert result.first_bad_seq == first_bad
    assert result.problems


def test_rehashing_an_edited_entry_still_breaks_the_link(
    sessions: sessionmaker[Session],
) -> None:
    """An editor who recomputes the edited entry's own hash breaks the next entry's link."""
    _write(sessions, 4)
    with sessions.begin() as s:
        entry = s.get(audit.AuditEntry, 2)
        assert entry is not None
        entry.actor = "someone-else"
        entry.hash = audit.entry_hash(audit._hashed_fields(entry), entry.prev_hash)
    with sessions() as s:
        result = audit.verify(s)
    assert not result.ok and result.first_bad_seq == 3


def test_audited_records_success_and_refusal(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        with audit.audited(s, actor="a", role="admin", action="thing.do", target="t") as extra:
            extra["created"] = "x1"
        with pytest.raises(Conflict), audit.audited(s, actor="b", role="board",
                                                    action="thing.fail", target="t2"):
            audit.append(s, actor="should-roll-back", role="x", action="inner")
            raise Conflict("not now")
    with sessions() as s:
        rows = [(e.actor, e.action, e.outcome, e.detail) for e in reversed(audit.recent(s))]
        assert audit.verify(s).ok
    assert rows == [("a", "thing.do", "ok", '{"created":"x1"}'),
                    ("b", "thing.fail", "conflict", "{}")]


def test_audited_target_is_set_explicitly(sessions: sessionmaker[Session]) -> None:
    """The body names the target it created; no magic "_target" detail key (issue 17)."""
    with sessions() as s:
        with audit.audited(s, actor="a", role="admin", action="thing.create") as entry:
            entry.target = "thing:7"
            entry["_target"] = "just detail now"
        with pytest.raises(Conflict), audit.audited(s, actor="a", role="admin",
                                                    action="thing.create") as entry:
            entry.target = "thing:8"
            raise Conflict("taken")
    with sessions() as s:
        rows = [(e.target, e.outcome, e.detail) for e in reversed(audit.recent(s))]
    assert rows == [("thing:7", "ok", '{"_target":"just detail now"}'),
                    ("thing:8", "conflict", "{}")]
