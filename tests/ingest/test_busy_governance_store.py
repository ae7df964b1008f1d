"""Issue 25: while previews held the governance store's write lock, `c2c ingest` exited 1
with a raw traceback. Ingest only reads the store (the partner registry), so it must not wait
for a writer at all; a command that must write says the store is busy, never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.settings import Settings
from tests.ingest.test_cli import c2c, setup_home
from tests.ingest_testdata import write_calpads


@contextmanager
def store_locked(env: dict[str, str]) -> Iterator[None]:
    """Another process holds the governance store's write lock (a long write)."""
    url = Settings(home=Path(env["C2C_HOME"])).governance_url
    lock = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def test_ingest_runs_while_the_governance_store_is_busy(tmp_path: Path) -> None:
    env = setup_home(tmp_path)
    home = Path(env["C2C_HOME"])
    assert c2c(env, "partners", "import", str(home / "partners.csv")).returncode == 0
    land = tmp_path / "land"
    write_calpads(land, "SENR", 3)
    with store_locked(env):
        done = c2c(env, "ingest", str(land))
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_a_write_under_a_busy_store_says_so(tmp_path: Path) -> None:
    """A command that writes waits the store's busy timeout (30 s), then says what happened."""
    env = setup_home(tmp_path)
    home = Path(env["C2C_HOME"])
    with store_locked(env):
        done = c2c(env, "partners", "import", str(home / "partners.csv"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "busy" in done.stderr, done.stderr
