"""Small DuckDB helpers every library needs: catalog lookups, one transaction, one timer.

The catalog lookups filter on ``table_catalog = current_database()``, so a table of the same
name in another attached database never answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb


def memory_only() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never spills: with no temp directory set, an in-memory database
    spills to ``.tmp`` in the working directory, unencrypted. Work on identifiers here fails
    with DuckDB's out-of-memory error instead of writing them to disk."""
    return duckdb.connect(config={"temp_directory": ""})


def _split(qualified: str) -> tuple[str, str]:
    schema, _, name = qualified.partition(".")
    return (schema, name) if name else ("main", schema)


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether ``schema.table`` (or ``table`` in ``main``) exists in the current database."""
    schema, name = _split(qualified)
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def columns_of(con: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    """Column names of ``schema.table`` in the current database (empty when it is missing)."""
    schema, name = _split(qualified)
    return {str(r[0]) for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
        "AND table_name = ? AND table_catalog = current_database()", [schema, name]
    ).fetchall()}


class Transaction:
    """An open transaction; ``rollback()`` ends it early (the block then commits nothing)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.open = True

    def rollback(self) -> None:
        if self.open:
            self.open = False
            self._con.execute("ROLLBACK")

    def commit(self) -> None:
        if self.open:
            self.open = False
            self._con.execute("COMMIT")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[Transaction]:
    """``BEGIN``; ``COMMIT`` when the block ends, ``ROLLBACK`` when it raises (anything)."""
    con.execute("BEGIN TRANSACTION")
    tx = Transaction(con)
    try:
        yield tx
    except BaseException:
        tx.rollback()
        raise
    tx.commit()


class StageTimer:
    """Seconds per named stage: ``lap(name)`` closes the stage that began at the last lap."""

    def __init__(self, on_lap: Callable[[str, float], None] | None = None) -> None:
        self.stages: dict[str, float] = {}
        self._since = time.perf_counter()
        self._on_lap = on_lap  # progress for a caller (the CLI's link stages)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(now - self._since, 3)
        self._since = now
        if self._on_lap is not None:
            self._on_lap(name, self.stages[name])

