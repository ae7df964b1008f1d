"""Issue 25, item 3: two people behind every control, written as the attacks.

One admin, with every account it can make alone (and a second admin it made), reaches no board
quorum, answers no other partner's provider review and releases no output; an admin who handed
over two board (or checker) keys holds one vote, not two; a partner's steward is the one its
agreement names; the audit says who granted what. Each test failed on main before the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli.main import app
from core.errors import PermissionDenied
from governance import grants as gg
from governance import output_release
from governance import partners as gp
from governance import request_lifecycle as gr
from governance import users as gu
from governance.audit import append
from governance.extract_registry import ExtractInfo, mark_fulfilled
from governance.models import AuditEntry
from governance.request_inputs import RequestInput
from synth.orgs import steward_address
from tests.api_support import LEA, OTHER_LEA, ApiEnv
from tests.governance_fixtures import clear_provider_review, write_partners_csv

BODY = {"kind": "aggregate", "title": "CTE and college going",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _make(e: ApiEnv, admin: dict[str, str], name: str, roles: list[str],
          org: str | None = None, email: str | None = None) -> tuple[int, str]:
    body = {"name": name, "roles": roles, "org_code": org, "email": email}
    made = e.client.post("/v1/admin/users", headers=admin, json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["user"]["id"]), str(made.json()["key"]["token"])


def _ask(e: ApiEnv, admin: dict[str, str], user_id: int, role: str | None) -> int:
    body = {"kind": "role", "role": role} if role else {"kind": "key"}
    asked = e.client.post(f"/v1/admin/users/{user_id}/grants", headers=admin, json=body)
    assert asked.status_code == 201, asked.text
    return int(asked.json()["grant_id"])


def _approve(e: ApiEnv, admin: dict[str, str], grant: int) -> tuple[int, str]:
    response = e.client.post(f"/v1/admin/grants/{grant}/approve", headers=admin)
    return response.status_code, response.text


def _submitted(e: ApiEnv) -> str:
    rid = e.client.post("/v1/requests", json=BODY, headers=e.auth("researcher")).json()["id"]
    assert e.client.post(f"/v1/requests/{rid}/submit",
                         headers=e.auth("researcher")).status_code == 200
    return str(rid)


def _user_id(e: ApiEnv, name: str) -> int:
    with e.sessions() as s:
        return int(s.query(gu.User).filter_by(name=name).one().id)


def test_one_admin_with_every_account_it_can_make_controls_nothing(env: ApiEnv) -> None:
    """The attack: one admin makes accounts (a second admin among them) and tries every door."""
    admin = env.auth("admin")
    # 1. privileged accounts made directly: refused, whatever the role
    for role in ("admin", "board", "checker", "steward"):
        made = env.client.post("/v1/admin/users", headers=admin,
                               json={"name": f"sock-{role}", "roles": [role], "org_code":
                                     LEA if role == "steward" else None})
        assert made.status_code == 403, (role, made.text)
    # 2. keys for existing privileged accounts: refused
    with env.sessions.begin() as s:
        checker = gu.create_user(s, "real-checker", ["checker"])
        steward = gu.create_user(s, "real-steward", ["steward"], OTHER_LEA)
        other_admin = gu.create_user(s, "real-admin", ["admin"])
        ids = {"checker": checker.id, "steward": steward.id, "admin": other_admin.id}
    ids["board"] = _user_id(env, "board")
    for role, uid in ids.items():
        minted = env.client.post(f"/v1/admin/users/{uid}/keys", headers=admin)
        assert minted.status_code == 403, (role, minted.text)
    # 3. accounts it can make alone, each asked a privileged role it then approves itself
    socks = {}
    for role, org, email in (("admin", None, None), ("board", None, None),
                             ("board", None, None), ("checker", None, None),
                             ("checker", None, None),
                             ("steward", OTHER_LEA, steward_address(OTHER_LEA))):
        uid, token = _make(env, admin, f"sock-{role}-{len(socks)}", [], org, email)
        status, text = _approve(env, admin, _ask(env, admin, uid, role))
        assert status == 403, text
        socks[f"{role}-{len(socks)}"] = token
    # 4. with those accounts: no board vote, no provider review answer, no output check
    rid = _submitted(env)
    for token in socks.values():
        vote = env.client.post(f"/v1/board/requests/{rid}/decisions", headers=_bearer(token),
                               json={"decision": "approve", "reason": "sock puppet"})
        assert vote.status_code == 403
        review = env.client.post(f"/v1/steward/reviews/{rid}", headers=_bearer(token),
                                 json={"decision": "approve", "reason": "sock puppet"})
        assert review.status_code == 403
        check = env.client.post(f"/v1/checker/requests/{rid}/decisions", headers=_bearer(token),
                                json={"decision": "approve", "reason": "sock puppet"})
        assert check.status_code == 403
        grant = env.client.post(f"/v1/admin/grants/{1}/approve", headers=_bearer(token))
        assert grant.status_code == 403
    status = env.client.get(f"/v1/requests/{rid}", headers=env.auth("researcher")).json()
    assert status["status"] == "submitted"


def test_a_second_admin_the_first_made_approves_none_of_its_grants(env: ApiEnv) -> None:
    """Even when an honest admin approved the attacker's new admin (and handed its key back to
    the attacker), the two count as one person: neither approves the other's grants."""
    attacker = env.auth("admin")
    with env.sessions.begin() as s:
        honest = _bearer(gu.issue_key(s, gu.create_user(s, "admin_h", ["admin"]).id).token)
    sock_id, _ = _make(env, attacker, "sock-admin", [])
    status, text = _approve(env, honest, _ask(env, attacker, sock_id, "admin"))
    assert status == 201, text
    sock = _bearer(json.loads(text)["token"])
    assert "admin" in env.client.get("/v1/me", headers=sock).json()["roles"]
    board_id, _ = _make(env, attacker, "sock-board", [])
    status, text = _approve(env, sock, _ask(env, attacker, board_id, "board"))
    assert status == 403 and "one person" in text, text
    checker_id, _ = _make(env, sock, "sock-checker", [])
    status, text = _approve(env, attacker, _ask(env, sock, checker_id, "checker"))
    assert status == 403 and "one person" in text, text
    # an admin never approves a grant for an account it created, whoever asked
    made_by_honest, _ = _make(env, honest, "made-by-honest", [])
    status, text = _approve(env, honest, _ask(env, attacker, made_by_honest, "board"))
    assert status == 403 and "created this account" in text, text
    # the board sees every grant, approved or not, with the role and who asked
    seen = env.client.get("/v1/board/grants", headers=env.auth("board")).json()
    assert {(g["user_name"], g["role"], g["requested_by"]) for g in seen} >= {
        ("sock-admin", "admin", "admin"), ("sock-board", "board", "admin"),
        ("sock-checker", "checker", "sock-admin")}
    assert next(g for g in seen if g["user_name"] == "sock-admin")["approved_by"] == "admin_h"


