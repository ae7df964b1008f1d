"""Audit checkpoints kept outside the database they protect.

The hash chain catches an edited or removed entry, but someone who can write the database can
delete the newest entries and roll the head row back: the shorter chain is consistent. So
every committed audit entry is also anchored: a line ``{"seq", "hash", "at", "mac"}`` is
appended to an append-only file outside the database (``$C2C_HOME/audit/anchors.log``; ship
it to write-once storage in production), the MAC an HMAC-SHA256 under a key derived from the
master key (the database's writers cannot forge a line). :func:`governance.audit.verify` then
requires the newest anchored entry to be in the chain with the anchored hash.

Evidence missing: when anchoring is configured and the log has entries but the anchor file is
missing or empty, verification fails (deleting the file must not hide a truncation); a store
created before anchoring starts with ``c2c audit checkpoint``. A line whose MAC does not match
is reported as forged and not used. Without a master key nothing is anchored or checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.keys import KeyProvider
from core.settings import Settings

INFO_KEY = "c2c_audit_anchor"
_PENDING = "c2c_audit_unanchored"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str


@dataclass
class AnchorRead:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    forged_lines: list[int] = field(default_factory=list)
    exists: bool = False

    @property
    def newest(self) -> Checkpoint | None:
        return max(self.checkpoints, key=lambda c: c.seq) if self.checkpoints else None


@dataclass(frozen=True)
class AuditAnchor:
    path: Path
    key: bytes = field(repr=False)

    def _mac(self, seq: int, entry_hash: str, at: str) -> str:
        message = f"{seq}:{entry_hash}:{at}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def write(self, seq: int, entry_hash: str) -> None:
        """Append one checkpoint line (O_APPEND: concurrent writers never interleave lines)."""
        at = datetime.now(UTC).isoformat(timespec="seconds")
        line = json.dumps({"seq": seq, "hash": entry_hash, "at": at,
                           "mac": self._mac(seq, entry_hash, at)}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> AnchorRead:
        result = AnchorRead(exists=self.path.exists())
        if not result.exists:
            return result
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                item: dict[str, Any] = json.loads(line)
                seq, entry_hash, at = int(item["seq"]), str(item["hash"]), str(item["at"])
                good = hmac.compare_digest(str(item["mac"]), self._mac(seq, entry_hash, at))
            except (ValueError, KeyError, TypeError):
                good = False
            if good:
                result.checkpoints.append(Checkpoint(seq, entry_hash))
            else:
                result.forged_lines.append(number)
        return result


def anchor_for(settings: Settings) -> AuditAnchor | None:
    """The anchor of this deployment, or None when there is no master key yet."""
    if not settings.master_key_path.exists():
        return None
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    return AuditAnchor(settings.resolved_home / "audit" / "anchors.log",
                       keys.derive("audit-anchor"))


def session_info(anchor: AuditAnchor | None) -> dict[str, Any]:
    """``sessionmaker(info=...)`` that makes every commit of audit entries anchor the newest."""
    return {INFO_KEY: anchor} if anchor is not None else {}


def anchor_of(session: Session) -> AuditAnchor | None:
    anchor = session.info.get(INFO_KEY)
    return anchor if isinstance(anchor, AuditAnchor) else None


def note_entry(session: Session, seq: int, entry_hash: str) -> None:
    """Remember the newest entry this transaction wrote; anchored once it commits."""
    current = session.info.get(_PENDING)
    if current is None or seq > current[0]:
        session.info[_PENDING] = (seq, entry_hash)


@event.listens_for(Session, "after_commit")
def _anchor_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    anchor = anchor_of(session)
    if pending is not None and anchor is not None:
        anchor.write(*pending)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
