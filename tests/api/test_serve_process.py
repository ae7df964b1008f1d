"""Issue #20 with a real ``c2c serve`` process: a plaintext upload left by ``kill -9`` is gone
once the service starts again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from core.keys import create_master_key
from core.settings import Settings
from governance.db import make_engine, upgrade
from governance.partners import import_partners_csv
from governance.users import create_user, issue_key
from tests.api_support import LEA

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _home(tmp_path: Path, partners_csv: Path,
          database_url: str | None = None) -> tuple[dict[str, str], str]:
    home = tmp_path / "home"
    env = {**os.environ, "C2C_HOME": str(home), "PYTHONPATH": str(REPO),
           "C2C_DUCKDB_MEMORY_LIMIT": "500MB", "C2C_DUCKDB_THREADS": "1"}
    env.pop("C2C_DATABASE_URL", None)
    if database_url:
        env["C2C_DATABASE_URL"] = database_url
    settings = Settings(home=home, database_url=database_url)
    create_master_key(settings.master_key_path)
    engine = make_engine(settings.governance_url)
    upgrade(engine)
    with sessionmaker(engine).begin() as s:
        import_partners_csv(s, partners_csv)
        token = issue_key(s, create_user(s, "district", ["partner"], LEA).id).token
    engine.dispose()
    return env, token


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", "serve", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("c2c serve did not start") from None
                time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_kill_9_mid_upload_leaves_no_plaintext_after_restart(
    tmp_path: Path, generated: Path  # noqa: F811
) -> None:
    env, token = _home(tmp_path, generated / "partners.csv")
    uploads = Path(env["C2C_HOME"]) / "tmp" / "uploads"
    port = _free_port()
    boundary = "killninetest"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"SINF 2022-23.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    with serving(env, port) as proc:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            (f"POST /v1/partner/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             f"Authorization: Bearer {token}\r\n"
             f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
             f"Content-Length: 4000000\r\n\r\n").encode() + head + b"SINF^A^PLAINTEXTNAME^" * 3000)
        deadline = time.monotonic() + 30
        while not list(uploads.glob("*/*/*")) or \
                list(uploads.glob("*/*/*"))[0].stat().st_size == 0:
            assert time.monotonic() < deadline, "the upload never reached the staging folder"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        sock.close()
    assert list(uploads.glob("*/*/*")), "kill -9 leaves the partial plaintext file behind"
    with serving(env, _free_port()):
        assert list(uploads.iterdir()) == []


def _raw_post(port: int, path: str, headers: dict[str, str], body: bytes,
              timeout: float = 10.0) -> tuple[int, float]:
    """Send headers and ``body`` (maybe less than Content-Length says); status and seconds."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode() + body)
        reply = sock.recv(65536)
    return int(reply.split(b" ", 2)[1]), time.monotonic() - started


def test_huge_bodies_are_refused_before_they_are_read(
    tmp_path: Path, generated: Path  # noqa: F811
) -> None:
    env, token = _home(tmp_path, generated / "partners.csv")
    huge = str(200 * 1024 * 1024)
    json_headers = {"Content-Type": "application/json", "Content-Length": huge}
    port = _free_port()
    with serving(env, port):
        # anonymous: 401 without waiting for 200 MiB that never come (old code waited: timeout)
        status, seconds = _raw_post(port, "/v1/requests", json_headers, b'{"kind": "')
        assert status == 401 and seconds < 10
        bad_key = {**json_headers, "Authorization": "Bearer c2c.nokey.nosecret"}
        assert _raw_post(port, "/v1/requests", bad_key, b"{")[0] == 401
        # a valid key does not buy an unbounded body either
        keyed = {**json_headers, "Authorization": f"Bearer {token}"}
        assert _raw_post(port, "/v1/requests", keyed, b"{")[0] == 413
        upload = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": huge}
        assert _raw_post(port, "/v1/partner/uploads", upload, b"--x\r\n")[0] == 401
