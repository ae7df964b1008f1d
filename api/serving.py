"""Read-only access to the serving snapshot written by ``c2c publish``.

The snapshot is a plain DuckDB file (suppressed aggregates only, no identifiers) replaced
atomically by the publisher. One read-only connection is shared and each request takes its own
cursor; when the file on disk is replaced (new inode or mtime) the connection is reopened, so
the API serves the new snapshot without a restart and never blocks the publisher.

Because a snapshot never changes in place, query results are cached per snapshot (cleared
when the file is replaced): repeated public reads cost a dictionary lookup. The cache holds
rendered response bytes and is bounded by their total size (:data:`CACHE_MAX_BYTES`, least
recently used out first), not by a count of entries: anonymous callers choose the pages, and
a count bound let 2,048 large pages grow the server by gigabytes.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from core.errors import NotFound

T = TypeVar("T")
CACHE_MAX_BYTES = 64 * 1024 * 1024
ENTRY_OVERHEAD = 512  # key tuple, dict slot: counted so that many tiny entries are bounded too


class ServingSnapshot:
    def __init__(self, path: Path, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.cached_bytes = 0
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._stamp: tuple[int, int] | None = None
        self._info: dict[str, Any] = {}
        self._cache: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()  # value, size

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the current snapshot (the caller closes it)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise NotFound("no aggregates have been published yet (run `c2c publish`)") from None
        stamp = (stat.st_ino, stat.st_mtime_ns)
        with self._lock:
            if self._con is None or stamp != self._stamp:
                if self._con is not None:
                    self._con.close()
                self._con = duckdb.connect(str(self.path), read_only=True,
                                           config={"threads": 1})
                self._stamp = stamp
                self._info = _first_record(self._con, "SELECT * FROM snapshot_info LIMIT 1")
                self._cache.clear()
                self.cached_bytes = 0
            return self._con.cursor()

    def cached(self, key: Hashable, compute: Callable[[duckdb.DuckDBPyConnection], T],
               size: Callable[[T], int] | None = None) -> T:
        """``compute(cursor)`` for the current snapshot, memoised until the file changes,
        within :attr:`max_bytes` in all. ``size`` measures a value (default: ``len`` of bytes,
        else the length of its pickle)."""
        cursor = self.cursor()  # also detects a replaced file and clears the cache
        try:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key][0]  # type: ignore[no-any-return]
            value = compute(cursor)
        finally:
            cursor.close()
        bytes_ = (size or _size_of)(value) + ENTRY_OVERHEAD
        if bytes_ > self.max_bytes:
            return value  # larger than the whole cache: served, not kept
        with self._lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self.cached_bytes -= old[1]
            self._cache[key] = (value, bytes_)
            self.cached_bytes += bytes_
            while self.cached_bytes > self.max_bytes:
                _, (_, dropped) = self._cache.popitem(last=False)
                self.cached_bytes -= dropped
        return value

    def info(self) -> dict[str, Any]:
        """``snapshot_info`` of the snapshot the last cursor came from (read once per file)."""
        return dict(self._info)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _size_of(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    result = con.execute(sql)
    names = [d[0] for d in result.description or []]
    return [{k: jsonable(v) for k, v in zip(names, row, strict=True)} for row in result.fetchall()]


def _first_record(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    try:
        rows = records(con, sql)
    except duckdb.Error:
        return {}
    return rows[0] if rows else {}