def test_a_steward_is_the_one_the_partners_agreement_names(env: ApiEnv) -> None:
    first = env.auth("admin")
    with env.sessions.begin() as s:
        second = _bearer(gu.issue_key(s, gu.create_user(s, "admin_2", ["admin"]).id).token)
    # two admins agree, but the partner never named this address
    stranger, _ = _make(env, first, "stranger", [], OTHER_LEA, "me@attacker.example.org")
    refused = env.client.post(f"/v1/admin/users/{stranger}/grants", headers=first,
                              json={"kind": "role", "role": "steward"})
    assert refused.status_code == 403 and "does not name" in refused.text
    # an admin rewriting the partner's record does not change whom its agreement names
    partner = env.client.get("/v1/admin/partners?limit=1000", headers=first).json()["data"]
    mine = next(p for p in partner if p["org_code"] == OTHER_LEA)
    put = env.client.put(f"/v1/admin/partners/{OTHER_LEA}", headers=first,
                         json={"name": mine["name"], "kind": mine["kind"],
                               "liaison_contact": "me@attacker.example.org"})
    assert put.status_code == 200, put.text
    assert put.json()["stewards"] == [steward_address(OTHER_LEA)]
    # the named steward, with two admins: granted; the key goes to the approver only
    named, initial = _make(env, first, "named", [], OTHER_LEA, steward_address(OTHER_LEA))
    status, text = _approve(env, second, _ask(env, first, named, "steward"))
    assert status == 201, text
    assert env.client.get("/v1/me", headers=_bearer(initial)).status_code == 401
    me = env.client.get("/v1/me", headers=_bearer(json.loads(text)["token"])).json()
    assert me["roles"] == ["steward"] and me["org_code"] == OTHER_LEA
    # the audit names the grant and the role, not a plain user.create or key.issue
    with env.sessions() as s:
        actions = {(e.action, e.actor, json.loads(e.detail).get("role"))
                   for e in s.query(AuditEntry).all()}
    assert ("grant.request", "admin", "steward") in actions
    assert ("grant.approve", "admin_2", "steward") in actions


