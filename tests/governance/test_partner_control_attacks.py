"""Issue 25's attacks on partner control and fulfilment, as the attacker ran them (each failed
against the service before this change): filter on an objecting partner's variable; build
after the partner's agreement was terminated; poison fulfilment with one bad request."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.keys import KeyProvider
from core.partners import AgreementStatus
from core.warehouse import open_warehouse
from governance import request_lifecycle as gr
from governance.models import DataRequest
from governance.partners import record_agreement
from services.fulfil import fulfil_approved
from tests.governance.test_partner_control import (
    BODY,
    COLLEGE,
    LEA1,
    LEA2,
    Inbox,
    World,
    _expire_window,
    smtp,  # noqa: F401 (the mail server fixture)
    world,
)


def _approved(w: World, body: dict, *, objecting: tuple[str, ...] = ()) -> str:
    """Submit ``body``; stewards of ``objecting`` object, the others approve; the board
    approves."""
    status, created = w.call("POST", "/v1/requests", "res", json=body)
    assert status == 201, created
    rid = created["id"]
    _, submitted = w.call("POST", f"/v1/requests/{rid}/submit", "res")
    stewards = {LEA1: "st1", LEA2: "st2", COLLEGE: "stc"}
    for review in submitted["provider_reviews"]:
        org = review["org_code"]
        decision = "object" if org in objecting else "approve"
        assert w.call("POST", f"/v1/steward/reviews/{rid}", stewards[org],
                      json={"decision": decision, "reason": "our decision"})[0] == 200
    _expire_window(w, rid)
    for member in ("b1", "b2"):
        answer = w.call("POST", f"/v1/board/requests/{rid}/decisions", member,
                        json={"decision": "approve", "reason": "fine"})
        assert answer[0] == 200, answer
    return rid


def _fulfil(w: World) -> tuple[list[str], dict[str, str]]:
    outcome = fulfil_approved(
        settings=w.settings, sessions=w.sessions,
        keys=KeyProvider(w.settings.master_key_path, w.settings.keyring_path))
    return [r.request_id for r in outcome.built], {f.request_id: f.reason
                                                   for f in outcome.failed}


def _use_warehouse(w: World) -> None:
    """fulfil_approved opens the deployment's (encrypted) warehouse: the world's plain test
    file is copied into it."""
    w.settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = open_warehouse(w.settings)
    try:
        con.execute(f"ATTACH '{w.warehouse}' AS plain (READ_ONLY)")
        con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        for table in ("student_year", "aggregates"):
            con.execute(f"CREATE TABLE analytics.{table} AS "
                        f"SELECT * FROM plain.analytics.{table}")
        con.execute("DETACH plain")
    finally:
        con.close()


def test_attack_filter_on_an_objecting_partners_variable(tmp_path: Path,
                                                         smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    """The college objected; the cohort still filtered on its variable (students who enrolled
    in college). A filter is the partner's data too: the build must refuse it, and the
    request is marked failed with the reason, never built on a wider cohort."""
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        body = {**BODY, "variables": ["cte_participant"], "group_by": [],
                "cohort": {**BODY["cohort"],
                           "subgroup_equals": {"cc_enrolled_within_1yr": True}}}
        rid = _approved(w, body, objecting=(COLLEGE,))
        with w.sessions() as s:
            [approved] = gr.requests_ready_for_fulfilment(s)
        assert "cc_enrolled_within_1yr" in approved.withheld_variables
        _use_warehouse(w)
        built, failed = _fulfil(w)
        assert built == []
        assert "cc_enrolled_within_1yr" in failed[rid] and "withheld" in failed[rid]
        with w.sessions() as s:
            request = s.get(DataRequest, rid)
            assert request is not None and request.extract is None
            assert gr.fulfilment_failure(s, rid) == failed[rid]
        _, mine = w.call("GET", f"/v1/requests/{rid}", "res")
        assert mine["status"] == "approved" and "cc_enrolled_within_1yr" in mine["build_failure"]


def test_attack_build_after_the_agreement_was_terminated(tmp_path: Path,
                                                         smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    """LEA1 approved, then terminated its agreement before the build: its students must not
    be built; then LEA2's agreement ends after the build: the output is held."""
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        rid = _approved(w, {**BODY, "group_by": []})
        with w.sessions.begin() as s:
            record_agreement(s, LEA1, AgreementStatus.TERMINATED, date(2024, 7, 1),
                             date.today(), "terminated after approval")
        with w.sessions() as s:
            [approved] = gr.requests_ready_for_fulfilment(s)
        assert LEA1 in approved.cohort.excluded_leas and approved.lapsed_partners == [LEA1]
        _use_warehouse(w)
        built, failed = _fulfil(w)
        assert built == [rid] and failed == {}
        _, report = w.call("GET", f"/v1/checker/requests/{rid}", "c1")
        assert report["detail"]["lapsed_partners"] == [LEA1]
        assert LEA1 in report["detail"]["excluded_partners"]
        # and at release: LEA2's agreement expires now; checking and download are held
        with w.sessions.begin() as s:
            record_agreement(s, LEA2, AgreementStatus.EXPIRED, date(2024, 7, 1),
                             date(2025, 6, 30), "expired")
        held = w.call("POST", f"/v1/checker/requests/{rid}/decisions", "c1",
                      json={"decision": "approve", "reason": "fine"})
        assert held[0] == 409 and LEA2 in held[1]["error"]["message"]
        download = w.call("GET", f"/v1/requests/{rid}/extract", "res")
        assert download[0] == 409 and "agreement" in download[1]["error"]["message"]


def test_attack_poison_fulfilment(tmp_path: Path,
                                  smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    """An individual request with no quasi-identifier made every `c2c fulfil` exit 1 and no
    later request was ever built. Now it is built, and a request that truly cannot be built
    is marked failed while the next one is built."""
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        no_qi = _approved(w, {**BODY, "kind": "individual", "variables": ["cte_participant"],
                              "group_by": [], "training_attested": True,
                              "irb_reference": "IRB-9"})
        bad = _approved(w, {**BODY, "variables": ["cte_participant"], "group_by": [],
                            "cohort": {**BODY["cohort"],
                                       "subgroup_equals": {"cc_enrolled_within_1yr": True}}},
                        objecting=(COLLEGE,))
        good = _approved(w, {**BODY, "group_by": []})
        _use_warehouse(w)
        built, failed = _fulfil(w)
        assert built == [no_qi, good]
        assert list(failed) == [bad]
        # a second run builds nothing again and fails nothing again: the failed job left the
        # queue with its reason
        assert _fulfil(w) == ([], {})
