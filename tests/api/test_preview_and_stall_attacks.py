"""Issue 25's attacks on the preview and on availability, written as the attacker ran them
(each failed against the service before the egress gate): recover suppressed cells of the
published snapshot through ``POST /v1/requests/preview``; spend no budget doing it; stall
everyone with a huge cohort or a list without pages; hold the governance store's write lock
with a slow preview."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from analytics.publish import publish
from core.warehouse import open_warehouse
from governance.models import AuditEntry
from tests.api_support import ApiEnv
from tests.deid_support import student_year_sql

PREVIEW = "/v1/requests/preview"


def _world(e: ApiEnv) -> None:
    """A warehouse and the snapshot published from it (the API's choices come from it)."""
    con = open_warehouse(e.settings)
    try:
        con.execute(student_year_sql(300, years=2))
        publish(con, e.settings.serving_path, min_cell=11)
    finally:
        con.close()
    e.client.get("/v1/snapshot")  # the API reopens the replaced file


def _truth(e: ApiEnv, sql: str, params: list[Any]) -> tuple[Any, ...]:
    con = open_warehouse(e.settings, read_only=True)  # as the API's preview opens it
    try:
        row = con.execute(sql, params).fetchone()
    finally:
        con.close()
    assert row is not None
    return tuple(row)


def _hidden_cells(e: ApiEnv, metric: str, limit: int) -> list[tuple[str, str]]:
    """Suppressed LEA cells of the published snapshot, read as the public reads them."""
    page = e.client.get(f"/v1/aggregates?metric={metric}&subgroup=all&limit=1000").json()
    return sorted((r["academic_year"], r["reporting_lea"]) for r in page["data"]
                  if r["suppressed"] and r["reporting_lea"] != "STATE")[:limit]


def _exact(value: Any) -> int | None:
    """What the attacker reads as an exact count: a bare integer in the answer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def test_attack_recover_suppressed_cells_through_the_preview(env: ApiEnv) -> None:
    """Numerator: the LEA-year's leavers who graduated; denominator: its leavers. The old
    preview answered both exactly, and so every suppressed hs_graduate cell came back."""
    e = env
    _world(e)
    hidden = _hidden_cells(e, "hs_graduate", 12)
    assert len(hidden) >= 6
    recovered = 0
    refusals = []
    for year, lea in hidden:
        cohort = {"academic_years": [year], "reporting_leas": [lea]}
        num = e.client.post(PREVIEW, headers=e.auth("researcher"), json={
            "kind": "aggregate", "variables": ["hs_graduate"],
            "cohort": {**cohort, "subgroup_equals": {"hs_leaver": True, "hs_graduate": True}}})
        den = e.client.post(PREVIEW, headers=e.auth("researcher"), json={
            "kind": "aggregate", "variables": ["hs_graduate"],
            "cohort": {**cohort, "subgroup_equals": {"hs_leaver": True}}})
        truth = _truth(e, "SELECT count(*) FILTER (WHERE hs_leaver AND hs_graduate), "
                       "count(*) FILTER (WHERE hs_leaver) FROM analytics.student_year "
                       "WHERE academic_year = ? AND reporting_lea = ?", [year, lea])
        got = (_exact(num.json().get("cohort_rows")) if num.status_code == 200 else None,
               _exact(den.json().get("cohort_rows")) if den.status_code == 200 else None)
        recovered += got == truth
        refusals.append((num.status_code, "cohort.subgroup_equals" in num.text))
    assert recovered == 0, f"{recovered} of {len(hidden)} suppressed cells recovered"
    # outcome variables cannot filter a preview's cohort; the refusal names the field
    assert set(refusals) == {(422, True)}


def test_attack_a_subgroup_cohort_gets_a_band_never_a_count(env: ApiEnv) -> None:
    """Without outcome filters: the girls of one LEA-year are a hidden denominator of the
    snapshot; the preview must not give their number."""
    e = env
    _world(e)
    year, lea = _hidden_cells(e, "cte_participant", 1)[0]
    answer = e.client.post(PREVIEW, headers=e.auth("researcher"), json={
        "kind": "individual", "variables": ["cte_completer"],
        "cohort": {"academic_years": [year], "reporting_leas": [lea],
                   "subgroup_equals": {"gender": "F"}}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    for name in ("cohort_rows", "expected_rows", "persons", "suppressed_rows"):
        assert _exact(body[name]) is None, (name, body[name])
        assert set(body[name]) == {"low", "high", "label"}
    assert body["cohort_rows"]["label"] == "fewer than 15"


def test_the_preview_audit_entry_holds_the_cohort(env: ApiEnv) -> None:
    e = env
    _world(e)
    cohort = {"academic_years": ["2020-21"], "subgroup_equals": {"gender": "F"}}
    e.client.post(PREVIEW, headers=e.auth("researcher"),
                  json={"kind": "aggregate", "variables": ["cte_completer"], "cohort": cohort})
    with e.sessions() as s:
        entry = s.query(AuditEntry).filter(AuditEntry.action == "request.preview") \
            .order_by(AuditEntry.seq.desc()).first()
    assert entry is not None and entry.actor == "researcher"
    assert '"subgroup_equals":{"gender":"F"}' in entry.detail.replace(" ", "")
    assert "2020-21" in entry.detail


@pytest.mark.slow
def test_attack_query_budget_per_researcher_and_per_cohort(env: ApiEnv) -> None:
    """Thousands of previews were free. Now a cohort population (years x LEAs) gets 30 a day
    whoever asks, and a researcher 100."""
    e = env
    _world(e)
    body = {"kind": "aggregate", "variables": ["cte_completer"],
            "cohort": {"academic_years": ["2020-21"]}}
    for _ in range(30):
        assert e.client.post(PREVIEW, headers=e.auth("researcher"), json=body).status_code == 200
    other = e.client.post(PREVIEW, headers=e.auth("researcher_2"), json=body)
    assert other.status_code == 429 and "cohort" in other.json()["error"]["message"]
    wider = {**body, "cohort": {"academic_years": ["2021-22"]}}
    both = {**body, "cohort": {"academic_years": ["2020-21", "2021-22"]}}
    for cohort_body in (wider, both):
        for _ in range(30):
            e.client.post(PREVIEW, headers=e.auth("researcher"), json=cohort_body)
    leas = {**body, "cohort": {}}
    answers = [e.client.post(PREVIEW, headers=e.auth("researcher"), json=leas).status_code
               for _ in range(12)]
    assert answers.count(200) == 10 and answers[-1] == 429  # 100 a researcher


def test_attack_stall_with_a_huge_cohort_and_an_unpaged_list(env: ApiEnv) -> None:
    e = env
    body = {"kind": "aggregate", "title": "Huge", "purpose": "A cohort nobody can read",
            "variables": ["cte_completer"],
            "cohort": {"excluded_leas": [f"{i:07d}" for i in range(5000)]}}
    huge = e.client.post("/v1/requests", headers=e.auth("researcher"), json=body)
    assert huge.status_code == 422, huge.status_code
    small = {**body, "cohort": {}}
    for _ in range(3):
        assert e.client.post("/v1/requests", headers=e.auth("researcher"),
                             json=small).status_code == 201
    page = e.client.get("/v1/requests?limit=2", headers=e.auth("researcher"))
    assert page.status_code == 200
    assert page.json()["count"] == 3 and len(page.json()["data"]) == 2
    rest = e.client.get("/v1/requests?limit=2&offset=2", headers=e.auth("researcher")).json()
    assert len(rest["data"]) == 1


def test_a_slow_preview_holds_no_write_lock(env: ApiEnv, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    """The preview ran inside the route's write transaction: 41-57 s of "database is locked"
    for everyone else. While a preview runs, another writer must get in at once."""
    e = env
    if not e.settings.governance_url.startswith("sqlite"):
        pytest.skip("the write lock under test is SQLite's")
    _world(e)
    import services.preview as use_case

    real = use_case.preview
    seen: list[str] = []

    def slow_preview(*args: Any, **kwargs: Any) -> Any:
        path = e.settings.governance_url.split("///", 1)[1]
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            seen.append("wrote")
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        finally:
            other.close()
        return real(*args, **kwargs)

    monkeypatch.setattr(use_case, "preview", slow_preview)
    answer = e.client.post(PREVIEW, headers=e.auth("researcher"), json={
        "kind": "aggregate", "variables": ["cte_completer"]})
    assert answer.status_code == 200, answer.text
    assert seen == ["wrote"]


def test_an_individual_preview_without_quasi_identifiers_works(env: ApiEnv) -> None:
    """It answered 500 (the build's ``ORDER BY ''``)."""
    e = env
    _world(e)
    answer = e.client.post(PREVIEW, headers=e.auth("researcher"),
                           json={"kind": "individual", "variables": ["cte_completer"]})
    assert answer.status_code == 200, answer.text
