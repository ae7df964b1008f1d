"""Failed sign-ins: rate limit, temporary lockout, and what to audit (portal and API keys).

One guard per API process (the API runs as one process; a restart forgets, which only ever
lets someone try again sooner, never locks anyone out longer). Two counters over a sliding
window (``core.protection``):

* per client address: every presented credential that fails (malformed, unknown id, wrong
  secret, revoked, deactivated) counts; past the limit the address gets 429 for everything it
  presents, a valid key included, until its oldest failure leaves the window;
* per key id, for ids that exist: wrong secrets count; past the limit that key is locked (429,
  whoever presents it) the same way, so guessing one key's secret from many addresses is
  bounded too. The owner waits out the window or uses another key.

A request without any credential is not a sign-in attempt and counts nothing. Memory is
bounded: at most ``max_tracked`` addresses and keys each, the least recently failing forgotten
first (forgetting is the lenient direction, and an attacker who fills the table only unlocks
themselves sooner).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.errors import NotAuthenticated, TooManyAttempts
from core.protection import (
    SIGNIN_MAX_FAILURES_PER_KEY,
    SIGNIN_MAX_FAILURES_PER_SOURCE,
    SIGNIN_WINDOW_SECONDS,
)
from governance.audit import append_committed
from governance.users import KeyRefused, Principal, authenticate

LOCKED = "auth.locked"


@dataclass(frozen=True)
class Locked:
    """What a failure just locked (for the audit entry written once per lock)."""

    source: bool
    key: bool


class _Window:
    """Failure times per name within the window, bounded in names."""

    def __init__(self, limit: int, window: float, max_tracked: int) -> None:
        self.limit, self.window, self.max_tracked = limit, window, max_tracked
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, name: str, now: float) -> deque[float] | None:
        times = self._times.get(name)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._times[name]
            return None
        return times

    def wait(self, name: str, now: float) -> int:
        """Seconds until ``name`` may try again (0: it may now)."""
        times = self._recent(name, now)
        if times is None or len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[-self.limit] + self.window - now))

    def add(self, name: str, now: float) -> bool:
        """Count a failure; True when it is the one that reaches the limit."""
        times = self._recent(name, now) or deque()
        times.append(now)
        self._times[name] = times
        self._times.move_to_end(name)
        while len(self._times) > self.max_tracked:
            self._times.popitem(last=False)
        return len(times) == self.limit


class SignInGuard:
    """Thread-safe (sync routes run in a thread pool)."""

    def __init__(self, *, per_source: int = SIGNIN_MAX_FAILURES_PER_SOURCE,
                 per_key: int = SIGNIN_MAX_FAILURES_PER_KEY,
                 window_seconds: float = SIGNIN_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, max_tracked: int = 100_000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sources = _Window(per_source, window_seconds, max_tracked)
        self._keys = _Window(per_key, window_seconds, max_tracked)

    def check(self, source: str, key_id: str | None) -> None:
        """Raise ``TooManyAttempts`` while the source or the key is locked."""
        with self._lock:
            now = self._clock()
            by_source = self._sources.wait(source, now)
            by_key = self._keys.wait(key_id, now) if key_id else 0
        if by_source:
            raise TooManyAttempts(
                f"too many failed sign-ins from your address: try again in {by_source} s",
                by_source)
        if by_key:
            raise TooManyAttempts(
                f"too many failed sign-ins with this key: try again in {by_key} s, or use "
                "another key", by_key)

    def failed(self, source: str, existing_key_id: str | None) -> Locked:
        """Count a failed sign-in; ``existing_key_id`` only for an id that exists."""
        with self._lock:
            now = self._clock()
            source_locked = self._sources.add(source, now)
            key_locked = self._keys.add(existing_key_id, now) if existing_key_id else False
        return Locked(source=source_locked, key=key_locked)


def key_id_of(token: str) -> str | None:
    """The id part of ``c2c.<id>.<secret>`` (None when the token has no such shape)."""
    parts = token.strip().split(".", 2)
    return parts[1][:32] if len(parts) == 3 and parts[1] else None


def sign_in(session: Session, guard: SignInGuard, *, source: str, token: str,
            action: str) -> Principal:
    """Authenticate ``token`` presented from ``source`` through ``guard``: the one sign-in rule
    of the API's bearer keys and the portal's form.

    A locked source or key is refused before the store is read. A failure counts against the
    source (and, for a right id with a wrong secret, the key); a failure naming a real key is
    audited against its owner (``action``, with the reason and source), and each lock once
    (``auth.locked``), so anonymous noise cannot grow the log faster than one entry per source
    and window.
    """
    source = source[:100]
    guard.check(source, key_id_of(token))
    try:
        principal = authenticate(session, token)
    except NotAuthenticated as refused:
        session.rollback()
        named = refused if isinstance(refused, KeyRefused) else None
        locked = guard.failed(source, named.key_id if named and named.reason == "wrong_secret"
                              else None)
        if named is not None:
            append_committed(session, actor=named.user_name, role="-", action=action,
                             target=f"key:{named.key_id}", outcome=named.code,
                             detail={"reason": named.reason, "source": source})
        if locked.source:
            append_committed(session, actor="anonymous", role="-", action=LOCKED,
                             target=f"source:{source}", outcome=TooManyAttempts.code)
        if locked.key and named is not None:
            append_committed(session, actor=named.user_name, role="-", action=LOCKED,
                             target=f"key:{named.key_id}", outcome=TooManyAttempts.code,
                             detail={"source": source})
        raise
    session.rollback()  # end the read transaction; callers open their own
    return principal
