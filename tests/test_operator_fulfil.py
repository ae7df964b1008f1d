"""The demo's HTTP client against a real loopback server, `c2c fulfil`, and a researcher
opening the download with the standalone decryptor and the key route's answer saved as is."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from deid_support import make_student_year
from governance_fixtures import write_partners_csv
from typer.testing import CliRunner

from api.app import create_app
from cli.demo_requests import demo_requests, release_outputs
from cli.loopback import ApiClient, ApiError, free_port, serve_in_thread
from cli.main import app
from core.errors import KeyError_
from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from core.warehouse import connect_encrypted
from deidentify import c2c_decrypt
from governance.bootstrap import create_demo_stewards, create_demo_users
from governance.db import session_factory
from governance.partners import import_partners_csv

ROOT = Path(__file__).resolve().parent.parent
DECRYPTOR = ROOT / "deidentify" / "c2c_decrypt.py"
runner = CliRunner()


def _download(base: str, path: str, key: str) -> bytes:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback
        return bytes(response.read())


def test_the_decryptor_stands_alone() -> None:
    """Standard library and `cryptography` only: a researcher needs nothing of c2c-link."""
    tree = ast.parse(DECRYPTOR.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"cryptography"}


@pytest.mark.slow
def test_requests_over_http_fulfil_and_standalone_decrypt(
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
        request_id, aggregate_id = demo_requests(client, demo_keys, stewards)

        built = runner.invoke(app, ["fulfil"])
        assert built.exit_code == 0, built.output
        assert f"built {request_id}" in built.output and f"built {aggregate_id}" in built.output
        assert "2 request(s) fulfilled" in built.output
        again = runner.invoke(app, ["fulfil"])
        assert "no approved request is waiting" in again.output
        assert client.get(f"/v1/requests/{request_id}", demo_keys["researcher"])[
            "status"] == "fulfilled"
        release_outputs(client, demo_keys, [request_id])  # two checkers release the file

        researcher = tmp_path / "researcher"
        researcher.mkdir()
        package = researcher / "extract.c2cx"
        package.write_bytes(_download(server.base_url, f"/v1/requests/{request_id}/extract",
                                      demo_keys["researcher"]))
        key_file = researcher / "extract.key"  # the key route's answer, saved as is
        key_file.write_bytes(_download(server.base_url,
                                       f"/v1/requests/{request_id}/extract/key",
                                       demo_keys["researcher"]))
    assert json.loads(key_file.read_text())["key_base64"]

    opened = subprocess.run(
        [sys.executable, "-I", str(DECRYPTOR), str(package), str(key_file), "out"],
        cwd=researcher, capture_output=True, text=True, check=False)
    assert opened.returncode == 0, opened.stderr
    assert f"request {request_id}" in opened.stdout
    names = sorted(p.name for p in (researcher / "out").iterdir())
    assert names == ["data.csv", "data.parquet", "manifest.json"]

    # the service's own CLI takes the same key file, and agrees byte for byte
    same = runner.invoke(app, ["extract", "decrypt", str(package), "--out",
                               str(researcher / "cli"), "--key-file", str(key_file)],
                         env={"C2C_HOME": str(tmp_path / "elsewhere")})
    assert same.exit_code == 0, same.output
    for name in names:
        assert (researcher / "cli" / name).read_bytes() == (researcher / "out" / name).read_bytes()

    # forgetting --key-file on the researcher's machine says so (no talk of tampering first)
    forgot = runner.invoke(app, ["extract", "decrypt", str(package), "--out",
                                 str(researcher / "x")],
                           env={"C2C_HOME": str(tmp_path / "elsewhere")})
    assert isinstance(forgot.exception, KeyError_)
    assert "--key-file" in str(forgot.exception) and request_id in str(forgot.exception)

    # the decryptor refuses a damaged package, a wrong key and an expired one, writing nothing
    damaged = researcher / "damaged.c2cx"
    data = bytearray(package.read_bytes())
    data[-40] ^= 1
    damaged.write_bytes(bytes(data))
    refused = subprocess.run(
        [sys.executable, "-I", str(DECRYPTOR), str(damaged), str(key_file), "bad"],
        cwd=researcher, capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "authentication failed" in refused.stderr
    assert not (researcher / "bad").exists() or not list((researcher / "bad").iterdir())
    wrong = researcher / "wrong.key"
    wrong.write_text("A" * 43 + "=\n")
    with pytest.raises(c2c_decrypt.Refused, match="not this package's key"):
        c2c_decrypt.decrypt(str(package), c2c_decrypt.read_key(str(wrong)),
                            str(researcher / "w"))
    with pytest.raises(c2c_decrypt.Refused, match="expired"):
        c2c_decrypt.decrypt(str(package), c2c_decrypt.read_key(str(key_file)),
                            str(researcher / "late"),
                            now=datetime.now(UTC) + timedelta(days=5000))


def test_the_decryptor_reads_many_chunks_as_the_library_writes_them(tmp_path: Path) -> None:
    import hashlib
    import secrets

    from deidentify.package import PackageHeader, write_package

    key = secrets.token_bytes(32)
    now = datetime.now(UTC)
    header = PackageHeader.new("R-chunks", now, now + timedelta(days=1), chunk_size=64)
    data = bytes(range(256)) * 40  # 10 kB: 160 chunks of 64 bytes
    manifest = {"request_id": "R-chunks", "rows": 1, "files": {
        "data.csv": {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}}}
    package = tmp_path / "p.c2cx"
    with write_package(package, key, header) as writer:
        writer.add_bytes("data.csv", data)
        writer.add_bytes("manifest.json", json.dumps(manifest).encode())
    got = c2c_decrypt.decrypt(str(package), key, str(tmp_path / "out"))
    assert got["request_id"] == "R-chunks"
    assert (tmp_path / "out" / "data.csv").read_bytes() == data
    original = package.read_bytes()
    for cut in (original[:-1], original[:-80], original + b"\x00"):
        package.write_bytes(cut)
        with pytest.raises(c2c_decrypt.Refused):
            c2c_decrypt.decrypt(str(package), key, str(tmp_path / "again"))
