"""Issue 25, item 6: the smaller findings, each written as the attack; each failed on main.

Sign-in guessing (rate limit, lockout, failure audit), anonymous sign-in floods, e-mail
addresses that are not one plain address, frameable docs and bare JSON, expired extracts left
on disk, temp folders of killed link runs (implied variables:
tests/deidentify/test_cross_extract.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.extracts import expire_extracts
from core.keys import KeyProvider, extract_key_name
from core.settings import Settings
from governance import notify
from governance.extract_registry import ExtractInfo, mark_fulfilled
from governance.models import ExtractRecord, Notification, User
from tests.api_support import ApiEnv
from tests.governance_fixtures import clear_provider_review

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
BODY = {"kind": "aggregate", "title": "CTE and college going",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"]}


def _actions(e: ApiEnv) -> list[tuple[str, str, str, str]]:
    with e.sessions() as s:
        rows = s.execute(sa.text("SELECT actor, action, target, outcome FROM audit_log "
                                 "ORDER BY seq"))
        return [tuple(r) for r in rows]  # type: ignore[misc]


# --- sign-in: rate limit, lockout, failure audit -------------------------------------------

def test_guessing_keys_from_one_address_is_locked_out_and_audited(env: ApiEnv) -> None:
    for attempt in range(10):
        wrong = env.client.get("/v1/me", headers={"Authorization": f"Bearer c2c.{attempt:012x}.x"})
        assert wrong.status_code == 401
    # the 11th attempt, even with a real key, waits out the window
    locked = env.client.get("/v1/me", headers=env.auth("researcher"))
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["retry-after"]) > 0
    assert locked.json()["error"]["code"] == "too_many_attempts"
    posted = env.client.post("/v1/requests", json=BODY, headers=env.auth("researcher"))
    assert posted.status_code == 429  # the body guard answers the same
    locks = [a for a in _actions(env) if a[1] == "auth.locked"]
    assert locks == [("anonymous", "auth.locked", "source:testclient", "too_many_attempts")]


def test_guessing_one_keys_secret_locks_that_key_only(env: ApiEnv) -> None:
    key_id = env.keys["researcher"].split(".")[1]
    for _ in range(5):
        wrong = env.client.get("/v1/me", headers={"Authorization": f"Bearer c2c.{key_id}.guess"})
        assert wrong.status_code == 401
        assert "unknown API key" in wrong.text  # says no more than for an unknown id
    assert env.client.get("/v1/me", headers=env.auth("researcher")).status_code == 429
    assert env.client.get("/v1/me", headers=env.auth("partner")).status_code == 200
    actions = _actions(env)
    failures = [a for a in actions if a[1] == "auth.refused" and a[2] == f"key:{key_id}"]
    assert len(failures) == 5 and all(a[0] == "researcher" for a in failures)
    assert ("researcher", "auth.locked", f"key:{key_id}", "too_many_attempts") in actions


def _signin_token(client: TestClient) -> str:
    page = client.get("/portal/signin")
    assert page.status_code == 200
    match = TOKEN.search(page.text)
    assert match
    return match.group(1)


def test_portal_sign_in_is_rate_limited_and_failures_audited(env: ApiEnv) -> None:
    token = _signin_token(env.client)
    key_id = env.keys["board"].split(".")[1]
    for attempt in range(10):
        key = f"c2c.{key_id}.wrong" if attempt == 0 else f"c2c.{attempt:012x}.x"
        bad = env.client.post("/portal/signin", data={"api_key": key, "csrf_token": token})
        assert bad.status_code == 401
    locked = env.client.post("/portal/signin", data={"api_key": env.keys["board"],
                                                     "csrf_token": token})
    assert locked.status_code == 429 and "too many failed sign-ins" in locked.text
    actions = _actions(env)
    assert ("board", "portal.signin", f"key:{key_id}", "not_authenticated") in actions
    assert ("anonymous", "auth.locked", "source:testclient", "too_many_attempts") in actions


# --- sessions minted only on demand ---------------------------------------------------------

def test_anonymous_sign_in_pages_never_push_out_a_half_finished_sign_in(
    env: ApiEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.portal import sessions

    monkeypatch.setattr(sessions, "MAX_ANONYMOUS", 5)  # the flood, scaled down
    token = _signin_token(env.client)  # a user opens the form ...
    flood = TestClient(env.client.app)
    for _ in range(50):  # ... while anonymous clients fetch it over and over
        flood.cookies.clear()
        assert flood.get("/portal/signin").status_code == 200
    store = env.client.app.state.portal_sessions  # type: ignore[attr-defined]
    assert not store._anonymous  # no server-side session for an anonymous visitor
    done = env.client.post("/portal/signin", data={"api_key": env.keys["partner"],
                                                   "csrf_token": token},
                           follow_redirects=False)
    assert done.status_code == 303, done.text
    assert env.client.get("/portal/partner").status_code == 200
    # a token from another browser's form does not work in this one
    other = _signin_token(flood)
    env.client.cookies.clear()
    env.client.get("/portal/signin")
    stolen = env.client.post("/portal/signin", data={"api_key": env.keys["partner"],
                                                     "csrf_token": other},
                             follow_redirects=False)
    assert stolen.status_code == 403


# --- e-mail addresses -----------------------------------------------------------------------

@pytest.mark.parametrize("address", ['"x\\"@example.org', "a\x00b@example.org",
                                     "x@example.org\r\nBcc: y@example.org",
                                     "Name <x@example.org>", "x@example.org, y@example.org"])
def test_addresses_that_are_not_one_plain_address_are_refused(env: ApiEnv,
                                                              address: str) -> None:
    made = env.client.post("/v1/admin/users", headers=env.auth("admin"),
                           json={"name": "mailer", "roles": ["researcher"], "email": address})
    assert made.status_code == 422, made.text
    names = [u["name"] for u in env.client.get("/v1/admin/users",
                                               headers=env.auth("admin")).json()]
    assert "mailer" not in names


def test_an_address_stored_before_the_check_is_never_mailed(env: ApiEnv) -> None:
    with env.sessions.begin() as s:
        s.add(User(name="legacy", roles=["board"], email='"x\\"@example.org'))
        s.add(User(name="fine", roles=["board"], email="fine@example.org"))
        s.flush()
        queued = notify.queue(s, ['"x\\"@example.org', "fine@example.org"], "s", "b", "e")
        assert queued == 1
        assert [n.to_addr for n in s.query(Notification).all()] == ["fine@example.org"]


# --- security headers on every response ------------------------------------------------------

@pytest.mark.parametrize("path", ["/health", "/v1/aggregates?limit=1", "/openapi.json", "/docs",
                                  "/redoc", "/docs-assets/swagger-ui.css", "/v1/me",
                                  "/no-such-route", "/portal/public"])
def test_every_response_carries_security_headers(env: ApiEnv, path: str) -> None:
    response = env.client.get(path)
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "referrer-policy" in response.headers
    if response.headers.get("content-type", "").startswith("application/json"):
        assert "default-src 'none'" in response.headers["content-security-policy"]


# --- expiry deletes the package ---------------------------------------------------------------

def _fulfilled(e: ApiEnv, package: Path) -> str:
    rid = e.client.post("/v1/requests", json=BODY, headers=e.auth("researcher")).json()["id"]
    assert e.client.post(f"/v1/requests/{rid}/submit",
                         headers=e.auth("researcher")).status_code == 200
    with e.sessions.begin() as s:
        clear_provider_review(s, rid)
    for board in ("board", "board_2"):
        decided = e.client.post(f"/v1/board/requests/{rid}/decisions", headers=e.auth(board),
                                json={"decision": "approve", "reason": "fine"})
        assert decided.status_code == 200, decided.text
    package.write_bytes(b"encrypted package")
    with e.sessions.begin() as s:
        mark_fulfilled(s, rid, ExtractInfo(
            package_path=str(package), sha256="a" * 64,
            expires_at=datetime.now(UTC) + timedelta(days=1)))
        s.query(ExtractRecord).filter_by(request_id=rid).one().expires_at = (
            datetime.now(UTC) - timedelta(minutes=1))
    return str(rid)


def test_an_expired_extract_is_deleted_with_its_key_and_marked_expired(
    env: ApiEnv, tmp_path: Path
) -> None:
    package = tmp_path / "extract.c2cx"
    rid = _fulfilled(env, package)
    keys = KeyProvider(env.settings.master_key_path, env.settings.keyring_path)
    keys.stored_key(extract_key_name(rid))
    assert expire_extracts(env.sessions, keys) == [rid]
    assert not package.exists() and not keys.has_key(extract_key_name(rid))
    mine = env.client.get(f"/v1/requests/{rid}", headers=env.auth("researcher")).json()
    assert mine["status"] == "expired"
    download = env.client.get(f"/v1/requests/{rid}/extract", headers=env.auth("researcher"))
    assert download.status_code == 410
    expiry = [a for a in _actions(env) if a[1] == "extract.expire"]
    assert expiry == [("system", "extract.expire", f"request:{rid}", "ok")]
    assert expire_extracts(env.sessions, keys) == []  # once


def test_the_running_api_expires_extracts_at_start(env: ApiEnv, tmp_path: Path) -> None:
    package = tmp_path / "extract.c2cx"
    rid = _fulfilled(env, package)
    with TestClient(create_app(env.settings)) as restarted:
        deadline = time.monotonic() + 10
        while package.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        mine = restarted.get(f"/v1/requests/{rid}", headers=env.auth("researcher")).json()
    assert not package.exists() and mine["status"] == "expired"


# --- temp folders of killed link runs ---------------------------------------------------------

HOLD_A_RUN = """
import sys, time
from core.settings import Settings
from linkage.choose_backend import open_backend
open_backend(Settings(), sys.argv[1])
print("ready", flush=True)
time.sleep(120)
"""


def _start_run(run_id: str, env: dict[str, str]) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLD_A_RUN, run_id], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def test_a_killed_link_runs_temp_folder_goes_at_the_next_start(tmp_path: Path) -> None:
    from linkage.choose_backend import open_backend

    home = tmp_path / "home"
    env = {**os.environ, "C2C_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("C2C_DATABASE_URL", None)
    alive = _start_run("alive", env)  # a run in flight in another process
    try:
        killed = _start_run("killed", env)
        (home / "tmp" / "splink-killed" / "spill.tmp").write_bytes(b"x" * 100)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        settings = Settings(home=home)
        assert (settings.tmp_dir / "splink-killed").exists()
        engine = open_backend(settings, "next")
        folders = sorted(p.name for p in settings.tmp_dir.iterdir())
        assert folders == ["splink-alive", "splink-next"]  # the killed run's is gone
        engine.close()
        assert sorted(p.name for p in settings.tmp_dir.iterdir()) == ["splink-alive"]
    finally:
        alive.kill()
        alive.wait()

