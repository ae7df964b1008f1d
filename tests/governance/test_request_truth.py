"""One truth per request (issue 27): the API answer, the researcher's portal pages, the public
log and the e-mail the service sends say the same stage, the same withheld variables with
their reasons, and the same reasons from stewards, board and checkers. A rejected output offers
no download anywhere.

Real app (TestClient), real governance store, real portal sessions, real mail delivery into a
Maildir (``C2C_MAIL_DIR``)."""

from __future__ import annotations

import email
import email.policy
import html
import mailbox
import re
from pathlib import Path

import pytest

from governance import extract_registry as gr
from governance.models import User
from governance.users import create_user, issue_key
from tests.api_support import LEA, ApiEnv, api_env
from tests.governance_fixtures import BACKENDS, clear_provider_review, make_store

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
BODY = {"kind": "aggregate", "title": "College going by gender",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"],
        "cohort": {"reporting_leas": [LEA]}}
COLLEGE = "Foothill Ridge College (951)"  # the generated registry's college without agreement
NAMED = "Enrolled in a community college within a year (cc_enrolled_within_1yr)"  # pages
REASONS = ["sound design (board 1)", "sound design (board 2)", "rates too precise (checker 1)",
           "a cell can be differenced (checker 2)", "fits our agreement"]


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path, generated: Path):  # type: ignore[no-untyped-def]
    with make_store(request.param, tmp_path) as url, api_env(
            url, tmp_path / "home", generated / "partners.csv",
            mail_dir=tmp_path / "mail") as e:
        with e.sessions.begin() as s:
            researcher = s.query(User).filter_by(name="researcher").one()
            researcher.email = "res@uni.example"
            for name in ("checker_1", "checker_2"):
                e.keys[name] = issue_key(s, create_user(s, name, ["checker"]).id).token
        yield e, tmp_path / "mail"


def _page(e: ApiEnv, who: str, path: str) -> str:
    e.client.cookies.clear()
    token = TOKEN.search(e.client.get("/portal/signin").text).group(1)  # type: ignore[union-attr]
    e.client.post("/portal/signin", data={"api_key": e.keys[who], "csrf_token": token})
    got = e.client.get(path)
    assert got.status_code == 200, got.text
    return html.unescape(got.text)


def _text(page: str, element_id: str) -> str:
    """The text of the element with this id (tags dropped, spaces collapsed)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|section|p|td)>', page, re.S)
    assert found, f"no #{element_id} on the page"
    text = re.sub(r"<(br|li|/li)[^>]*>", " ", found.group(1))
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def _mail_to(folder: Path, address: str) -> list[email.message.Message]:
    box = mailbox.Maildir(folder, create=False)
    found = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
             for m in box]
    return [m for m in found if m["To"] == address]  # type: ignore[misc]


def test_api_portal_log_and_mail_agree_on_a_rejected_output(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    e, mail = world
    rid = str(e.client.post("/v1/requests", json=BODY, headers=e.auth("researcher")).json()["id"])

    # Before submit: the variable a college without agreement feeds is named, with why.
    draft = e.client.get(f"/v1/requests/{rid}", headers=e.auth("researcher")).json()
    assert draft["stage"] == "draft"
    [withheld] = draft["withheld"]
    assert withheld["variable"] == "cc_enrolled_within_1yr"
    assert withheld["reason"] == f"{COLLEGE} has no active data-sharing agreement"
    page = _page(e, "researcher", f"/portal/researcher/requests/{rid}")
    assert f"{NAMED}: withheld because {withheld['reason']}" in _text(
        page, "withheld")

    # Submitted, reviewed, approved, built, then rejected by both checkers.
    assert e.client.post(f"/v1/requests/{rid}/submit",
                         headers=e.auth("researcher")).status_code == 200
    with e.sessions.begin() as s:
        clear_provider_review(s, rid)
    for n, member in enumerate(("board", "board_2"), start=1):
        assert e.client.post(f"/v1/board/requests/{rid}/decisions", headers=e.auth(member),
                             json={"decision": "approve",
                                   "reason": f"sound design (board {n})"}).status_code == 200
    package = tmp_path / f"{rid}.tar.age"
    package.write_bytes(b"stands in for the built package")
    with e.sessions.begin() as s:
        gr.mark_fulfilled(s, rid, gr.ExtractInfo(
            package_path=str(package), sha256="a" * 64,
            detail={"rows": 4, "output_checks": [{"check": "min_cell", "passed": True}]}))
    for who, why in (("checker_1", REASONS[2]), ("checker_2", REASONS[3])):
        voted = e.client.post(f"/v1/checker/requests/{rid}/decisions", headers=e.auth(who),
                              json={"decision": "reject", "reason": why})
        assert voted.status_code == 200, voted.text
    assert voted.json()["state"] == "rejected"

    # The API answer
    answer = e.client.get(f"/v1/requests/{rid}", headers=e.auth("researcher")).json()
    assert answer["stage"] == "rejected at checking"
    assert answer["withheld"] == [withheld]
    said = {r["reason"] for r in answer["reasons"]}
    assert set(REASONS) <= said
    assert e.client.get(f"/v1/requests/{rid}/extract",
                        headers=e.auth("researcher")).status_code == 409

    # The researcher's pages: same stage, same withheld variable and reason, every reason,
    # and no download offered.
    page = _page(e, "researcher", f"/portal/researcher/requests/{rid}")
    assert _text(page, "stage") == answer["stage"]
    assert f"{NAMED}: withheld because {withheld['reason']}" in _text(
        page, "withheld")
    reasons = _text(page, "reasons")
    assert all(r in reasons for r in REASONS)
    assert 'id="download"' not in page and "Download" not in page
    assert "nothing to download" in _text(page, "no-download")
    listing = _page(e, "researcher", "/portal/researcher")
    assert re.search(rf'{rid}</a>.*?<td class="stage">{answer["stage"]}</td>', listing, re.S)

    # The board's page and the checker's release report: same stage and withheld variable
    board = _page(e, "board", f"/portal/board/requests/{rid}")
    assert _text(board, "stage").startswith(answer["stage"] + " (")
    assert f"{NAMED}: withheld because {withheld['reason']}" in _text(
        board, "withheld")
    checker = _page(e, "checker_1", f"/portal/checker/requests/{rid}")
    assert f"{NAMED}: withheld because {withheld['reason']}" in " ".join(
        checker.split())

    # The public log (API and page)
    [entry] = [x for x in e.client.get("/v1/public/requests").json()["data"]
               if x["request_id"] == rid]
    assert entry["stage"] == answer["stage"]
    assert entry["withheld"] == [f"cc_enrolled_within_1yr: {withheld['reason']}"]
    log = html.unescape(e.client.get("/portal/public/requests").text)
    assert re.search(rf'{rid}</td>.*?<td class="stage">{answer["stage"]}</td>', log, re.S)
    assert f"{NAMED}: withheld because {withheld['reason']}" in log  # as on every page

    # The e-mail the researcher got at the rejection says the same stage, withheld variable
    # and reasons.
    [last] = [m for m in _mail_to(mail, "res@uni.example")
              if m["Subject"] == f"[C2C] {rid} is now: {answer['stage']}"]
    body = last.get_content()  # type: ignore[attr-defined]
    assert f"is now: {answer['stage']}." in body
    # named as on the pages, words and code (the code alone told a researcher little)
    assert f"- {NAMED}: {withheld['reason']}" in body
    assert all(r in body for r in REASONS)
