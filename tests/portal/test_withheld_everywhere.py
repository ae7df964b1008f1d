"""A withheld variable is named with its reason wherever a request's variables are listed
(issue 27, "one truth per fact"): on the request form beside its checkbox before it is ticked,
and in the variables row of the researcher's, the board's and the steward's pages; the release
report lists only what the output holds. Each page is checked against what the API says
(``withheld``: [{variable, reason}], from ``governance.request_facts.withheld_variables``).
Real app, real store, real portal sessions, plain HTTP (no JavaScript: the pages are
server-rendered)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.keys import KeyProvider
from core.warehouse import open_warehouse
from governance import request_lifecycle as gr
from governance.extract_registry import ExtractInfo, individual_extracts, mark_fulfilled
from governance.users import create_user, issue_key
from services.fulfil import build_package, extract_detail
from tests.api_support import LEA, ApiEnv
from tests.deid_support import student_year_sql
from tests.governance_fixtures import clear_provider_review

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CC = "cc_enrolled_within_1yr"
REQUEST = {"kind": "aggregate", "title": "College going by gender",
           "purpose": "Does CTE completion predict community college enrollment?",
           "variables": ["cte_completer", CC], "group_by": ["gender"]}


@pytest.fixture
def world(env: ApiEnv) -> ApiEnv:
    """The API env with a warehouse to preview and build from, a steward of ``LEA`` and two
    output checkers."""
    con = open_warehouse(env.settings)
    con.execute(student_year_sql(300, years=2))
    con.close()
    with env.sessions.begin() as s:
        for name, roles, org in [("steward", ["steward"], LEA), ("checker", ["checker"], None),
                                 ("checker_2", ["checker"], None)]:
            env.keys[name] = issue_key(s, create_user(s, name, roles, org).id).token
    return env


def _page(e: ApiEnv, who: str | None, path: str) -> str:
    """``path`` as ``who`` (None: the public) sees it in the portal, unescaped, tags kept."""
    e.client.cookies.clear()
    if who is not None:
        token = TOKEN.search(e.client.get("/portal/signin").text).group(1)  # type: ignore[union-attr]
        e.client.post("/portal/signin", data={"api_key": e.keys[who], "csrf_token": token})
    got = e.client.get(path)
    assert got.status_code == 200, (path, got.status_code)
    return html.unescape(got.text)


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def _row(page: str, label: str) -> list[str]:
    """The text of every ``<dt>label</dt><dd>...</dd>`` on the page."""
    return [_text(m) for m in re.findall(rf"<dt>{re.escape(label)}</dt><dd[^>]*>(.*?)</dd>",
                                         page, re.S)]


def _api_withheld(e: ApiEnv, rid: str) -> dict[str, str]:
    got = e.client.get(f"/v1/requests/{rid}", headers=e.auth("researcher"))
    assert got.status_code == 200, got.text
    return {w["variable"]: w["reason"] for w in got.json()["withheld"]}


def test_the_form_marks_each_variable_it_would_withhold_before_it_is_ticked(
        world: ApiEnv) -> None:
    e = world
    form = _page(e, "researcher", "/portal/researcher/new")  # nothing ticked yet
    marks = {m.group(1): _text(m.group(2)) for m in re.finditer(
        r'<span class="would-withhold" data-variable="([^"]+)">(.*?)</span>', form, re.S)}
    assert CC in marks and "cte_completer" not in marks
    # the API's preview of the same variables withholds exactly these, for the same reasons
    marked = sorted(marks)
    variables = [v for v in marked if v != "academic_year"] + ["cte_completer"]
    preview = e.client.post("/v1/requests/preview", headers=e.auth("researcher"), json={
        "kind": "aggregate", "variables": variables, "group_by": ["gender"]})
    assert preview.status_code == 200, preview.text
    said = {w["variable"]: w["reason"] for w in preview.json()["withheld"]}
    assert said[CC] == "Foothill Ridge College (951) has no active data-sharing agreement"
    assert {v: f"withheld because {why}" for v, why in said.items()} == {
        v: why for v, why in marks.items() if v in variables}
    # beside the checkbox, inside its label (read with it), in both fieldsets
    assert re.search(rf'<label[^>]*><input type="checkbox" name="variables" value="{CC}"\s*>'
                     rf'[^<]*<span class="would-withhold" data-variable="{CC}">', form)
    assert re.search(rf'<input type="checkbox" name="group_by" value="{CC}"\s*>'
                     rf'[^<]*<span class="would-withhold" data-variable="{CC}">', form)


def _built(e: ApiEnv) -> None:
    """What the pipeline's research_extracts asset does for the request at quorum."""
    keys = KeyProvider(e.settings.master_key_path, e.settings.keyring_path)
    with e.sessions.begin() as s:
        [ready] = gr.requests_ready_for_fulfilment(s)
        con = open_warehouse(e.settings)
        try:
            result = build_package(con, ready, keys, e.settings.extracts_dir, min_cell=11, k=11,
                                   earlier_extracts=individual_extracts(
                                       s, excluding=ready.request_id))
        finally:
            con.close()
        mark_fulfilled(s, ready.request_id, ExtractInfo(
            package_path=str(result.package_path), sha256=result.package_sha256,
            expires_at=result.expires_at, detail=extract_detail(ready, result, min_cell=11)))


