"""``c2c partners``, ``c2c users`` and ``c2c audit verify`` against a real SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings
from governance.db import SchemaOutOfDate, session_factory
from governance.users import authenticate
from tests.governance_fixtures import write_partners_csv


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("C2C_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("C2C_DATABASE_URL", raising=False)
    return tmp_path / "home"


def test_partners_users_and_audit_verify(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    csv_path = write_partners_csv(tmp_path / "partners.csv")
    # nothing migrates implicitly: the store must be brought up with `c2c migrate` (issue 17)
    early = runner.invoke(app, ["partners", "import", str(csv_path)])
    assert isinstance(early.exception, SchemaOutOfDate)
    assert "c2c migrate" in str(early.exception)
    migrated = runner.invoke(app, ["migrate"])
    assert migrated.exit_code == 0 and "migrated from empty" in migrated.output
    again = runner.invoke(app, ["migrate"])
    assert again.exit_code == 0 and "already at revision" in again.output
    result = runner.invoke(app, ["partners", "import", str(csv_path)])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["partners", "list"])
    assert "1964733" in listed.output and "executed" in listed.output

    created = runner.invoke(app, ["users", "create", "pat", "--role", "partner",
                                  "--org", "1964733"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    settings = Settings(home=home)
    with session_factory(settings.governance_url)() as session:
        assert authenticate(session, token).org_code == "1964733"

    refused = runner.invoke(app, ["users", "create", "x", "--role", "partner", "--org", "42"])
    assert refused.exit_code != 0

    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    con = sqlite3.connect(home / "governance.db")
    con.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    con.commit()
    con.close()
    damaged = runner.invoke(app, ["audit", "verify"])
    assert damaged.exit_code == 1 and "missing" in damaged.output
