"""The disclosure preview (``POST /v1/requests/preview``, ``GET /v1/board/requests/{id}/preview``
and the portal pages) says what fulfilment will do: checked against the real build."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.keys import KeyProvider
from core.requests import ApprovedRequest, RequestKind
from core.warehouse import open_warehouse
from governance.extract_registry import individual_extracts
from services.fulfil import build_package
from tests.api_support import ApiEnv
from tests.deid_support import student_year_sql

INDIVIDUAL = {"kind": "individual",
              "variables": ["birth_year", "gender", "race_ethnicity", "school_code",
                            "cte_completer"]}
AGGREGATE = {"kind": "aggregate", "variables": ["cte_completer"],
             "group_by": ["gender", "race_ethnicity", "birth_year"]}


def _warehouse(e: ApiEnv) -> None:
    con = open_warehouse(e.settings)
    con.execute(student_year_sql(300, years=2))
    con.close()


def _built(e: ApiEnv, body: dict) -> object:
    request = ApprovedRequest(request_id="R-preview", kind=RequestKind(body["kind"]), title="t",
                              purpose="p", variables=body["variables"],
                              group_by=body.get("group_by", []),
                              expires_at=datetime.now(UTC) + timedelta(days=3), requester="r")
    keys = KeyProvider(e.settings.master_key_path, e.settings.keyring_path)
    with e.sessions() as session:
        earlier = individual_extracts(session, excluding=request.request_id)
    con = open_warehouse(e.settings)
    try:
        return build_package(con, request, keys, e.settings.extracts_dir, min_cell=11, k=11,
                             earlier_extracts=earlier)
    finally:
        con.close()


def in_band(band: dict, count: int) -> bool:
    """A band is of the cell-key rounded count: the true count is within 4 of its edges."""
    if band["low"] is None:
        return count <= 14
    return band["low"] - 4 <= count and (band["high"] is None or count <= band["high"] + 4)


def test_individual_preview_matches_the_built_extract(env: ApiEnv) -> None:
    e = env
    _warehouse(e)
    got = e.client.post("/v1/requests/preview", json=INDIVIDUAL, headers=e.auth("researcher"))
    assert got.status_code == 200, got.text
    shown = got.json()
    # every number is a band from the egress gate (issue 25), never the count
    assert shown["cohort_rows"]["label"] == "100-999" and shown["k"] == 11
    built = _built(e, INDIVIDUAL)
    assert in_band(shown["expected_rows"], built.rows)  # type: ignore[attr-defined]
    assert in_band(shown["suppressed_rows"], built.suppressed_rows)  # type: ignore[attr-defined]
    rungs = built.disclosure.generalisations  # type: ignore[attr-defined]
    # a quasi-identifier released as '*' is "masked" (disclosure control); "withheld" is only
    # what an agreement keeps out, as on the request's page
    assert shown["masked"] == [q for q, r in rungs.items() if r == "withheld"]
    assert shown["withheld"] == []
    assert shown["generalised"] == {q: r for q, r in rungs.items()
                                    if r not in (q, "withheld")}
    assert shown["masked"] or shown["generalised"]  # school_code cannot stay as it is


COLLEGE = "Foothill Ridge College (951)"  # the generated registry's college without agreement


def test_preview_names_withheld_variables_and_leaves_them_out_of_every_figure(
        env: ApiEnv) -> None:
    """A cc_* variable comes from a college without an agreement: the preview names it with
    the reason the request's page gives and counts what fulfilment would build without it."""
    e = env
    _warehouse(e)
    asked = {"kind": "aggregate", "variables": ["cte_completer", "cc_enrolled_within_1yr"],
             "group_by": ["gender", "cc_award_earned"]}
    shown = e.client.post("/v1/requests/preview", json=asked,
                          headers=e.auth("researcher")).json()
    reason = f"{COLLEGE} has no active data-sharing agreement"
    assert shown["withheld"] == [{"variable": "cc_enrolled_within_1yr", "reason": reason},
                                 {"variable": "cc_award_earned", "reason": reason}]
    without = e.client.post("/v1/requests/preview", headers=e.auth("researcher"), json={
        "kind": "aggregate", "variables": ["cte_completer"], "group_by": ["gender"]}).json()
    for figure in ("cells", "suppressed_cells", "expected_rows", "cohort_rows"):
        assert shown[figure] == without[figure], figure
    # the same function the request's page uses: a draft of it says the same
    rid = e.client.post("/v1/requests", headers=e.auth("researcher"), json={
        **asked, "title": "Withheld check", "purpose": "Checking the preview's withheld list"}
        ).json()["id"]
    answer = e.client.get(f"/v1/requests/{rid}", headers=e.auth("researcher")).json()
    assert answer["withheld"] == shown["withheld"]
    # the board's preview of the stored request says the same
    e.client.post(f"/v1/requests/{rid}/submit", headers=e.auth("researcher"))
    board = e.client.get(f"/v1/board/requests/{rid}/preview", headers=e.auth("board")).json()
    assert board["withheld"] == shown["withheld"] and board["cells"] == shown["cells"]
    # nothing left once every variable chosen is withheld: said, not counted
    only = e.client.post("/v1/requests/preview", headers=e.auth("researcher"), json={
        "kind": "aggregate", "variables": ["cc_award_earned"]})
    assert only.status_code == 422 and "every variable chosen is withheld" in only.text


def test_aggregate_preview_counts_suppressed_cells(env: ApiEnv) -> None:
    e = env
    _warehouse(e)
    shown = e.client.post("/v1/requests/preview", json=AGGREGATE,
                          headers=e.auth("researcher")).json()
    assert shown["cells"]["low"] is not None and shown["suppressed_cells"]["low"] is not None
    assert shown["expected_rows"]["label"]


def test_preview_refuses_what_does_not_exist_and_other_roles(env: ApiEnv) -> None:
    e = env
    _warehouse(e)
    wrong_year = {**AGGREGATE, "cohort": {"academic_years": ["2023"]}}
    refused = e.client.post("/v1/requests/preview", json=wrong_year, headers=e.auth("researcher"))
    assert refused.status_code == 422 and "valid choices" in refused.json()["error"]["message"]
    assert e.client.post("/v1/requests/preview", json=AGGREGATE,
                         headers=e.auth("partner")).status_code == 403
    # the board previews a submitted request through its own route
    body = {**INDIVIDUAL, "title": "Preview check", "purpose": "Checking the board preview",
            "training_attested": True, "irb_reference": "IRB-1"}
    rid = e.client.post("/v1/requests", json=body, headers=e.auth("researcher")).json()["id"]
    e.client.post(f"/v1/requests/{rid}/submit", headers=e.auth("researcher"))
    board = e.client.get(f"/v1/board/requests/{rid}/preview", headers=e.auth("board"))
    assert board.status_code == 200 and board.json()["cohort_rows"]["label"] == "100-999"
