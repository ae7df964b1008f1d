"""Server-side portal sessions: the browser holds only a random id in an HttpOnly cookie.

Why server-side: signing out or revoking the key must end the session at once, which a
self-contained signed cookie cannot do. Sessions live in this process's memory (the API runs as
one process; a restart signs everybody out, which is the safe direction). Nothing here is
written to disk.

Every session, signed in or not, carries its own CSRF token; signing in always mints a new
session id and token and drops the old ones, so an id planted before sign-in (session
fixation) never becomes a signed-in session.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from governance.models import ApiKey, User
from governance.users import Principal, Role

COOKIE = "c2c_portal"
# Memory bounds. Anyone can open an anonymous session (the sign-in form needs a CSRF token), so
# anonymous sessions have their own pool, oldest dropped first: a flood of them can never push
# out a signed-in session. Signed-in sessions need a valid key to create.
MAX_ANONYMOUS = 10_000
MAX_SIGNED_IN = 10_000


@dataclass
class PortalSession:
    id: str
    csrf: str
    last_seen: float
    principal: Principal | None = None
    flash: list[str] = field(default_factory=list)


class SessionStore:
    """Sessions by id with an idle timeout; thread-safe (sync routes run in a thread pool)."""

    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._anonymous: OrderedDict[str, PortalSession] = OrderedDict()
        self._signed_in: OrderedDict[str, PortalSession] = OrderedDict()

    def new(self, principal: Principal | None = None) -> PortalSession:
        with self._lock:
            s = PortalSession(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32),
                              last_seen=self._clock(), principal=principal)
            pool, limit = ((self._anonymous, MAX_ANONYMOUS) if principal is None
                           else (self._signed_in, MAX_SIGNED_IN))
            pool[s.id] = s
            while len(pool) > limit:
                pool.popitem(last=False)
            return s

    def get(self, session_id: str | None) -> PortalSession | None:
        """The live session for ``session_id``; an idle one is dropped and reported missing."""
        if not session_id:
            return None
        with self._lock:
            pool = self._signed_in if session_id in self._signed_in else self._anonymous
            s = pool.get(session_id)
            if s is None:
                return None
            now = self._clock()
            if now - s.last_seen > self.idle_seconds:
                del pool[session_id]
                return None
            s.last_seen = now
            pool.move_to_end(session_id)  # pools stay ordered by last use
            return s

    def rotate(self, old: PortalSession | None, principal: Principal) -> PortalSession:
        """Sign-in: a fresh id and CSRF token; the old id stops working."""
        self.drop(old)
        return self.new(principal)

    def drop(self, s: PortalSession | None) -> None:
        if s is not None:
            with self._lock:
                self._anonymous.pop(s.id, None)
                self._signed_in.pop(s.id, None)


def still_valid(db: DbSession, principal: Principal) -> bool:
    """The key that opened the session is not revoked and its user is still active.

    Checked on every page, so revoking a key or deactivating a user ends portal sessions too.
    Missing evidence (key or user row gone) counts as not valid.
    """
    row = db.execute(
        select(ApiKey.revoked_at, User.active, User.roles)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_id == principal.key_id, User.id == principal.user_id)
    ).first()
    db.rollback()
    if row is None or row[0] is not None or not row[1]:
        return False
    # Roles taken away since sign-in are taken away from the session too.
    return {Role(r) for r in row[2]} >= set(principal.roles)
