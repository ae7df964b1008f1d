"""Portal sessions and the door checks the portal added to the API, over real HTTP handling
(FastAPI TestClient on the real app, real governance store and warehouse).

Sign-in opens a server-side session; CSRF tokens, session fixation, sign-out, role isolation,
audit of page views, offline /docs, 422 for filter values that do not exist, duplicates.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.portal.sessions import COOKIE
from tests.api_support import LEA, OTHER_LEA, ApiEnv
from tests.governance_fixtures import clear_provider_review

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(e: ApiEnv, path: str = "/portal/signin") -> str:
    page = e.client.get(path)
    assert page.status_code == 200, page.text
    match = TOKEN.search(page.text)
    assert match, "no CSRF token on the form"
    return match.group(1)


def _sign_in(e: ApiEnv, who: str) -> None:
    token = _csrf(e)
    done = e.client.post("/portal/signin", data={"api_key": e.keys[who], "csrf_token": token},
                         follow_redirects=False)
    assert done.status_code == 303, done.text


def add_partner_control_users(e: ApiEnv) -> None:
    """A data steward of LEA and an output checker (issue 19), with keys in ``e.keys``."""
    from governance.users import create_user, issue_key

    with e.sessions.begin() as s:
        for name, roles, org in (("steward", ["steward"], LEA), ("checker", ["checker"], None)):
            e.keys[name] = issue_key(s, create_user(s, name, roles, org).id).token


def _audit_actions(e: ApiEnv) -> list[tuple[str, str, str]]:
    with e.sessions() as s:
        rows = s.execute(sa.text("SELECT actor, action, outcome FROM audit_log ORDER BY seq"))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_sign_in_needs_csrf_and_rotates_the_session_id(env: ApiEnv) -> None:
    e = env
    e.client.get("/portal/signin")
    planted = e.client.cookies.get(COOKIE)
    assert planted
    refused = e.client.post("/portal/signin", data={"api_key": e.keys["partner"]},
                            follow_redirects=False)
    assert refused.status_code == 403 and "security token" in refused.text
    wrong = e.client.post("/portal/signin", data={"api_key": e.keys["partner"],
                                                  "csrf_token": "forged"},
                          follow_redirects=False)
    assert wrong.status_code == 403
    _sign_in(e, "partner")
    fresh = e.client.cookies.get(COOKIE)
    assert fresh and fresh != planted  # no fixation: a new id at sign-in
    assert e.client.get("/portal/partner").status_code == 200
    # the id from before sign-in (an attacker's planted one) is not signed in
    e.client.cookies.set(COOKIE, planted)
    stale = e.client.get("/portal/partner", follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].startswith("/portal/signin")


def test_cookie_flags_and_security_headers(env: ApiEnv) -> None:
    public = env.client.get("/portal/public")
    assert public.status_code == 200 and "set-cookie" not in public.headers  # no session needed
    page = env.client.get("/portal/signin")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain http on loopback: a Secure cookie would never return
    env.client.cookies.clear()
    behind_tls = env.client.get("https://testserver/portal/signin")
    assert "secure" in behind_tls.headers["set-cookie"].lower()
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_bad_key_is_refused_with_a_page(env: ApiEnv) -> None:
    token = _csrf(env)
    bad = env.client.post("/portal/signin", data={"api_key": "c2c.nope.nope",
                                                  "csrf_token": token})
    assert bad.status_code == 401 and "not accepted" in bad.text


def test_sign_out_ends_the_session(env: ApiEnv) -> None:
    e = env
    _sign_in(e, "researcher")
    sid = e.client.cookies.get(COOKIE)
    token = _csrf(e, "/portal/researcher")
    assert e.client.post("/portal/signout", data={}, follow_redirects=False).status_code == 403
    out = e.client.post("/portal/signout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    e.client.cookies.set(COOKIE, sid)  # replaying the old id does not bring the session back
    assert e.client.get("/portal/researcher", follow_redirects=False).status_code == 303


def test_a_session_cannot_reach_another_roles_pages(env: ApiEnv) -> None:
    e = env
    add_partner_control_users(e)
    pages = {"partner": "/portal/partner", "researcher": "/portal/researcher",
             "board": "/portal/board", "steward": "/portal/steward",
             "checker": "/portal/checker"}
    anonymous = {p: e.client.get(p, follow_redirects=False).status_code for p in pages.values()}
    assert set(anonymous.values()) == {303}
    for who, own in pages.items():
        e.client.cookies.clear()
        _sign_in(e, who)
        assert e.client.get(own).status_code == 200, who
        for other, page in pages.items():
            if other != who:
                refused = e.client.get(page)
                assert refused.status_code == 403, (who, page)
                assert "this page is for the" in refused.text
    denied = [a for a in _audit_actions(e) if a[1] == "authz.denied"]
    assert len(denied) == 20  # each of 5 roles refused on the 4 others' pages


def _portal_routes() -> list[tuple[str, str]]:
    """Every route of every portal router (api.portal.install mounts exactly these)."""
    from fastapi.routing import APIRoute

    from api.portal import ROUTERS

    out = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path.startswith("/portal/"):
                for method in route.methods:
                    out.append((method, route.path.replace("{request_id}", "req-000000000000")))
    return sorted(out)


def test_page_matrix_every_portal_route_by_role(env: ApiEnv) -> None:
    """Every portal route (read from the app, so a new page cannot be forgotten) against every
    role: pages of a role refuse other roles with 403 and anonymous callers are sent to sign in."""
    e = env
    add_partner_control_users(e)
    routes = _portal_routes()
    owner = {"partner": "partner", "researcher": "researcher", "board": "board",
             "steward": "steward", "checker": "checker"}
    assert {p.split("/")[2] for _, p in routes} == {"signin", "signout", "public", *owner}
    for who in ("anonymous", *owner):
        e.client.cookies.clear()
        if who != "anonymous":
            _sign_in(e, who)
        token = TOKEN.search(e.client.get("/portal/signin").text).group(1)  # type: ignore[union-attr]
        for method, path in routes:
            area = path.split("/")[2]
            if area not in owner:
                continue
            data = {"csrf_token": token} if method == "POST" else None
            got = e.client.request(method, path, data=data, params=data,  # upload: in the URL
                                   follow_redirects=False)
            assert got.status_code < 500, (who, method, path, got.text)
            if who == "anonymous":
                assert got.status_code == 303, (method, path)
            elif owner[area] == who:
                assert got.status_code not in (303, 401, 403), (who, method, path)
            else:
                assert got.status_code == 403, (who, method, path, got.status_code)


def test_revoked_key_ends_the_portal_session(env: ApiEnv) -> None:
    e = env
    _sign_in(e, "board")
    assert e.client.get("/portal/board").status_code == 200
    key_id = e.keys["board"].split(".")[1]
    revoked = e.client.post(f"/v1/admin/keys/{key_id}/revoke", headers=e.auth("admin"))
    assert revoked.status_code == 200
    assert e.client.get("/portal/board", follow_redirects=False).status_code == 303


def test_page_views_of_governed_data_are_audited(env: ApiEnv) -> None:
    e = env
    _sign_in(e, "partner")
    assert e.client.get("/portal/partner").status_code == 200
    _sign_in(e, "board")
    assert e.client.get("/portal/board").status_code == 200
    actions = _audit_actions(e)
    assert ("partner", "portal.partner.view", "ok") in actions
    assert ("board", "board.list", "ok") in actions
    assert ("partner", "portal.signin", "ok") in actions


def test_board_decision_needs_csrf(env: ApiEnv) -> None:
    e = env
    body = {"kind": "aggregate", "title": "CTE and college going",
            "purpose": "Does CTE completion predict community college enrollment?",
            "variables": ["cte_completer"], "group_by": ["gender"]}
    rid = e.client.post("/v1/requests", json=body, headers=e.auth("researcher")).json()["id"]
    e.client.post(f"/v1/requests/{rid}/submit", headers=e.auth("researcher"))
    with e.sessions.begin() as s:
        clear_provider_review(s, rid)  # the partners' stewards (issue 19) go first
    _sign_in(e, "board")
    forged = e.client.post(f"/portal/board/requests/{rid}/decide",
                           data={"decision": "approve", "reason": "fine"})
    assert forged.status_code == 403
    token = _csrf(e, f"/portal/board/requests/{rid}")
    done = e.client.post(f"/portal/board/requests/{rid}/decide",
                         data={"decision": "approve", "reason": "fine", "csrf_token": token})
    assert done.status_code == 200 and "1 of 2 approvals" in done.text


def test_docs_work_offline(env: ApiEnv) -> None:
    page = env.client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assets = re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', page.text)
    assert len(assets) >= 2
    for asset in assets:
        assert env.client.get(asset).status_code == 200
    assert env.client.get("/redoc").status_code == 200


def test_filters_and_cohorts_that_do_not_exist_are_refused(env: ApiEnv) -> None:
    e = env
    for query, field in [("academic_year=2023", "academic_year"),
                         ("metric=hs_graduation", "metric"),
                         ("reporting_lea=9999999", "reporting_lea"),
                         ("subgroup=gender&subgroup_value=Q", "subgroup_value")]:
        refused = e.client.get(f"/v1/aggregates?{query}")
        assert refused.status_code == 422, query
        message = refused.json()["error"]["message"]
        assert message.startswith(field) and "valid choices" in message
    assert "2022-23" in e.client.get("/v1/aggregates?academic_year=2023").text
    assert e.client.get("/v1/aggregates?academic_year=2022-23").status_code == 200
    body = {"kind": "aggregate", "title": "Cohort 2023", "purpose": "Graduation of the 2023 cohort",
            "variables": ["hs_graduate"], "cohort": {"academic_years": ["2023"]}}
    refused = e.client.post("/v1/requests", json=body, headers=e.auth("researcher"))
    assert refused.status_code == 422 and "2022-23" in refused.json()["error"]["message"]
    # the public page says so in words, not as an empty table
    page = e.client.get("/portal/public?year=2023")
    assert page.status_code == 200 and "valid choices" in page.text
    # districts are found by name: one match filters, none or several say so
    one = e.client.get("/portal/public?find=bayview&metric=hs_graduate")
    assert '<span class="code">0161119</span>' in one.text
    assert '<span class="code">1062166</span>' not in one.text
    none = e.client.get("/portal/public?find=Atlantis")
    assert "No district or charter with published data is named like" in none.text
    several = e.client.get("/portal/public?find=Unified")
    assert "3 districts and charters match &#39;Unified&#39;" in several.text


def test_resent_file_says_when_it_was_received(env: ApiEnv, generated: Path) -> None:
    e = env
    data = (generated / "calpads" / LEA / "2022-23" / "SENR 2022-23.txt").read_bytes()
    files = [("files", ("SENR 2022-23.txt", data, "text/plain"))]
    first = e.client.post("/v1/partner/uploads", headers=e.auth("partner"), files=files)
    assert first.status_code == 201, first.text
    receipt_id = first.json()["submissions"][0]["receipt"]["receipts"][0]["receipt_id"]
    again = e.client.post("/v1/partner/uploads", headers=e.auth("partner"), files=files)
    assert again.status_code == 200, again.text
    note = again.json()["submissions"][0]["receipt"]["receipts"][0]["duplicate"]
    assert note.startswith("already received on ") and note.endswith(f"receipt {receipt_id}")
    # the partner page lists the receipt with its rows per year and file type
    _sign_in(e, "partner")
    page = e.client.get("/portal/partner")
    assert page.status_code == 200 and receipt_id in page.text and "SENR" in page.text


def test_rows_naming_another_lea_are_one_line_naming_both(env: ApiEnv, generated: Path) -> None:
    """issue 27: a file of another LEA printed one identical row per record, never naming
    the LEA; now one grouped line says how many rows, which lines, and both LEAs."""
    e = env
    data = (generated / "calpads" / OTHER_LEA / "2022-23" / "SENR 2022-23.txt").read_bytes()
    records = sum(1 for line in data.decode("utf-8").splitlines() if line.strip())
    files = [("files", ("SENR 2022-23.txt", data, "text/plain"))]
    sent = e.client.post("/v1/partner/uploads", headers=e.auth("partner"), files=files)
    assert sent.status_code == 422, sent.text
    _sign_in(e, "partner")
    page = html.unescape(e.client.get("/portal/partner").text)
    table = page.split('class="stack errors"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td[^>]*>(\d+)</td><td[^>]*>([^<]*)</td>", table)
    assert len(rows) == 1, table  # one line, not one per record
    count, where = rows[0]
    assert 1 < int(count) <= records and re.fullmatch(r"[12] to \d+", where), rows
    assert f"the record names LEA {OTHER_LEA}, you are LEA {LEA}" in table


def test_idle_sessions_end_and_the_store_is_bounded() -> None:
    from api.portal.sessions import SessionStore
    from governance.users import Principal, Role

    now = [1000.0]
    store = SessionStore(idle_seconds=60, clock=lambda: now[0])
    who = Principal(user_id=1, name="p", roles=frozenset({Role.PARTNER}), org_code=None,
                    key_id="k")
    s = store.rotate(store.new(), who)
    now[0] += 59
    assert store.get(s.id) is s  # activity keeps it alive ...
    now[0] += 59
    assert store.get(s.id) is s
    now[0] += 61
    assert store.get(s.id) is None  # ... idleness ends it
    assert store.get(None) is None and store.get("made-up") is None


def test_anonymous_flood_never_pushes_out_a_signed_in_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from api.portal import sessions
    from governance.users import Principal, Role

    monkeypatch.setattr(sessions, "MAX_ANONYMOUS", 5)
    store = sessions.SessionStore(idle_seconds=600)
    who = Principal(user_id=1, name="p", roles=frozenset({Role.BOARD}), org_code=None,
                    key_id="k")
    signed = store.rotate(None, who)
    first = store.new()
    for _ in range(50):
        store.new()
    assert store.get(signed.id) is signed
    assert store.get(first.id) is None  # the oldest anonymous ones went


def test_partner_page_shows_landing_folder_receipts_with_line_and_field(
        env: ApiEnv, generated: Path, tmp_path: Path) -> None:
    """A file dropped in the landing folder (ingested by the pipeline, not the API) is on the
    partner's page with its errors by line and field, and never echoes the offending value."""
    from core.keys import KeyProvider
    from core.warehouse import open_warehouse
    from governance.partners import list_partners
    from ingest import ingest_files

    e = env
    source = generated / "calpads" / LEA / "2022-23" / "SENR 2022-23.txt"
    lines = source.read_bytes().split(b"\r\n")
    fields = lines[2].split(b"^")
    at = next(i for i, f in enumerate(fields) if re.fullmatch(rb"(19|20)\d{6}", f))
    fields[at] = fields[at][:4] + b"0231"  # 31 February: a date that does not exist
    bad_value = fields[at].decode()
    lines[2] = b"^".join(fields)
    landing = tmp_path / "landing" / "calpads" / LEA / "2022-23"
    landing.mkdir(parents=True)
    (landing / "SENR 2022-23.txt").write_bytes(b"\r\n".join(lines))
    with e.sessions() as s:
        partners = list_partners(s)
    con = open_warehouse(e.settings)
    try:
        keys = KeyProvider(e.settings.master_key_path, e.settings.keyring_path)
        [receipt] = ingest_files(con, [tmp_path / "landing"], e.settings.raw_dir,
                                 keys.derive("raw-store"), partners)
    finally:
        con.close()
    assert receipt.status == "rejected" and receipt.errors, receipt
    _sign_in(e, "partner")
    page = e.client.get("/portal/partner").text
    assert receipt.receipt_id in page and "rejected" in page
    first = receipt.errors[0]
    assert (f'<td data-label="Lines">{first.line}</td><td data-label="Field">{first.field}</td>'
            in page)
    assert first.line == 3 and first.field
    assert bad_value not in page  # the offending value (a date, maybe a birth date) stays out