def test_every_variables_row_says_what_the_api_says_is_withheld(world: ApiEnv) -> None:
    e = world
    created = e.client.post("/v1/requests", json=REQUEST, headers=e.auth("researcher"))
    assert created.status_code == 201, created.text
    rid = str(created.json()["id"])
    researcher = f"/portal/researcher/requests/{rid}"
    draft = _api_withheld(e, rid)
    assert list(draft) == [CC]
    said = f"(cc_enrolled_within_1yr): withheld because {draft[CC]}"
    [row] = _row(_page(e, "researcher", researcher), "Variables")
    assert row.startswith("Completed a CTE pathway (cte_completer) ") and row.endswith(said)

    assert e.client.post(f"/v1/requests/{rid}/submit",
                         headers=e.auth("researcher")).status_code == 200
    withheld = _api_withheld(e, rid)
    assert withheld == draft  # no steward objected: the agreements' answer stands
    pages = {"researcher": researcher, "board": f"/portal/board/requests/{rid}",
             "steward": "/portal/steward"}
    for who, path in pages.items():
        rows = _row(_page(e, who, path), "Variables")
        assert len(rows) == 1, (who, rows)
        assert rows[0].endswith(said) and "cte_completer)" in rows[0], (who, rows[0])
        assert rows[0].count("withheld") == 1, (who, rows[0])  # cte_completer is delivered

    # "Cohort LEAs: all", yet the LEAs without an agreement are kept out: the page says so
    [kept_out] = _row(_page(e, "researcher", researcher), "Records kept out")
    refused = {r["org_code"] for r in e.client.get(f"/v1/requests/{rid}", headers=e.auth(
        "researcher")).json()["provider_reviews"] if r["status"] == "no_agreement"}
    assert {"4369369", "5472462"} <= refused  # LEAs of the generated registry
    said_out = set(re.findall(r"\((\w+)\): no agreement", kept_out))
    assert said_out == {"4369369", "5472462"}  # the college withholds variables, not rows

    with e.sessions.begin() as s:
        clear_provider_review(s, rid)
    for who in ("board", "board_2"):
        assert e.client.post(f"/v1/board/requests/{rid}/decisions", headers=e.auth(who), json={
            "decision": "approve", "reason": f"in order ({who})"}).status_code == 200
    _built(e)
    checker = _page(e, "checker", f"/portal/checker/requests/{rid}")
    board = _page(e, "board", f"/portal/board/requests/{rid}")
    # the release report says the same on both pages: the withheld variable with the API's
    # reason, and only what the output holds (an aggregate's outcomes are its metric column)
    for label in ("Withheld by an agreement (not in the output at all)",
                  "Columns of the table (data.csv)", "Cells (rows of data.csv)"):
        assert _row(checker, label) == _row(board, label), label
    [withheld_row] = _row(checker, "Withheld by an agreement (not in the output at all)")
    assert withheld_row.endswith(f"withheld because {_api_withheld(e, rid)[CC]}")
    [built_out] = _row(checker, "Partners whose records were kept out")
    assert said_out <= set(re.findall(r"\((\w+)\)", built_out))  # as the build did
    [columns] = _row(checker, "Columns of the table (data.csv)")
    assert columns.startswith("Gender (gender), metric, ") and CC not in columns
    cells = _text(checker.split('id="output-table"', 1)[1].split("</table>", 1)[0])
    assert "cte_completer" in cells and CC not in cells
    [row] = _row(board, "Variables")
    assert row.endswith(f"(cc_enrolled_within_1yr): withheld because {_api_withheld(e, rid)[CC]}")
    # the board reads the requester's earlier request in the stage words (its record says
    # "fulfilled" for every built output), as the public log does
    later = e.client.post("/v1/requests", json={**REQUEST, "title": "Later"},
                          headers=e.auth("researcher")).json()["id"]
    assert e.client.post(f"/v1/requests/{later}/submit",
                         headers=e.auth("researcher")).status_code == 200
    stage = e.client.get(f"/v1/requests/{rid}", headers=e.auth("researcher")).json()["stage"]
    assert stage == "awaiting checks"
    earlier = _page(e, "board", f"/portal/board/requests/{later}")
    assert f"<li>{rid}: College going by gender ({stage})</li>" in earlier
    # the checker's pages say the same stage word, not the release state's own words
    assert _row(checker, "Status") == [stage]
    queue = _page(e, "checker", "/portal/checker")
    assert re.search(rf'{rid}</a></td>.*?<td class="stage">{stage}</td>', queue, re.S)
    log = _page(e, None, "/portal/public/requests")
    assert re.search(rf'{rid}</td>.*?<td class="stage">{stage}</td>', log, re.S)
    assert "<th scope=\"col\">Fulfilled</th>" not in log  # built is not delivered


