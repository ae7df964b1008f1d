"""The demo's HTTP client against a real loopback server, `c2c fulfil`, and a researcher
opening the download with the standard age tool and the key file the API gives."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.app import create_app
from cli.demo_requests import demo_requests, release_output
from cli.loopback import ApiClient, ApiError, free_port, serve_in_thread
from cli.main import app
from core.errors import KeyError_
from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from core.warehouse import connect_encrypted
from governance.bootstrap import create_demo_stewards, create_demo_users
from governance.db import session_factory
from governance.partners import import_partners_csv
from tests.deid_support import make_student_year
from tests.governance_fixtures import write_partners_csv

runner = CliRunner()


def _download(base: str, path: str, key: str) -> bytes:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback
        return bytes(response.read())


def _printed_commands_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings,
                           base: str, keys: dict[str, str], stewards: dict[str, str],
                           ids: list[str]) -> None:
    """Every command the demo prints for the roles (curl, age, the reviewer's c2c line) runs
    as printed, in a folder of its own, against the server it names (issue 27)."""
    import io
    import json

    from rich.console import Console

    from cli import demo_access as printing

    out = io.StringIO()
    monkeypatch.setattr(printing, "console", Console(file=out, width=300))
    port = int(base.rsplit(":", 1)[1])
    printing.print_access(keys, stewards, {}, port, ids, True, settings)
    printed = [line.strip() for line in out.getvalue().splitlines()]
    commands = [line for line in printed if line.startswith(("curl ", "age "))]
    assert len(commands) == 6, printed
    folder = tmp_path / "as-printed"
    folder.mkdir()
    for command in commands:
        if command.startswith("age ") and shutil.which("age") is None:
            continue
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=folder,
                              capture_output=True, text=True, timeout=60, check=True)
        if command.startswith("curl ") and " -o " not in command:
            assert "error" not in json.loads(done.stdout) or "aggregates" in command, command
    assert (folder / f"{ids[0]}.tar.age").stat().st_size > 0
    if shutil.which("age") is not None:
        assert (folder / "data.csv").exists()
    # the reviewer's line names the demo's home: run bare, c2c would read (and make) ./.c2c
    [reviewer] = [line for line in printed if "c2c review list" in line]
    assert f"C2C_HOME={settings.resolved_home} " in reviewer


@pytest.mark.slow
def test_requests_over_http_fulfil_and_open_with_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("C2C_HOME", str(home))
    for name in ("C2C_MASTER_KEY_FILE", "C2C_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    create_master_key(settings.master_key_path)
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    con = connect_encrypted(settings.warehouse_path, keys.warehouse_key_hex())
    make_student_year(con, 400)
    con.close()
    with session_factory(settings.governance_url, migrate=True)() as session:
        import_partners_csv(session, write_partners_csv(tmp_path / "partners.csv"))
        demo_keys = create_demo_users(session)
        stewards = create_demo_stewards(session)
        session.commit()

    with serve_in_thread(create_app(settings), free_port()) as server:
        client = ApiClient(server.base_url)
        assert client.get("/health")["status"] == "ok"
        with pytest.raises(ApiError, match="HTTP 401"):
            client.get("/v1/requests", "c2c.nope.nope")
        district = next(org for org in sorted(stewards) if len(org) == 7)
        request_id, aggregate_id, waiting = demo_requests(client, demo_keys, stewards,
                                                          district)

        built = runner.invoke(app, ["fulfil"])
        assert built.exit_code == 0, built.output
        assert f"built {request_id}" in built.output and f"built {aggregate_id}" in built.output
        # built is not released: nobody is told they can download yet
        assert "2 output(s) built; each now waits for two output checkers" in built.output
        assert "can now download" not in built.output
        again = runner.invoke(app, ["fulfil"])
        assert "no approved request is waiting" in again.output
        answer = client.get(f"/v1/requests/{request_id}", demo_keys["researcher"])
        assert (answer["status"], answer["stage"]) == ("fulfilled", "awaiting checks")
        with pytest.raises(urllib.error.HTTPError, match="409"):
            _download(server.base_url, f"/v1/requests/{request_id}/extract",
                      demo_keys["researcher"])
        release_output(client, demo_keys, request_id)  # two checkers release the file
        assert client.get(f"/v1/requests/{request_id}", demo_keys["researcher"])[
            "stage"] == "released"
        _printed_commands_work(monkeypatch, tmp_path, settings, server.base_url, demo_keys,
                               stewards, [request_id, aggregate_id, waiting])
        # the third request waits for its district's steward only (a cohort naming an LEA)
        routed = client.get(f"/v1/requests/{waiting}", demo_keys["researcher"])
        assert {r["org_code"] for r in routed["provider_reviews"]
                if r["source_system"] == "calpads"} == {district}

        researcher = tmp_path / "researcher"
        researcher.mkdir()
        key = client.get(f"/v1/requests/{request_id}/extract/key", demo_keys["researcher"])
        package = researcher / f"{request_id}.tar.age"
        package.write_bytes(_download(server.base_url, f"/v1/requests/{request_id}/extract",
                                      demo_keys["researcher"]))
        key_file = researcher / key["key_file_name"]
        key_file.write_bytes(_download(server.base_url,
                                       f"/v1/requests/{request_id}/extract/key.txt",
                                       demo_keys["researcher"]))
    assert key["age_identity"] in key_file.read_text()
    assert key["command"] == (f"age -d -i {request_id}-key.txt {request_id}.tar.age "
                              "| tar -x")

    # the service's own CLI takes the same key file
    same = runner.invoke(app, ["extract", "decrypt", str(package), "--out",
                               str(researcher / "cli"), "--key-file", str(key_file)],
                         env={"C2C_HOME": str(tmp_path / "elsewhere")})
    assert same.exit_code == 0, same.output
    names = sorted(p.name for p in (researcher / "cli").iterdir())
    assert names == ["data.csv", "data.parquet", "manifest.json"]
    if shutil.which("age") is not None:  # the one command the key page shows, as shown
        subprocess.run(["bash", "-o", "pipefail", "-c", key["command"]], cwd=researcher,
                       check=True)
        for name in names:
            assert (researcher / name).read_bytes() == (researcher / "cli" / name).read_bytes()

    # forgetting --key-file on the researcher's machine says so (no talk of tampering first)
    forgot = runner.invoke(app, ["extract", "decrypt", str(package), "--out",
                                 str(researcher / "x")],
                           env={"C2C_HOME": str(tmp_path / "elsewhere")})
    assert isinstance(forgot.exception, KeyError_)
    assert "--key-file" in str(forgot.exception) and request_id in str(forgot.exception)