def _store(sessions: sessionmaker[Session], tmp_path: Path,
           researcher_made_by: str | None = None) -> str:
    """Two bootstrap admins and a researcher's submitted request, cleared by the partners;
    returns the request id."""
    with sessions.begin() as s:
        gp.import_partners_csv(s, write_partners_csv(tmp_path / "partners.csv"))
        for name in ("a1", "a2"):
            gg.bootstrap_admin(s, name)
        if researcher_made_by is None:
            res = gg.operator_create_user(s, "res", ["researcher"])[0]
        else:  # an admin made it (and holds its key), as the admin route does
            res = gu.create_user(s, "res", ["researcher"])
            append(s, actor=researcher_made_by, role="admin", action=gg.CREATE,
                   target=f"user:{res.id}")
        request = gr.create_request(s, res.id, RequestInput.model_validate(BODY))
        gr.submit_request(s, request.id, res.id)
        clear_provider_review(s, request.id)
        return str(request.id)


def _granted(s: Session, name: str, role: str, requester: str, approver: str) -> int:
    user = gu.create_user(s, name, [])
    grant = gg.request_grant(s, requester, user.id, gg.GrantKind.ROLE, gu.Role(role))
    return gg.approve_grant(s, approver, grant)[0]


def test_an_admin_who_handed_over_two_board_keys_casts_one_vote(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    rid = _store(sessions, tmp_path)
    with sessions.begin() as s:
        b1 = _granted(s, "b1", "board", "a1", "a2")
        b2 = _granted(s, "b2", "board", "a1", "a2")  # a2 held both keys
        b3 = _granted(s, "b3", "board", "a2", "a1")
    with sessions.begin() as s:
        gr.decide(s, rid, b1, "approve", "sound design", quorum=2)
    with sessions() as s, pytest.raises(PermissionDenied, match="a2"):
        gr.decide(s, rid, b2, "approve", "me again", quorum=2)
    with sessions.begin() as s:
        assert gr.decide(s, rid, b3, "approve", "fine", quorum=2).status == "approved"


def test_an_admin_who_handed_over_two_checker_keys_releases_nothing_alone(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    rid = _store(sessions, tmp_path)
    with sessions.begin() as s:
        b1 = _granted(s, "b1", "board", "a1", "a2")
        b2 = _granted(s, "b2", "board", "a2", "a1")
        gr.decide(s, rid, b1, "approve", "sound design", quorum=2)
        gr.decide(s, rid, b2, "approve", "fine", quorum=2)
        mark_fulfilled(s, rid, ExtractInfo(package_path="/x/p.zip", sha256="a" * 64))
        c1 = _granted(s, "c1", "checker", "a1", "a2")
        c2 = _granted(s, "c2", "checker", "a1", "a2")
        c3 = _granted(s, "c3", "checker", "a2", "a1")
    with sessions.begin() as s:
        output_release.checker_decide(s, rid, checker_id=c1, decision="approve", reason="safe")
    with sessions() as s, pytest.raises(PermissionDenied, match="one person"):
        output_release.checker_decide(s, rid, checker_id=c2, decision="approve", reason="safe")
    with sessions.begin() as s:
        release = output_release.checker_decide(s, rid, checker_id=c3, decision="approve",
                                              reason="safe")
    assert release.state.value == "released"


def test_a_board_member_handed_over_by_the_researchers_creator_does_not_decide(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """An admin who holds a researcher account and a board key is one person on both sides."""
    rid = _store(sessions, tmp_path, researcher_made_by="a2")
    with sessions.begin() as s:
        member = _granted(s, "b1", "board", "a1", "a2")
    with sessions() as s, pytest.raises(PermissionDenied, match="a request they made"):
        gr.decide(s, rid, member, "approve", "looks fine", quorum=2)


def test_the_operator_makes_only_the_first_two_admins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C2C_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("C2C_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    for name in ("first", "second"):
        done = runner.invoke(app, ["users", "create", name, "--role", "admin"])
        assert done.exit_code == 0, done.output
    third = runner.invoke(app, ["users", "create", "third", "--role", "admin"])
    assert isinstance(third.exception, PermissionDenied) and "grant" in str(third.exception)
    board = runner.invoke(app, ["users", "create", "member", "--role", "board"])
    assert isinstance(board.exception, PermissionDenied)
    plain = runner.invoke(app, ["users", "create", "res", "--role", "researcher"])
    assert plain.exit_code == 0, plain.output
    from core.settings import Settings
    from governance.db import session_factory

    with session_factory(Settings().governance_url)() as s:
        actions = [e.action for e in s.query(AuditEntry).order_by(AuditEntry.seq)]
    assert actions == ["user.bootstrap", "user.bootstrap", "user.create"]
