"""Issue #20 item 12: every store is created owner-only (files 0600, folders 0700) whatever the
umask of the process that creates it."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.ingest.test_cli import C2C, PARTNERS, ROOT
from tests.ingest_testdata import write_calpads


@pytest.mark.slow
def test_stores_are_owner_only_under_umask_022(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "C2C_HOME": str(home), "PYTHONPATH": str(ROOT)}
    (tmp_path / "partners.csv").write_text(PARTNERS, encoding="utf-8")
    land = tmp_path / "land"
    write_calpads(land, "SENR", 3)

    def run(*args: str) -> None:
        done = subprocess.run([*C2C, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=300, preexec_fn=lambda: os.umask(0o022) and None)
        assert done.returncode == 0, done.stdout + done.stderr

    run("keys", "init")
    run("migrate")
    run("partners", "import", str(tmp_path / "partners.csv"))
    run("ingest", str(land))
    run("users", "create", "alice", "--role", "admin")
    loose = [f"{p.relative_to(tmp_path)} {stat.filemode(p.stat().st_mode)}"
             for p in [home, *home.rglob("*")]
             if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == []
