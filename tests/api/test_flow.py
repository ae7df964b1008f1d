"""End-to-end API behaviour: requests, board rules, extracts, uploads, audit, aggregates."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.keys import KeyProvider
from deidentify import extract_data_key
from deidentify.package import identity_key
from governance import request_lifecycle as gr
from governance.extract_registry import ExtractInfo, mark_fulfilled
from tests.api_support import LEA, OTHER_LEA, ApiEnv, write_serving_snapshot
from tests.governance_fixtures import clear_provider_review, release_output

BODY = {"kind": "aggregate", "title": "CTE and college going",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"]}


def _submitted(e: ApiEnv, who: str = "researcher") -> str:
    created = e.client.post("/v1/requests", json=BODY, headers=e.auth(who))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert e.client.post(f"/v1/requests/{rid}/submit", headers=e.auth(who)).status_code == 200
    with e.sessions.begin() as s:
        clear_provider_review(s, rid)
    return rid


def _decide(e: ApiEnv, rid: str, who: str, decision: str = "approve") -> dict:
    response = e.client.post(f"/v1/board/requests/{rid}/decisions", headers=e.auth(who),
                             json={"decision": decision, "reason": f"{decision} by {who}"})
    return {**response.json(), "http": response.status_code}


def test_request_lifecycle_quorum_download_and_expiry(env: ApiEnv) -> None:
    e = env
    created = e.client.post("/v1/requests", json=BODY, headers=e.auth("researcher")).json()
    rid = created["id"]
    assert created["status"] == "draft"
    edited = e.client.patch(f"/v1/requests/{rid}", json={"title": "CTE, college going"},
                            headers=e.auth("researcher"))
    assert edited.json()["title"] == "CTE, college going"
    # someone else's request does not exist for them
    for method, path in [("GET", f"/v1/requests/{rid}"), ("POST", f"/v1/requests/{rid}/submit"),
                         ("GET", f"/v1/requests/{rid}/extract")]:
        other = e.client.request(method, path, headers=e.auth("researcher_2"))
        assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert e.client.get("/v1/board/requests", headers=e.auth("board")).json() == []
    assert e.client.post(f"/v1/requests/{rid}/submit",
                         headers=e.auth("researcher")).json()["status"] == "submitted"
    assert e.client.patch(f"/v1/requests/{rid}", json={"title": "late edit"},
                          headers=e.auth("researcher")).status_code == 409
    board_view = e.client.get("/v1/board/requests", headers=e.auth("board")).json()
    assert [r["id"] for r in board_view] == [rid] and board_view[0]["requester"] == "researcher"

    # approval waits for provider review (the board may deny meanwhile)
    early = _decide(e, rid, "board")
    assert early["http"] == 409 and "provider review" in early["error"]["message"]
    with e.sessions.begin() as s:
        clear_provider_review(s, rid)
    first = _decide(e, rid, "board")
    assert first["http"] == 200 and first["status"] == "submitted"
    assert len(first["decisions"]) == 1
    assert _decide(e, rid, "board")["http"] == 409  # same member twice does not count
    with e.sessions() as s:
        assert gr.requests_ready_for_fulfilment(s) == []
    second = _decide(e, rid, "board_2")
    assert second["http"] == 200 and second["status"] == "approved"
    assert e.client.get(f"/v1/requests/{rid}", headers=e.auth("researcher")).json()[
        "status"] == "approved"
    assert e.client.get(f"/v1/requests/{rid}/extract",
                        headers=e.auth("researcher")).status_code == 409  # not built yet

    # the pipeline builds the extract (which creates its data key) and registers it
    keys = KeyProvider(e.settings.master_key_path, e.settings.keyring_path)
    data_key = keys.stored_key(f"extract:{rid}")
    package = e.settings.extracts_dir / f"{rid}.tar.age"
    package.parent.mkdir(parents=True, exist_ok=True)
    package.write_bytes(b"encrypted package bytes")
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    with e.sessions.begin() as s:
        [ready] = gr.requests_ready_for_fulfilment(s)
        assert ready.request_id == rid
        mark_fulfilled(s, rid, ExtractInfo(package_path=str(package), sha256=digest))
    # nothing leaves before two output checkers release it
    held = e.client.get(f"/v1/requests/{rid}/extract", headers=e.auth("researcher"))
    assert held.status_code == 409 and "output checkers" in held.json()["error"]["message"]
    with e.sessions.begin() as s:
        release_output(s, rid)
    download = e.client.get(f"/v1/requests/{rid}/extract", headers=e.auth("researcher"))
    assert download.status_code == 200 and download.content == b"encrypted package bytes"
    assert download.headers["x-sha256"] == digest
    key = e.client.get(f"/v1/requests/{rid}/extract/key", headers=e.auth("researcher")).json()
    assert identity_key(key["age_identity"]) == data_key == extract_data_key(keys, rid)
    assert key["command"] == f"age -d -i {rid}-key.txt {rid}.tar.age | tar -x"
    key_file = e.client.get(f"/v1/requests/{rid}/extract/key.txt", headers=e.auth("researcher"))
    assert key_file.status_code == 200 and key["age_identity"] in key_file.text
    assert key_file.headers["content-disposition"] == f'attachment; filename="{rid}-key.txt"'

    log = e.client.get("/v1/public/requests").json()
    assert log["count"] == 1 and log["data"][0]["status"] == "fulfilled"
    assert log["data"][0]["stage"] == "released"
    assert "researcher" not in str(log) and log["data"][0]["decided_at"]

    # expiry: the extract expired yesterday
    with e.sessions.begin() as s:
        s.execute(sa.text("UPDATE extracts SET expires_at = :t"),
                  {"t": (datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None)})
    gone = e.client.get(f"/v1/requests/{rid}/extract", headers=e.auth("researcher"))
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "expired"
    assert e.client.get(f"/v1/requests/{rid}/extract/key",
                        headers=e.auth("researcher")).status_code == 410


def test_self_approval_is_refused(env: ApiEnv) -> None:
    rid = _submitted(env, "researcher_board")
    refused = _decide(env, rid, "researcher_board")
    assert refused["http"] == 403 and refused["error"]["code"] == "permission_denied"
    assert "you made this request" in refused["error"]["message"]


def test_one_denial_ends_it_and_reason_is_required(env: ApiEnv) -> None:
    rid = _submitted(env)
    no_reason = env.client.post(f"/v1/board/requests/{rid}/decisions", headers=env.auth("board"),
                                json={"decision": "deny", "reason": ""})
    assert no_reason.status_code == 422
    assert _decide(env, rid, "board")["http"] == 200
    denied = _decide(env, rid, "board_2", "deny")
    assert denied["http"] == 200 and denied["status"] == "denied"
    assert denied["denial_reason"] == "deny by board_2"
    late = _decide(env, rid, "board_3")
    assert late["http"] == 409 and late["error"]["code"] == "conflict"
    with env.sessions() as s:
        assert gr.requests_ready_for_fulfilment(s) == []


def test_individual_request_needs_attestation_and_irb(env: ApiEnv) -> None:
    body = {**BODY, "kind": "individual", "group_by": []}
    rid = env.client.post("/v1/requests", json=body, headers=env.auth("researcher")).json()["id"]
    refused = env.client.post(f"/v1/requests/{rid}/submit", headers=env.auth("researcher"))
    assert refused.status_code == 422
    assert "IRB" in refused.json()["error"]["message"]
    env.client.patch(f"/v1/requests/{rid}", headers=env.auth("researcher"),
                     json={"training_attested": True, "irb_reference": "IRB-2026-7"})
    assert env.client.post(f"/v1/requests/{rid}/submit",
                           headers=env.auth("researcher")).status_code == 200
    unknown = env.client.post("/v1/requests", headers=env.auth("researcher"),
                              json={**BODY, "variables": ["ssn"]})
    assert unknown.status_code == 422 and "unknown variables ssn" in unknown.text


def _upload(e: ApiEnv, who: str, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return e.client.post("/v1/partner/uploads", headers=e.auth(who),
                         files=[("files", (name, data, "text/plain"))])


def _senr(generated: Path, org: str) -> bytes:
    return (generated / "calpads" / org / "2022-23" / "SENR 2022-23.txt").read_bytes()


def test_upload_accepted_rejected_and_partner_isolation(
    env: ApiEnv, generated: Path
) -> None:
    good = _upload(env, "partner", "SENR 2022-23.txt", _senr(generated, LEA))
    assert good.status_code == 201, good.text
    [sub] = good.json()["submissions"]
    receipt = sub["receipt"]["receipts"][0]
    assert sub["status"] == "accepted" and receipt["partner_org"] == LEA and receipt["rows"] > 0
    assert sub["sha256"] == hashlib.sha256(_senr(generated, LEA)).hexdigest()

    lines = _senr(generated, LEA).split(b"\r\n")
    fields = lines[1].split(b"^")
    fields[0] = b"XXXX-R"  # unknown record type on line 2
    lines[1] = b"^".join(fields)
    bad = _upload(env, "partner", "SENR 2022-23.txt", b"\r\n".join(lines))
    assert bad.status_code == 422, bad.text
    body = bad.json()
    assert body["error"]["code"] == "input_rejected" and "line 2" in body["error"]["message"]
    assert body["submissions"][0]["status"] == "rejected"

    # another partner's file is not accepted from this partner
    foreign = _upload(env, "partner", "SENR 2022-23.txt", _senr(generated, OTHER_LEA))
    assert foreign.status_code == 422

    mine = env.client.get("/v1/partner/submissions", headers=env.auth("partner")).json()
    theirs = env.client.get("/v1/partner/submissions", headers=env.auth("partner_other")).json()
    assert mine["count"] == 3 and theirs["count"] == 0
    peek = env.client.get(f"/v1/partner/submissions/{sub['id']}",
                          headers=env.auth("partner_other"))
    assert peek.status_code == 404
    missing = env.client.get("/v1/partner/missing", headers=env.auth("partner"))
    assert missing.status_code == 200
    assert {row["org_code"] for row in missing.json()} <= {LEA}


def test_upload_is_held_without_active_agreement(env: ApiEnv, generated: Path) -> None:
    terminated = env.client.post(f"/v1/admin/partners/{OTHER_LEA}/agreements",
                                 headers=env.auth("admin"),
                                 json={"status": "terminated", "note": "MOU ended"})
    assert terminated.status_code == 201 and terminated.json()["agreement_status"] == "terminated"
    held = _upload(env, "partner_other", "SENR 2022-23.txt", _senr(generated, OTHER_LEA))
    assert held.status_code == 202, held.text
    assert held.json()["status"] == "held"
    assert "agreement" in held.json()["submissions"][0]["receipt"]["receipts"][0]["message"]


def test_upload_limits_and_malformed_bodies(tmp_path: Path, env: ApiEnv) -> None:
    too_big = _upload(env, "partner", "SENR 2022-23.txt", b"x" * (5_000_001))
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"
    bad_name = _upload(env, "partner", "../../etc/passwd", b"x")
    assert bad_name.status_code in (400, 422)
    not_multipart = env.client.post("/v1/partner/uploads", headers=env.auth("partner"),
                                    content=b"hello", )
    assert not_multipart.status_code == 400
    leftovers = list((env.settings.tmp_dir / "uploads").glob("*"))
    assert leftovers == []  # no plaintext upload left behind


def test_audit_route_sees_activity_and_tampering(env: ApiEnv) -> None:
    _submitted(env)
    env.client.get("/v1/board/requests", headers=env.auth("researcher"))  # refused, audited
    verify = env.client.get("/v1/admin/audit/verify", headers=env.auth("admin")).json()
    assert verify["ok"] and verify["entries"] >= 3
    entries = env.client.get("/v1/admin/audit", headers=env.auth("admin")).json()
    actions = {(e["action"], e["outcome"]) for e in entries}
    assert {("request.create", "ok"), ("request.submit", "ok"),
            ("authz.denied", "permission_denied")} <= actions
    with env.sessions.begin() as s:
        s.execute(sa.text("UPDATE audit_log SET outcome = 'ok' WHERE action = 'authz.denied'"))
    tampered = env.client.get("/v1/admin/audit/verify", headers=env.auth("admin")).json()
    assert not tampered["ok"] and tampered["first_bad_seq"] is not None


def test_aggregates_filter_page_and_suppression(env: ApiEnv) -> None:
    everything = env.client.get("/v1/aggregates?limit=1000").json()
    assert everything["count"] == len(everything["data"]) == 72
    assert everything["snapshot"]["run_id"] == "run-1"
    page = env.client.get("/v1/aggregates", params={"metric": "hs_graduate", "reporting_lea": LEA,
                                                    "limit": 3, "offset": 3}).json()
    assert page["count"] == 8 and len(page["data"]) == 3
    assert all(r["metric"] == "hs_graduate" and r["reporting_lea"] == LEA for r in page["data"])
    small = env.client.get("/v1/aggregates", params={"subgroup": "homeless"}).json()["data"]
    assert small and all(r["suppressed"] and r["numerator"] is None and r["rate"] is None
                         for r in small)
    # only the reasons the disclosure standard allows reach the public (the file says more)
    assert {r["suppression_reason"] for r in small} == {"count_below_min"}
    assert env.client.get("/v1/aggregates?limit=0").status_code == 422
    env.settings.serving_path.unlink()
    missing = env.client.get("/v1/aggregates")
    assert missing.status_code == 404 and "c2c publish" in missing.json()["error"]["message"]


def test_aggregate_pages_are_slices_of_one_ordering(env: ApiEnv,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Walking the pages gives every row once, in order; the snapshot is sorted once per
    filter, not once per page (a deep page sorted the whole table: issue 13)."""
    serving = env.client.app.state.services.serving  # type: ignore[attr-defined]
    sorts: list[object] = []
    cached = serving.cached

    def counting(key: object, compute: Any, size: Any = None) -> Any:
        def counted(cursor: Any) -> Any:
            if isinstance(key, tuple) and key[0] == "aggregate order":
                sorts.append(key)
            return compute(cursor)
        return cached(key, counted, size)

    monkeypatch.setattr(serving, "cached", counting)
    everything = env.client.get("/v1/aggregates?limit=1000").json()["data"]
    walked = [row for offset in range(0, 80, 7) for row in env.client.get(
        "/v1/aggregates", params={"limit": 7, "offset": offset}).json()["data"]]
    assert walked == everything and len(walked) == 72
    keys = [(r["academic_year"], r["reporting_lea"], r["metric"], r["subgroup"],
             r["subgroup_value"]) for r in everything]
    assert keys == sorted(keys)
    assert len(sorts) == 1
    beyond = env.client.get("/v1/aggregates", params={"offset": 500}).json()
    assert beyond["data"] == [] and beyond["count"] == 72
    lea = env.client.get("/v1/aggregates", params={"reporting_lea": LEA, "limit": 5,
                                                   "offset": 5}).json()
    assert lea["data"] == [r for r in everything if r["reporting_lea"] == LEA][5:10]
    assert len(sorts) == 2


