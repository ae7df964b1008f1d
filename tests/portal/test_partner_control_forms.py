"""The steward, checker and regroup forms of the portal (issue 19), driven through real
portal sessions on the real app (FastAPI TestClient, real governance store): CSRF is refused
without a token, and each form lands in the same governance state as the API would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from governance.extract_registry import ExtractInfo, mark_fulfilled
from governance.models import DataRequest, ProviderReview
from governance.users import create_user, issue_key
from tests.api_support import LEA, ApiEnv
from tests.governance_fixtures import clear_provider_review

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
BODY = {"kind": "aggregate", "title": "CTE and college going",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer"], "group_by": ["gender"]}


def _sign_in(e: ApiEnv, who: str) -> str:
    """Signs ``who`` in with a fresh browser and returns where sign-in landed."""
    e.client.cookies.clear()
    token = TOKEN.search(e.client.get("/portal/signin").text).group(1)  # type: ignore[union-attr]
    done = e.client.post("/portal/signin", data={"api_key": e.keys[who], "csrf_token": token},
                         follow_redirects=False)
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def _token(e: ApiEnv, page: str) -> str:
    got = e.client.get(page)
    assert got.status_code == 200, got.text
    return TOKEN.search(got.text).group(1)  # type: ignore[union-attr]


def _submitted(e: ApiEnv) -> str:
    rid = str(e.client.post("/v1/requests", json=BODY, headers=e.auth("researcher")).json()["id"])
    assert e.client.post(f"/v1/requests/{rid}/submit",
                         headers=e.auth("researcher")).status_code == 200
    return rid


def _fulfilled(e: ApiEnv, rid: str, tmp: Path, checks: list[dict[str, Any]]) -> None:
    """The board approves and the pipeline registers a built output with these check results."""
    with e.sessions.begin() as s:
        clear_provider_review(s, rid)
    for member in ("board", "board_2"):
        voted = e.client.post(f"/v1/board/requests/{rid}/decisions", headers=e.auth(member),
                              json={"decision": "approve", "reason": "sound design"})
        assert voted.status_code == 200, voted.text
    package = tmp / f"{rid}.c2cx"
    package.write_bytes(b"not a real package")
    with e.sessions.begin() as s:
        mark_fulfilled(s, rid, ExtractInfo(
            package_path=str(package), sha256="a" * 64,
            detail={"rows": 12, "variables": ["cte_completer"], "excluded_partners": [],
                    "output_checks": checks}))


def test_steward_and_checker_forms_through_the_portal(env: ApiEnv, tmp_path: Path) -> None:
    e = env
    with e.sessions.begin() as s:
        for name, roles, org in (("steward", ["steward"], LEA), ("checker", ["checker"], None)):
            e.keys[name] = issue_key(s, create_user(s, name, roles, org).id).token
    rid = _submitted(e)
    # The steward lands on their page and sees the neutral summary, not the requester.
    assert _sign_in(e, "steward") == "/portal/steward"
    page = e.client.get("/portal/steward").text
    assert rid in page and "research" in page and "cte_completer" in page
    assert "researcher" not in page.split("<main", 1)[1]
    forged = e.client.post(f"/portal/steward/reviews/{rid}",
                           data={"decision": "object", "reason": "not in our agreement"})
    assert forged.status_code == 403 and "security token" in forged.text
    token = _token(e, "/portal/steward")
    done = e.client.post(f"/portal/steward/reviews/{rid}", data={
        "decision": "object", "reason": "not in our agreement", "csrf_token": token})
    assert done.status_code == 200, done.text
    with e.sessions() as s:
        review = s.query(ProviderReview).filter_by(request_id=rid, org_code=LEA).one()
        assert (review.status, review.reason) == ("objected", "not in our agreement")
    assert "Nothing is waiting for your review" in done.text and "objected" in done.text

    # A second request reaches the checkers with its automated checks passed.
    rid2 = _submitted(e)
    _fulfilled(e, rid2, tmp_path, [{"check": "k_anonymity", "passed": True,
                                    "detail": "every cell has at least 11"}])
    assert _sign_in(e, "checker") == "/portal/checker"
    assert rid2 in e.client.get("/portal/checker").text
    report = e.client.get(f"/portal/checker/requests/{rid2}").text
    assert "k_anonymity" in report and "every cell has at least 11" in report
    assert "0 approve, 0 reject" in report
    forged = e.client.post(f"/portal/checker/requests/{rid2}/decide",
                           data={"decision": "approve", "reason": "small cells suppressed"})
    assert forged.status_code == 403
    token = _token(e, f"/portal/checker/requests/{rid2}")
    done = e.client.post(f"/portal/checker/requests/{rid2}/decide", data={
        "decision": "approve", "reason": "small cells suppressed", "csrf_token": token})
    assert done.status_code == 200 and "1 approve, 0 reject" in done.text
    # after deciding, the page shows the decision, and no form that could only be refused
    assert "Your check (approve) is recorded" in done.text
    assert 'id="my-check"' in done.text and "small cells suppressed" in done.text
    assert f'action="/portal/checker/requests/{rid2}/decide"' not in done.text
    again = e.client.post(f"/portal/checker/requests/{rid2}/decide", data={
        "decision": "approve", "reason": "twice", "csrf_token": token})
    # one vote per checker, as in the API: said on the page, never a bare 409 page
    assert again.status_code == 200
    assert "Your check was not recorded: you already checked the output" in again.text
    assert "1 approve, 0 reject" in again.text

    # "Who used my data": the steward sees both requests and the rows built.
    _sign_in(e, "steward")
    usage = e.client.get("/portal/steward").text.split('id="usage-h"', 1)[1]
    assert rid in usage and rid2 in usage and '<td class="num">12</td>' in usage


def test_researcher_regroups_after_failed_checks(env: ApiEnv, tmp_path: Path) -> None:
    e = env
    rid = _submitted(e)
    _fulfilled(e, rid, tmp_path, [{"check": "k_anonymity", "passed": False,
                                   "detail": "3 cells below 11 by gender"}])
    _sign_in(e, "researcher")
    page = e.client.get(f"/portal/researcher/requests/{rid}").text
    assert "3 cells below 11 by gender" in page and 'name="keep" value="gender"' in page
    # what was asked, as the board's page shows it too (_request_facts.html)
    assert "<dt>Cohort LEAs</dt><dd>all</dd>" in page
    assert '<dt>Group by</dt><dd><ul class="variables"><li>Gender (gender)</li></ul></dd>' in page
    _sign_in(e, "board")
    board_page = e.client.get(f"/portal/board/requests/{rid}").text
    assert "<dt>Cohort LEAs</dt><dd>all</dd>" in board_page
    _sign_in(e, "researcher")
    forged = e.client.post(f"/portal/researcher/requests/{rid}/regroup", data={})
    assert forged.status_code == 403
    token = _token(e, f"/portal/researcher/requests/{rid}")
    done = e.client.post(f"/portal/researcher/requests/{rid}/regroup",
                         data={"csrf_token": token})  # nothing ticked: drop gender
    assert done.status_code == 200, done.text
    with e.sessions() as s:
        r = s.get(DataRequest, rid)
        assert r is not None and (r.status, list(r.group_by)) == ("approved", [])
    assert not (tmp_path / f"{rid}.c2cx").exists()  # the failed package is gone
    assert "failed its automated checks" not in done.text