def _reviews_row(page: str) -> dict[str, str]:
    """The researcher's "Partners' review" row as {code: status}."""
    [row] = _row(page, "Partners' review")
    return {m.group(1): m.group(2) for m in re.finditer(r"\((\w+)\): ([a-z ]+?)(?:;|$)", row)}


def test_a_closed_review_window_reads_the_same_on_every_page_and_in_the_api(
        world: ApiEnv) -> None:
    """After the window closes unanswered, the API says silent_objection; the pages said
    "pending", the board's Approve stayed disabled and "what happens next" still waited on
    the stewards (named by bare codes) while the variables row said why it was withheld."""
    e = world
    body = {**REQUEST, "cohort": {"reporting_leas": [LEA]}}
    rid = str(e.client.post("/v1/requests", json=body, headers=e.auth("researcher")).json()["id"])
    assert e.client.post(f"/v1/requests/{rid}/submit",
                         headers=e.auth("researcher")).status_code == 200
    researcher = f"/portal/researcher/requests/{rid}"
    [step] = _row(_page(e, "researcher", researcher), "What happens next")
    assert "Central Valley Unified School District (1062166)" in step  # names with codes
    with e.sessions.begin() as s:  # the window passes (business days are not waited for)
        s.execute(sa.text("UPDATE data_requests SET review_due_at = :t WHERE id = :id"),
                  {"t": (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None),
                   "id": rid})
    got = e.client.get(f"/v1/requests/{rid}", headers=e.auth("researcher")).json()
    api = {r["org_code"]: r["status"].replace("_", " ") for r in got["provider_reviews"]}
    assert "silent objection" in api.values() and "pending" not in api.values()
    page = _page(e, "researcher", researcher)
    assert _reviews_row(page) == api
    [step] = _row(page, "What happens next")
    assert "review the use of their records first" not in step
    [variables] = _row(page, "Variables")
    assert variables.endswith(f"withheld because {_api_withheld(e, rid)[CC]}")
    assert "did not answer in the review window" in variables
    board = _page(e, "board", f"/portal/board/requests/{rid}")
    shown = dict(re.findall(r"<li>[^<]*\((\w+)\): ([a-z ]+)", board.split('id="prov-h"')[1]))
    assert shown == api
    assert 'id="review-open"' not in board
    assert not re.search(r'value="approve"[^>]*disabled', board)  # the API would accept it
