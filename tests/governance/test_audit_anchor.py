"""Issue #20 item 7: truncating the audit tail (and rolling the head back) is detected, because
every committed entry is anchored in a signed append-only file outside the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.keys import create_master_key
from tests.governance_fixtures import write_partners_csv


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("C2C_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("C2C_DATABASE_URL", raising=False)
    monkeypatch.delenv("C2C_MASTER_KEY_FILE", raising=False)
    create_master_key(tmp_path / "home" / "master.key")
    assert CliRunner().invoke(app, ["migrate"]).exit_code == 0
    return tmp_path / "home"


def _truncate_tail(db: Path, keep: int) -> None:
    """The attack: delete the newest entries and roll the head row back (two statements)."""
    con = sqlite3.connect(db)
    con.execute("DELETE FROM audit_log WHERE seq > ?", [keep])
    con.execute("UPDATE audit_head SET seq = ?, hash = (SELECT hash FROM audit_log WHERE seq = ?)",
                [keep, keep])
    con.commit()
    con.close()


def test_truncated_tail_with_head_rolled_back_fails_verification(home: Path,
                                                                  tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["partners", "import",
                               str(write_partners_csv(tmp_path / "p.csv"))]).exit_code == 0
    for name in ("alice", "bob", "carol"):
        created = runner.invoke(app, ["users", "create", name, "--role", "researcher"])
        assert created.exit_code == 0, created.output
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output, ok.output
    assert (home / "audit" / "anchors.log").stat().st_mode & 0o777 == 0o600

    _truncate_tail(home / "governance.db", keep=2)
    damaged = runner.invoke(app, ["audit", "verify"])
    assert damaged.exit_code == 1, damaged.output
    assert "truncated" in damaged.output


def test_missing_or_forged_anchor_fails_and_checkpoint_starts_anchoring(
    home: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    runner.invoke(app, ["partners", "import", str(write_partners_csv(tmp_path / "p.csv"))])
    anchors = home / "audit" / "anchors.log"
    anchors.unlink()  # evidence missing: not read as "nothing happened"
    missing = runner.invoke(app, ["audit", "verify"])
    assert missing.exit_code == 1 and "no audit anchor" in missing.output

    started = runner.invoke(app, ["audit", "checkpoint"])
    assert started.exit_code == 0 and "intact" in started.output, started.output
    with anchors.open("a") as handle:  # a database writer cannot sign a rolled-back head
        handle.write('{"seq": 1, "hash": "00", "at": "2026-01-01T00:00:00+00:00", "mac": "x"}\n')
    forged = runner.invoke(app, ["audit", "verify"])
    assert forged.exit_code == 1 and "not signed" in forged.output