def test_receipts_are_paginated_and_searchable(env: ApiEnv, generated: Path) -> None:
    """issue 27: receipts were one unpaginated list."""
    from api.portal.routes_partner import RECEIPTS_PER_PAGE, receipts_page

    class R:
        def __init__(self, n: int) -> None:
            self.file_name, self.receipt_id = f"SENR {n}.txt", f"rcpt-{n:03d}"
            self.status = "rejected" if n % 10 == 0 else "accepted"

    many = [R(n) for n in range(45)]
    first, matching, pages = receipts_page(many, "", 1)
    assert (len(first), matching, pages) == (RECEIPTS_PER_PAGE, 45, 3)
    last, _, _ = receipts_page(many, "", 3)
    assert [r.receipt_id for r in last] == [f"rcpt-{n:03d}" for n in range(40, 45)]
    found, matching, pages = receipts_page(many, "REJECTED", 1)
    assert matching == 5 and pages == 1 and all(r.status == "rejected" for r in found)
    # and on the served page
    e = env
    data = (generated / "calpads" / LEA / "2022-23" / "SENR 2022-23.txt").read_bytes()
    e.client.post("/v1/partner/uploads", headers=e.auth("partner"),
                  files=[("files", ("SENR 2022-23.txt", data, "text/plain"))])
    _sign_in(e, "partner")
    hit = html.unescape(e.client.get("/portal/partner?find=senr").text)
    assert "1 of 1 receipts match “senr”" in hit and "SENR 2022-23.txt" in hit
    miss = html.unescape(e.client.get("/portal/partner?find=nothing-like-it").text)
    assert "0 of 1 receipts match" in miss and "No receipt matches." in miss
