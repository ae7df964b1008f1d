"""The researcher's request form (issue 27): a refused Submit keeps the form and creates
nothing; drafts can be edited; the variables the output would not hold are named with their
reason before anything is submitted. Real app, real store, real portal session."""

from __future__ import annotations

import html
import re

from tests.api_support import ApiEnv

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = {"kind": "aggregate", "title": "College going by gender",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"]}


def _signed_in(e: ApiEnv) -> str:
    e.client.cookies.clear()
    token = TOKEN.search(e.client.get("/portal/signin").text).group(1)  # type: ignore[union-attr]
    e.client.post("/portal/signin", data={"api_key": e.keys["researcher"], "csrf_token": token})
    return TOKEN.search(e.client.get("/portal/researcher/new").text).group(1)  # type: ignore[union-attr]


def _mine(e: ApiEnv) -> list[dict[str, object]]:
    got = e.client.get("/v1/requests", headers=e.auth("researcher"))
    assert got.status_code == 200
    return list(got.json()["data"])  # one page of the researcher's requests


def test_a_refused_submit_keeps_the_form_and_creates_nothing(env: ApiEnv) -> None:
    token = _signed_in(env)
    refused = env.client.post("/portal/researcher/new", data={
        **FORM, "kind": "individual", "group_by": [], "variables": ["cte_completer"],
        "title": "Needs an IRB first", "action": "submit", "csrf_token": token})
    assert refused.status_code == 422
    page = html.unescape(refused.text)
    assert "not submitted, nothing was saved" in page
    assert "individual-level requests need an IRB approval reference" in page
    assert 'value="Needs an IRB first"' in page  # what was typed is still there
    assert _mine(env) == []  # no orphan draft


def test_a_draft_can_be_edited_then_submitted(env: ApiEnv) -> None:
    token = _signed_in(env)
    saved = env.client.post("/portal/researcher/new",
                            data={**FORM, "action": "draft", "csrf_token": token})
    assert saved.status_code == 200
    [draft] = _mine(env)
    rid = str(draft["id"])
    assert 'id="edit"' in saved.text and "saved as a draft" in saved.text
    form = html.unescape(env.client.get(f"/portal/researcher/requests/{rid}/edit").text)
    assert 'value="College going by gender"' in form
    assert f'action="/portal/researcher/requests/{rid}/edit"' in form
    assert re.search(r'value="cc_enrolled_within_1yr"\s+checked', form)
    env.client.post(f"/portal/researcher/requests/{rid}/edit", data={
        **FORM, "title": "College going by gender, 2023", "variables": ["cte_completer"],
        "action": "draft", "csrf_token": token})
    [edited] = _mine(env)
    assert (edited["id"], edited["title"], edited["variables"]) == (
        rid, "College going by gender, 2023", ["cte_completer"])
    env.client.post(f"/portal/researcher/requests/{rid}/edit", data={
        **FORM, "title": "College going by gender, 2023", "variables": ["cte_completer"],
        "action": "submit", "csrf_token": token})
    [submitted] = _mine(env)
    assert (submitted["status"], submitted["stage"]) == ("submitted", "awaiting review")
    # no longer a draft: the edit page says so instead of offering a form
    again = env.client.get(f"/portal/researcher/requests/{rid}/edit")
    assert "no longer a draft" in html.unescape(again.text)


def test_withheld_variables_are_named_before_submit(env: ApiEnv) -> None:
    token = _signed_in(env)
    preview = html.unescape(env.client.post("/portal/researcher/new", data={
        **FORM, "action": "preview", "csrf_token": token}).text)
    section = preview.split('id="withheld-before"', 1)[1].split("</div>", 1)[0]
    assert ("Enrolled in a community college within a year (cc_enrolled_within_1yr)"
            "</strong>: withheld because Foothill Ridge College (951) "
            "has no active data-sharing agreement") in section
    assert "cte_completer" not in section  # only what is withheld is listed
