"""Read-only access to the serving snapshot written by ``c2c publish``.

The snapshot is a plain DuckDB file (suppressed aggregates only, no identifiers) replaced
atomically by the publisher. One read-only connection is shared and each request takes its own
cursor; when the file on disk is replaced (new inode or mtime) the connection is reopened, so
the API serves the new snapshot without a restart and never blocks the publisher.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb

from core.errors import NotFound


class ServingSnapshot:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._stamp: tuple[int, int] | None = None

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
            return self._con.cursor()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
