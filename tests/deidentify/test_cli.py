"""``c2c keys`` and ``c2c extract`` through the real CLI (Typer app and the console script)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import deidentify
from cli.main import app
from core.errors import Conflict
from core.keys import KeyProvider
from core.warehouse import connect_encrypted
from tests.deid_support import make_student_year

runner = CliRunner()


def env_for(home: Path) -> dict[str, str]:
    return {"C2C_HOME": str(home), "C2C_MASTER_KEY_FILE": str(home / "secrets" / "master.key")}


def test_keys_init_creates_an_owner_only_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    result = runner.invoke(app, ["keys", "init"], env=env)
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "secrets" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    before = key_file.read_bytes()
    assert before.strip().decode() not in result.output

    again = runner.invoke(app, ["keys", "init"], env=env)
    assert isinstance(again.exception, Conflict)
    assert "refusing to overwrite" in str(again.exception)
    assert key_file.read_bytes() == before


def test_console_script_maps_refusal_to_exit_code_2(tmp_path: Path) -> None:
    env = {**os.environ, **env_for(tmp_path)}
    command = [sys.executable, "-c", "from cli.main import main; main()", "keys", "init"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                           cwd=Path(__file__).resolve().parents[2])
    assert first.returncode == 0, first.stderr
    second = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                            cwd=Path(__file__).resolve().parents[2])
    assert second.returncode == 2
    assert "refusing to overwrite" in second.stderr


def test_keys_rotate_and_status(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert runner.invoke(app, ["keys", "init"], env=env).exit_code == 0
    keys = KeyProvider(tmp_path / "secrets" / "master.key", tmp_path / "keyring.json")
    keys.stored_key("extract:R-1")
    keys.stored_key("extract:R-2")
    rotated = runner.invoke(app, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped 3 keys" in rotated.output
    status = runner.invoke(app, ["keys", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "mode 0600" in status.output and "3 keys (2 extract keys" in status.output
    assert "every key unwraps" in status.output


def test_extract_build_decrypt_verify(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert runner.invoke(app, ["keys", "init"], env=env).exit_code == 0
    keys = KeyProvider(tmp_path / "secrets" / "master.key", tmp_path / "keyring.json")
    con = connect_encrypted(tmp_path / "warehouse.duckdb", keys.warehouse_key_hex())
    make_student_year(con, 400)
    con.close()
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps({
        "request_id": "R-cli", "kind": "individual", "title": "t", "purpose": "p",
        "variables": ["person_id", "academic_year", "gender", "hs_graduate"],
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "requester": "r@example.edu",
    }))
    # Without a governance store the earlier extracts are unknown: refused, not "none".
    refused = runner.invoke(app, ["extract", "build", "--request", str(request_file)], env=env)
    assert refused.exit_code != 0 and "c2c migrate" in str(refused.exception)
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    built = runner.invoke(app, ["extract", "build", "--request", str(request_file)], env=env)
    assert built.exit_code == 0, built.output
    assert "earlier extracts considered 0; shared variables: none" in built.output
    package = tmp_path / "extracts" / "R-cli.tar.age"
    assert package.exists()

    verified = runner.invoke(app, ["extract", "verify", str(package)], env=env)
    assert verified.exit_code == 0 and "ok" in verified.output

    # The owner, on another machine: only the package and the data key file.
    key_file = tmp_path / "elsewhere" / "R-cli-key.txt"
    deidentify.write_key_file(key_file, deidentify.extract_data_key(keys, "R-cli"), "R-cli")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    opened = runner.invoke(app, ["extract", "decrypt", str(package), "--out",
                                 str(tmp_path / "elsewhere" / "data"), "--key-file",
                                 str(key_file)], env={"C2C_HOME": str(tmp_path / "nothing")})
    assert opened.exit_code == 0, opened.output
    manifest = json.loads((tmp_path / "elsewhere" / "data" / "manifest.json").read_text())
    assert manifest["request_id"] == "R-cli" and manifest["rows"] > 0


def test_a_bad_request_file_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"request_id": "R-x", "kind": "individual"}))
    result = runner.invoke(app, ["extract", "build", "--request", str(bad)],
                           env=env_for(tmp_path))
    assert result.exception is not None
    message = str(result.exception)
    assert str(bad) in message and "field" in message


@pytest.mark.parametrize("content", ["not json", '{"request_id": "R"'])
def test_an_unreadable_request_file_is_rejected(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = runner.invoke(app, ["extract", "build", "--request", str(bad)],
                           env=env_for(tmp_path))
    assert "line 1" in str(result.exception)
