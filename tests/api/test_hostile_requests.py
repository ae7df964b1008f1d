"""Issue #20 (keep every promise under attack), the API side: each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api_support import LEA, OTHER_LEA, ApiEnv

BODY = {"kind": "aggregate", "title": "CTE and college going",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"]}


def _senr(generated: Path, org: str) -> bytes:  # noqa: F811
    return (generated / "calpads" / org / "2022-23" / "SENR 2022-23.txt").read_bytes()


def _upload(e: ApiEnv, who: str, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return e.client.post("/v1/partner/uploads", headers=e.auth(who),
                         files=[("files", (name, data, "text/plain"))])


# --- 9: a null for a field that cannot be empty is the caller's mistake (422), not a 500 ---

@pytest.mark.parametrize("field", ["kind", "cohort", "variables", "group_by", "title",
                                   "purpose", "training_attested"])
def test_patch_with_null_for_required_field_is_422(env: ApiEnv, field: str) -> None:  # noqa: F811
    rid = env.client.post("/v1/requests", json=BODY, headers=env.auth("researcher")).json()["id"]
    response = env.client.patch(f"/v1/requests/{rid}", json={field: None},
                                headers=env.auth("researcher"))
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]
    after = env.client.get(f"/v1/requests/{rid}", headers=env.auth("researcher")).json()
    assert after["kind"] == "aggregate" and after["variables"] == BODY["variables"]


# --- 2: a multipart body cut before its closing boundary is refused, nothing ingested ---

def test_multipart_without_closing_boundary_is_400_and_nothing_ingested(
    env: ApiEnv, generated: Path  # noqa: F811
) -> None:
    data = _senr(generated, LEA)
    boundary = "c2cboundary1234"
    half = data[: len(data) // 2]
    half = half[: half.rfind(b"\r\n") + 2]  # whole records only: it would load if accepted
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"SENR 2022-23.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode() + half
    response = env.client.post(
        "/v1/partner/uploads", content=body,
        headers={**env.auth("partner"),
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400, response.text
    assert "closing boundary" in response.json()["error"]["message"]
    listed = env.client.get("/v1/partner/submissions", headers=env.auth("partner")).json()
    assert listed["count"] == 0
    assert list((env.settings.tmp_dir / "uploads").glob("*/*")) == []


# --- 3: identical bytes of another partner's file get the same answer as new bytes would ---

def test_resending_another_partners_bytes_does_not_reveal_their_receipt(
    env: ApiEnv, generated: Path  # noqa: F811
) -> None:
    theirs = _senr(generated, OTHER_LEA)
    first = _upload(env, "partner_other", "SENR 2022-23.txt", theirs)
    assert first.status_code == 201, first.text
    their_receipt = first.json()["submissions"][0]["receipt"]["receipts"][0]

    replay = _upload(env, "partner", "SENR 2022-23.txt", theirs)
    assert replay.status_code == 422, replay.text
    receipt = replay.json()["submissions"][0]["receipt"]["receipts"][0]
    assert receipt["status"] == "rejected"
    assert receipt["receipt_id"] != their_receipt["receipt_id"]
    assert their_receipt["created_at"] not in replay.text
    # the same content as new bytes (LF line ends) is refused for the same reasons
    fresh = _upload(env, "partner", "SENR 2022-23.txt", theirs.replace(b"\r\n", b"\n"))
    assert fresh.status_code == 422
    fresh_receipt = fresh.json()["submissions"][0]["receipt"]["receipts"][0]
    assert [e["rule"] for e in fresh_receipt["errors"]] == [e["rule"] for e in receipt["errors"]]
    # and the owner still gets their own receipt back on a re-send (de-duplication kept)
    again = _upload(env, "partner_other", "SENR 2022-23.txt", theirs)
    assert again.status_code in (200, 201)  # a re-send: the first receipt back
    assert again.json()["submissions"][0]["receipt"]["receipts"][0]["receipt_id"] == \
        their_receipt["receipt_id"]


# --- 4: a body without a length is counted as it streams and cut off ---

def test_chunked_body_over_the_limit_is_413(env: ApiEnv) -> None:  # noqa: F811
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"kind": "aggregate", "title": "'
        for _ in range(40):
            yield b"x" * 65536

    response = env.client.post("/v1/requests", content=chunks(),
                               headers={**env.auth("researcher"),
                                        "Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"


# --- 5: the aggregates cache is bounded by the bytes it holds, not by a count of pages ---

def test_aggregates_cache_is_bounded_by_bytes(env: ApiEnv) -> None:  # noqa: F811
    serving = env.client.app.state.services.serving  # type: ignore[attr-defined]
    serving.max_bytes = 40_000
    first = env.client.get("/v1/aggregates", params={"limit": 1000}).json()
    assert first["count"] == 72 and len(first["data"]) == 72
    for offset in range(60):
        page = env.client.get("/v1/aggregates", params={"limit": 1000, "offset": offset})
        assert page.status_code == 200 and page.json()["data"][0] == first["data"][offset]
        assert serving.cached_bytes <= serving.max_bytes
    again = env.client.get("/v1/aggregates", params={"limit": 1000}).json()
    assert again == first


# --- 12: a partner's org_code is a CDS LEA code, a college code or CCGI, matching its kind ---

@pytest.mark.parametrize(("org_code", "kind"), [
    ("' OR 1=1", "lea"), ("123456", "lea"), ("12345678", "coe"), ("1234567", "college"),
    ("12a", "college"), ("ccgi", "ccgi"), ("1234567", "ccgi")])
def test_partner_org_code_must_fit_its_kind(env: ApiEnv, org_code: str, kind: str) -> None:  # noqa: F811
    from urllib.parse import quote

    response = env.client.put(f"/v1/admin/partners/{quote(org_code)}", headers=env.auth("admin"),
                              json={"name": "Somewhere", "kind": kind})
    assert response.status_code == 422, response.text
    assert "org_code must be" in response.json()["error"]["message"]


def test_valid_org_codes_are_accepted(env: ApiEnv) -> None:  # noqa: F811
    for org_code, kind in (("3467330", "lea"), ("3410348", "coe"), ("861", "college")):
        response = env.client.put(f"/v1/admin/partners/{org_code}", headers=env.auth("admin"),
                                  json={"name": "Somewhere", "kind": kind})
        assert response.status_code == 200, response.text


# --- 6: request inputs are bounded ---

@pytest.mark.parametrize("cohort", [
    {"academic_years": ["2022-23"] * 1000}, {"reporting_leas": ["1062166"] * 5000},
    {"grade_levels": ["09"] * 100}, {"academic_years": ["x" * 1000]},
    {"subgroup_equals": {f"v{i}": "x" for i in range(100)}}])
def test_oversized_cohorts_are_refused(env: ApiEnv, cohort: dict) -> None:  # type: ignore[type-arg]  # noqa: F811
    created = env.client.post("/v1/requests", json={**BODY, "cohort": cohort},
                              headers=env.auth("researcher"))
    assert created.status_code == 422, created.text[:300]
    rid = env.client.post("/v1/requests", json=BODY, headers=env.auth("researcher")).json()["id"]
    patched = env.client.patch(f"/v1/requests/{rid}", json={"cohort": cohort},
                               headers=env.auth("researcher"))
    assert patched.status_code == 422


# --- 8: separation of duties: one admin cannot reach board quorum alone ---

def _submitted(e: ApiEnv) -> str:
    rid = e.client.post("/v1/requests", json=BODY, headers=e.auth("researcher")).json()["id"]
    assert e.client.post(f"/v1/requests/{rid}/submit", headers=e.auth("researcher")).status_code \
        == 200
    return rid


def _user_id(e: ApiEnv, name: str) -> int:
    users = e.client.get("/v1/admin/users", headers=e.auth("admin")).json()
    return int(next(u["id"] for u in users if u["name"] == name))


def test_one_admin_cannot_make_or_impersonate_board_members(env: ApiEnv) -> None:  # noqa: F811
    admin = env.auth("admin")
    # the attack of the issue: create board users, or mint keys for existing ones
    created = env.client.post("/v1/admin/users", headers=admin,
                              json={"name": "sock1", "roles": ["board"]})
    assert created.status_code == 403, created.text
    minted = env.client.post(f"/v1/admin/users/{_user_id(env, 'board')}/keys", headers=admin)
    assert minted.status_code == 403, minted.text
    # a board grant requested by this admin cannot be approved by the same admin
    plain = env.client.post("/v1/admin/users", headers=admin,
                            json={"name": "newcomer", "roles": ["researcher"]}).json()
    asked = env.client.post(f"/v1/admin/users/{plain['user']['id']}/grants",
                            headers=admin, json={"kind": "role"})
    assert asked.status_code == 201, asked.text
    grant = asked.json()["grant_id"]
    alone = env.client.post(f"/v1/admin/grants/{grant}/approve", headers=admin)
    assert alone.status_code == 403
    rid = _submitted(env)
    vote = env.client.post(f"/v1/board/requests/{rid}/decisions",
                           headers={"Authorization": f"Bearer {plain['key']['token']}"},
                           json={"decision": "approve", "reason": "sock puppet"})
    assert vote.status_code == 403  # still not a board member
    # the board sees the pending grant and who asked
    seen = env.client.get("/v1/board/grants", headers=env.auth("board")).json()
    assert seen[0]["user_name"] == "newcomer" and seen[0]["approved_by"] is None
    assert seen[0]["requested_by"] == "admin"


def test_second_admin_approves_a_grant_and_the_requester_holds_no_board_key(
    env: ApiEnv  # noqa: F811
) -> None:
    admin = env.auth("admin")
    with env.sessions.begin() as s:
        from governance.users import create_user, issue_key

        second = issue_key(s, create_user(s, "admin_2", ["admin"]).id).token
    plain = env.client.post("/v1/admin/users", headers=admin,
                            json={"name": "newcomer", "roles": ["researcher"]}).json()
    grant = env.client.post(f"/v1/admin/users/{plain['user']['id']}/grants",
                            headers=admin, json={"kind": "role"}).json()["grant_id"]
    approved = env.client.post(f"/v1/admin/grants/{grant}/approve",
                               headers={"Authorization": f"Bearer {second}"})
    assert approved.status_code == 201, approved.text
    again = env.client.post(f"/v1/admin/grants/{grant}/approve",
                            headers={"Authorization": f"Bearer {second}"})
    assert again.status_code == 409
    # the key the first admin saw at creation no longer works; the approver's key does
    old = env.client.get("/v1/me", headers={"Authorization": f"Bearer {plain['key']['token']}"})
    assert old.status_code == 401
    member = {"Authorization": f"Bearer {approved.json()['token']}"}
    assert "board" in env.client.get("/v1/me", headers=member).json()["roles"]
    # the member rotates their own key
    own = env.client.post("/v1/me/keys", headers=member)
    assert own.status_code == 201
    seen = env.client.get("/v1/board/grants", headers=env.auth("board")).json()
    assert seen[0]["approved_by"] == "admin_2"