def test_replaced_snapshot_is_served_at_once(env: ApiEnv, tmp_path: Path) -> None:
    import os

    import duckdb

    assert env.client.get("/v1/aggregates").json()["count"] == 72
    fresh = tmp_path / "next.duckdb"
    write_serving_snapshot(fresh)
    con = duckdb.connect(str(fresh))
    con.execute("DELETE FROM published_aggregates WHERE metric <> 'hs_graduate'")
    con.execute("UPDATE snapshot_info SET run_id = 'run-2'")
    con.close()
    os.replace(fresh, env.settings.serving_path)  # the publisher's atomic swap
    after = env.client.get("/v1/aggregates").json()
    assert after["count"] == 24 and after["snapshot"]["run_id"] == "run-2"


def test_partner_registry_pages_and_never_returns_it_all(env: ApiEnv) -> None:
    admin = env.auth("admin")
    first = env.client.get("/v1/admin/partners", params={"limit": 5}, headers=admin).json()
    total = first["count"]
    assert total >= 10 and len(first["data"]) == 5 and first["offset"] == 0
    seen = [p["org_code"] for p in first["data"]]
    offset = 5
    while offset < total:
        page = env.client.get("/v1/admin/partners", params={"limit": 5, "offset": offset},
                              headers=admin).json()
        assert page["count"] == total and len(page["data"]) <= 5
        seen += [p["org_code"] for p in page["data"]]
        offset += 5
    assert seen == sorted(seen) and len(set(seen)) == total  # each partner once, in order
    default = env.client.get("/v1/admin/partners", headers=admin).json()
    assert default["limit"] == 100
    assert env.client.get("/v1/admin/partners", params={"limit": 1001},
                          headers=admin).status_code == 422
    assert env.client.get("/v1/admin/partners", params={"offset": -1},
                          headers=admin).status_code == 422
