"""Partners keep control (issue 19): provider review, output checking, notifications.

The whole path on real stores (SQLite, and PostgreSQL when C2C_TEST_DATABASE_URL is set), a
real DuckDB warehouse file, real encryption, and a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core import catalog
from core.errors import C2CError, Conflict
from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from governance import audit, notify, output_release, provider_review
from governance import request_lifecycle as gr
from governance.db import make_engine
from governance.extract_registry import ExtractInfo, individual_extracts, mark_fulfilled
from governance.partners import import_partners_csv
from governance.users import create_user, issue_key
from services.fulfil import OUTPUT_CHECKS, build_package, extract_detail
from tests.governance_fixtures import BACKENDS, make_store

LEA1, LEA2, LEA3, COLLEGE = "1964733", "3467439", "0161119", "841"
YEAR = "2022-23"
PARTNERS = (
    "org_code,name,kind,charter,agreement_status,agreement_start,agreement_end,"
    "liaison_contact,data_security_contact,swp_rounds,silence_means,on_objection,"
    "permitted_purposes\n"
    f"{LEA1},North Unified,lea,false,executed,2024-07-01,2030-06-30,li1@north.ex,,1,,,\n"
    f"{LEA2},Harbor Charter,lea,true,executed,2024-07-01,2030-06-30,li2@harbor.ex,,1,"
    "objection,exclude,research\n"
    f"{LEA3},East Unified,lea,false,executed,2024-07-01,2030-06-30,li3@east.ex,,1,,,\n"
    f"{COLLEGE},Valley College,college,false,executed,2024-01-01,,ir@valley.ex,,1,"
    "consent,exclude,research;program_evaluation\n"
)
PEOPLE = {  # name: (roles, org, email)
    "res": (["researcher"], None, "res@uni.ex"),
    "b1": (["board"], None, "b1@board.ex"),
    "b2": (["board"], None, "b2@board.ex"),
    "st1": (["steward"], LEA1, "st1@north.ex"),
    "st2": (["steward"], LEA2, "st2@harbor.ex"),
    "stc": (["steward"], COLLEGE, "stc@valley.ex"),
    "c1": (["checker"], None, "c1@c2c.ex"),
    "c2": (["checker"], None, "c2@c2c.ex"),
    "c3": (["checker"], None, "c3@c2c.ex"),
    "rc": (["researcher", "checker"], None, "rc@uni.ex"),
}


@dataclass
class Inbox:
    messages: list[tuple[str, str]] = field(default_factory=list)  # (to, subject)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.content.decode("utf-8", "replace")
        subject = next((line[9:] for line in content.splitlines()
                        if line.startswith("Subject: ")), "")
        for to in envelope.rcpt_tos:
            self.messages.append((to, subject))
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [subject for to, subject in self.messages if to == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free loopback port for the test's own SMTP server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _student_year(path: Path) -> None:
    """analytics.student_year for three LEAs, and the published aggregates built from it.

    LEA2 (Harbor Charter) has 8 girls, so its published gender=F cells are suppressed; its
    totals are published. One year; half the students are high-school leavers."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA analytics")
    columns = ", ".join(f"{v.name} {v.dtype}" for v in catalog.VARIABLES)
    con.execute(f"CREATE TABLE {catalog.STUDENT_YEAR} ({columns})")
    rows = []
    # LEA1 reports every gender value in numbers large enough to publish by gender.
    sizes = {LEA1: {"M": 80, "F": 70, "X": 24, None: 24}, LEA2: {"M": 52, "F": 8},
             LEA3: {"M": 90, "F": 90}}
    number = 0
    for lea, genders in sizes.items():
        values = [g for g, count in genders.items() for _ in range(count)]
        for i, gender in enumerate(values):
            number += 1
            row = {v.name: None for v in catalog.VARIABLES}
            row.update(person_id=f"P{number}", academic_year=YEAR, reporting_lea=lea,
                       gender=gender, hs_leaver=i % 2 == 0,
                       cte_participant=i % 4 < 2, cc_enrolled_within_1yr=i % 4 == 0)
            rows.append(tuple(row[v.name] for v in catalog.VARIABLES))
    marks = ", ".join("?" for _ in catalog.VARIABLES)
    con.executemany(f"INSERT INTO {catalog.STUDENT_YEAR} VALUES ({marks})", rows)
    # What the public sees: per LEA and STATE, all and by gender, primary suppression only.
    con.execute("""CREATE TABLE analytics.aggregates AS
        WITH base AS (
            SELECT academic_year, reporting_lea, gender, 'cte_participant' AS metric,
                   cte_participant AS n, TRUE AS d FROM analytics.student_year
            UNION ALL
            SELECT academic_year, reporting_lea, gender, 'cc_enrolled_within_1yr',
                   hs_leaver AND cc_enrolled_within_1yr, hs_leaver FROM analytics.student_year),
        cells AS (
            SELECT academic_year, coalesce(reporting_lea, 'STATE') AS reporting_lea,
                   CASE WHEN GROUPING(gender) = 1 THEN 'all' ELSE 'gender' END AS subgroup,
                   CASE WHEN GROUPING(gender) = 1 THEN 'all' ELSE coalesce(gender, 'unknown')
                   END AS subgroup_value, metric,
                   count(*) FILTER (WHERE n AND d) AS numerator,
                   count(*) FILTER (WHERE d) AS denominator
            FROM base GROUP BY GROUPING SETS ((academic_year, metric, reporting_lea, gender),
                (academic_year, metric, reporting_lea), (academic_year, metric, gender),
                (academic_year, metric)))
        SELECT *, numerator / denominator AS rate,
               numerator < 11 OR denominator - numerator < 11 OR denominator < 11 AS suppressed,
               NULL::VARCHAR AS suppression_reason, 'run-1' AS run_id FROM cells""")
    hidden = con.execute("SELECT count(*) FROM analytics.aggregates WHERE reporting_lea = ? "
                         "AND subgroup_value = 'F' AND suppressed", [LEA2]).fetchone()
    assert hidden is not None and hidden[0] == 2
    con.close()


@dataclass
class World:
    client: TestClient
    settings: Settings
    sessions: sessionmaker[Session]
    keys: dict[str, str]
    inbox: Inbox
    warehouse: Path

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def call(self, method: str, path: str, who: str, **kw: Any) -> Any:
        response = self.client.request(method, path, headers=self.auth(who), **kw)
        return response.status_code, response.json()

    def fulfil(self) -> None:
        """What `c2c fulfil` / the Dagster asset do for every queued request."""
        keys = KeyProvider(self.settings.master_key_path, self.settings.keyring_path)
        with self.sessions() as session:
            ready = gr.requests_ready_for_fulfilment(session)
        con = duckdb.connect(str(self.warehouse))
        try:
            for request in ready:
                with self.sessions() as session:
                    earlier = individual_extracts(session, excluding=request.request_id)
                result = build_package(con, request, keys, self.settings.extracts_dir,
                                       min_cell=11, k=11, earlier_extracts=earlier)
                with self.sessions.begin() as session:
                    mark_fulfilled(session, request.request_id, ExtractInfo(
                        package_path=str(result.package_path), sha256=result.package_sha256,
                        expires_at=result.expires_at,
                        detail=extract_detail(request, result, min_cell=11)))
        finally:
            con.close()
        notify.deliver(self.sessions, notify.smtp_config(self.settings))


@contextmanager
def world(backend: str, tmp_path: Path, smtp_port: int, inbox: Inbox) -> Iterator[World]:
    with make_store(backend, tmp_path) as url:
        settings = Settings(home=tmp_path / "home", database_url=url, smtp_host="127.0.0.1",
                            smtp_port=smtp_port, duckdb_memory_limit="500MB", duckdb_threads=1)
        create_master_key(settings.master_key_path)
        warehouse = tmp_path / "warehouse.duckdb"
        _student_year(warehouse)
        csv_path = tmp_path / "partners.csv"
        csv_path.write_text(PARTNERS, encoding="utf-8")
        engine = make_engine(url)
        sessions = sessionmaker(engine, expire_on_commit=False)
        keys: dict[str, str] = {}
        with sessions.begin() as s:
            import_partners_csv(s, csv_path)
            for name, (roles, org, email) in PEOPLE.items():
                user = create_user(s, name, roles, org, email)
                keys[name] = issue_key(s, user.id).token
        with TestClient(create_app(settings)) as client:
            yield World(client, settings, sessions, keys, inbox, warehouse)
        engine.dispose()


BODY = {"kind": "aggregate", "title": "CTE and college going by gender",
        "purpose": "Does CTE participation relate to community college enrolment?",
        "purpose_code": "research",
        "variables": ["cte_participant", "cc_enrolled_within_1yr"], "group_by": ["gender"],
        "cohort": {"academic_years": [YEAR], "reporting_leas": [LEA1, LEA2]}}


def _expire_window(w: World, rid: str) -> None:
    """The review window passes (business days are not waited for in a test)."""
    with w.sessions.begin() as s:
        s.execute(sa.text("UPDATE data_requests SET review_due_at = :t WHERE id = :id"),
                  {"t": (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None),
                   "id": rid})


@pytest.mark.parametrize("backend", BACKENDS)
def test_provider_review_output_checking_and_mail_end_to_end(
        backend: str, tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with world(backend, tmp_path, port, inbox) as w:
        status, created = w.call("POST", "/v1/requests", "res", json=BODY)
        assert status == 201, created
        rid = created["id"]
        status, submitted = w.call("POST", f"/v1/requests/{rid}/submit", "res")
        assert status == 200
        # routed to the two LEAs of the cohort and the college whose variable it names;
        # LEA3 (not in the cohort) and CCGI (no CCGI variable) are not asked
        assert {r["org_code"]: r["status"] for r in submitted["provider_reviews"]} == {
            LEA1: "pending", LEA2: "pending", COLLEGE: "pending"}
        assert any("Provider review requested" in s for s in inbox.to("st2@harbor.ex"))
        assert any("Provider review requested" in s for s in inbox.to("stc@valley.ex"))
        assert any("New request submitted" in s for s in inbox.to("b1@board.ex"))

        # a steward of another organisation cannot answer for LEA1; nobody answers twice
        assert w.call("POST", f"/v1/steward/reviews/{rid}", "st1",
                      json={"decision": "approve", "reason": "fits our MOU"})[0] == 200
        again = w.call("POST", f"/v1/steward/reviews/{rid}", "st1",
                       json={"decision": "object", "reason": "changed my mind"})
        assert again[0] == 409
        assert w.call("POST", f"/v1/steward/reviews/{rid}", "st2",
                      json={"decision": "object",
                            "reason": "our families were not told of this use"})[0] == 200

        # the board may not approve while the college's window is open
        early = w.call("POST", f"/v1/board/requests/{rid}/decisions", "b1",
                       json={"decision": "approve", "reason": "sound design"})
        assert early[0] == 409 and "provider review" in early[1]["error"]["message"]

        _expire_window(w, rid)  # the college stays silent; its MOU consents by default
        status, board_view = w.call("GET", f"/v1/board/requests/{rid}", "b1")
        reviews = {r["org_code"]: r for r in board_view["provider_reviews"]}
        assert reviews[COLLEGE]["status"] == "silent_consent"
        assert reviews[LEA2]["status"] == "objected"
        assert reviews[LEA2]["reason"] == "our families were not told of this use"
        # the researcher reads each steward's reason (issue 27), the same in the review as in
        # ``reasons``; nobody is named
        _, mine = w.call("GET", f"/v1/requests/{rid}", "res")
        said = {r["org_code"]: r["reason"] for r in mine["provider_reviews"]}
        assert said[LEA2] == "our families were not told of this use"
        assert sorted(r["reason"] for r in mine["reasons"]
                      if r["who"].startswith("data steward")) == sorted(
            why for why in said.values() if why)
        assert "st1" not in str(mine) and "st2" not in str(mine)
        _, log = w.call("GET", "/v1/public/requests", "res")
        entry = next(e for e in log["data"] if e["request_id"] == rid)
        assert entry["provider_review"] == {"approved": 1, "objected": 1, "silent_consent": 1}
        assert "st1" not in str(log) and "st2" not in str(log)

        for member in ("b1", "b2"):
            assert w.call("POST", f"/v1/board/requests/{rid}/decisions", member,
                          json={"decision": "approve", "reason": "fine"})[0] == 200
        with w.sessions() as s:
            [approved] = gr.requests_ready_for_fulfilment(s)
        assert approved.cohort.excluded_leas == [LEA2]
        assert approved.excluded_partners == [LEA2]

        # Without LEA2's rows the table by gender, subtracted from the published STATE cells,
        # would give back LEA2's suppressed gender=F cells: the automated check stops it.
        w.fulfil()
        status, mine = w.call("GET", f"/v1/requests/{rid}", "res")
        assert mine["release"]["state"] == "automated_checks_failed"
        assert [c["check"] for c in mine["release"]["failed_checks"]] == [
            "differencing_snapshot"]
        held = w.call("GET", f"/v1/requests/{rid}/extract", "res")
        assert held[0] == 409
        assert w.call("POST", f"/v1/checker/requests/{rid}/decisions", "c1",
                      json={"decision": "approve", "reason": "looks fine"})[0] == 409
        # re-grouping may only drop what the board approved
        assert w.call("POST", f"/v1/requests/{rid}/regroup", "res",
                      json={"group_by": ["race_ethnicity"]})[0] == 422
        # ... and names each variable once (issue 25: ["gender", "gender"] was accepted)
        twice = w.call("POST", f"/v1/requests/{rid}/regroup", "res",
                       json={"group_by": ["gender", "gender"],
                             "variables": ["cte_participant"]})
        assert twice[0] == 422 and "twice" in twice[1]["error"]["message"]
        status, regrouped = w.call("POST", f"/v1/requests/{rid}/regroup", "res",
                                   json={"group_by": []})
        assert status == 200 and regrouped["status"] == "approved"
        w.fulfil()
        _, mine = w.call("GET", f"/v1/requests/{rid}", "res")
        assert mine["release"]["state"] == "awaiting_checkers"

        # output checking: never the requester; one checker counts once; a split needs a third
        assert w.call("GET", f"/v1/checker/requests/{rid}", "c1")[1]["detail"]["rows"] > 0
        assert w.call("POST", f"/v1/checker/requests/{rid}/decisions", "c1",
                      json={"decision": "approve", "reason": "cells are safe"})[0] == 200
        assert w.call("POST", f"/v1/checker/requests/{rid}/decisions", "c1",
                      json={"decision": "approve", "reason": "twice"})[0] == 409
        assert w.call("POST", f"/v1/checker/requests/{rid}/decisions", "c2",
                      json={"decision": "reject", "reason": "rates too precise"})[1][
            "state"] == "needs_third_checker"
        assert any("Third output check" in s for s in inbox.to("c3@c2c.ex"))
        assert w.call("GET", f"/v1/requests/{rid}/extract", "res")[0] == 409
        assert w.call("POST", f"/v1/checker/requests/{rid}/decisions", "c3",
                      json={"decision": "approve", "reason": "rates are fine"})[1][
            "state"] == "released"
        download = w.client.get(f"/v1/requests/{rid}/extract", headers=w.auth("res"))
        assert download.status_code == 200 and len(download.content) > 0

        # who used my data: LEA1 sees the release; LEA2 sees it was kept out
        _, usage1 = w.call("GET", "/v1/steward/usage", "st1")
        assert usage1[0]["released"] and usage1[0]["review"]["status"] == "approved"
        assert usage1[0]["release_detail"]["excluded_partners"] == [LEA2]
        assert usage1[0]["release_detail"]["rows"] > 0
        _, usage2 = w.call("GET", "/v1/steward/usage", "st2")
        assert usage2[0]["review"]["status"] == "objected"

        # every party got the right mail
        # in the stage words the API and the portal use (governance.request_facts)
        assert any(f"{rid} is now: approved" in s for s in inbox.to("res@uni.ex"))
        assert any(f"{rid} is now: awaiting checks" in s for s in inbox.to("res@uni.ex"))
        assert any(f"{rid} is now: released" in s for s in inbox.to("res@uni.ex"))
        assert any("Output to check" in s for s in inbox.to("c1@c2c.ex"))
        assert inbox.to("st1@north.ex") == [f"[C2C] Provider review requested: {rid}"]
        assert any("Provider review complete" in s for s in inbox.to("b2@board.ex"))
        with w.sessions() as s:
            assert audit.verify(s).ok
            actions = set(s.execute(sa.text("SELECT action FROM audit_log")).scalars())
        assert {"steward.approve", "steward.object", "checker.approve", "checker.reject",
                "request.regroup"} <= actions


def test_purpose_the_agreement_does_not_permit_keeps_the_partner_out(
        tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        body = {**BODY, "purpose_code": "operations"}
        rid = w.call("POST", "/v1/requests", "res", json=body)[1]["id"]
        _, submitted = w.call("POST", f"/v1/requests/{rid}/submit", "res")
        statuses = {r["org_code"]: r["status"] for r in submitted["provider_reviews"]}
        # LEA1 records no purposes (the MOU template: not operations); LEA2 permits research
        # only; the college research and evaluation: nobody can be asked, everyone is out
        assert set(statuses.values()) == {"purpose_not_permitted"}
        assert not any("Provider review requested" in s for s in inbox.to("st2@harbor.ex"))


def test_steward_silence_counts_as_objection_unless_the_agreement_consents(
        tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        rid = w.call("POST", "/v1/requests", "res", json=BODY)[1]["id"]
        w.call("POST", f"/v1/requests/{rid}/submit", "res")
        _expire_window(w, rid)
        _, view = w.call("GET", f"/v1/board/requests/{rid}", "b1")
        statuses = {r["org_code"]: r["status"] for r in view["provider_reviews"]}
        # LEA1's agreement says nothing about silence: absence is not consent
        assert statuses == {LEA1: "silent_objection", LEA2: "silent_objection",
                            COLLEGE: "silent_consent"}
        late = w.call("POST", f"/v1/steward/reviews/{rid}", "st1",
                      json={"decision": "approve", "reason": "sorry, late"})
        assert late[0] == 409 and "window" in late[1]["error"]["message"]


def test_blocking_objection_means_the_board_can_only_deny(tmp_path: Path,
                                                          smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        with w.sessions.begin() as s:
            s.execute(sa.text("UPDATE agreements SET on_objection = 'block' "
                              "WHERE org_code = :o"), {"o": LEA1})
        rid = w.call("POST", "/v1/requests", "res", json=BODY)[1]["id"]
        w.call("POST", f"/v1/requests/{rid}/submit", "res")
        w.call("POST", f"/v1/steward/reviews/{rid}", "st1",
               json={"decision": "object", "reason": "not for this purpose"})
        _expire_window(w, rid)
        refused = w.call("POST", f"/v1/board/requests/{rid}/decisions", "b1",
                         json={"decision": "approve", "reason": "fine"})
        assert refused[0] == 409 and "blocked" in refused[1]["error"]["message"]
        denied = w.call("POST", f"/v1/board/requests/{rid}/decisions", "b1",
                        json={"decision": "deny", "reason": "a partner objects"})
        assert denied[0] == 200 and denied[1]["status"] == "denied"


def test_requester_cannot_check_their_own_output_and_roles_are_enforced(
        tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        body = {**BODY, "cohort": {"academic_years": [YEAR]}, "group_by": []}
        rid = w.call("POST", "/v1/requests", "rc", json=body)[1]["id"]
        w.call("POST", f"/v1/requests/{rid}/submit", "rc")
        for steward in ("st1", "st2", "stc"):
            w.call("POST", f"/v1/steward/reviews/{rid}", steward,
                   json={"decision": "approve", "reason": "fine"})
        with w.sessions.begin() as s:  # LEA3 has no steward user: its window runs out
            s.execute(sa.text("UPDATE provider_reviews SET status = 'approved' "
                              "WHERE request_id = :id AND status = 'pending'"), {"id": rid})
        for member in ("b1", "b2"):
            assert w.call("POST", f"/v1/board/requests/{rid}/decisions", member,
                          json={"decision": "approve", "reason": "fine"})[0] == 200
        w.fulfil()
        own = w.call("POST", f"/v1/checker/requests/{rid}/decisions", "rc",
                     json={"decision": "approve", "reason": "my own"})
        assert own[0] == 403
        assert w.call("GET", "/v1/checker/requests", "res")[0] == 403
        assert w.call("GET", "/v1/steward/reviews", "c1")[0] == 403
        assert rid not in [r["request"]["id"] for r in w.call("GET", "/v1/checker/requests",
                                                              "rc")[1]]


def test_two_stewards_and_a_board_member_at_once(tmp_path: Path,
                                                 smtp: tuple[Inbox, int]) -> None:
    """Concurrent answers: both stewards' answers land, the board's early approval is refused
    (the college has not answered) and the audit chain stays intact."""
    inbox, port = smtp
    with world("sqlite", tmp_path, port, inbox) as w:
        rid = w.call("POST", "/v1/requests", "res", json=BODY)[1]["id"]
        w.call("POST", f"/v1/requests/{rid}/submit", "res")
        ids = {}
        with w.sessions() as s:
            for name in ("st1", "st2", "b1"):
                ids[name] = s.execute(sa.text("SELECT id FROM users WHERE name = :n"),
                                      {"n": name}).scalar_one()
        barrier = threading.Barrier(3)
        outcomes: dict[str, str] = {}

        def act(name: str) -> None:
            barrier.wait()
            with w.sessions() as s:
                try:
                    with audit.audited(s, actor=name, role="x", action=f"act.{name}",
                                       target=rid):
                        if name == "b1":
                            gr.decide(s, rid, ids[name], "approve", "fine", quorum=2)
                        else:
                            org = LEA1 if name == "st1" else LEA2
                            provider_review.steward_decide(
                                s, rid, steward_id=ids[name], org_code=org,
                                decision="approve", reason="fine")
                    outcomes[name] = "ok"
                except C2CError as error:
                    outcomes[name] = error.code

        threads = [threading.Thread(target=act, args=(n,)) for n in ("st1", "st2", "b1")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes == {"st1": "ok", "st2": "ok", "b1": Conflict.code}
        with w.sessions() as s:
            request = gr.get_for_board(s, rid)
            assert provider_review.outcome(request).pending == [COLLEGE]
            assert audit.verify(s).ok


def test_output_release_rules() -> None:
    """Two approvals release; a split waits for a third; two rejections refuse."""
    class R:
        def __init__(self, decisions: list[str]) -> None:
            self.output_reviews = [type("O", (), {"decision": d})() for d in decisions]

    record = type("E", (), {"detail": {OUTPUT_CHECKS: [{"check": "x", "passed": True}]}})()
    cases = {(): "awaiting_checkers", ("approve",): "awaiting_checkers",
             ("approve", "approve"): "released", ("approve", "reject"): "needs_third_checker",
             ("approve", "reject", "approve"): "released",
             ("approve", "reject", "reject"): "rejected", ("reject", "reject"): "rejected"}
    for decisions, state in cases.items():
        release = output_release.release_of(R(list(decisions)), record)  # type: ignore[arg-type]
        assert release.state.value == state, decisions
    failed = type("E", (), {"detail": {OUTPUT_CHECKS: [{"check": "x", "passed": False}]}})()
    assert output_release.release_of(R(["approve", "approve"]), failed).state.value == \
        "automated_checks_failed"  # type: ignore[arg-type]
    legacy = type("E", (), {"detail": {}})()  # built before checks existed: not a pass
    assert output_release.release_of(R([]), legacy).state.value == "awaiting_checkers"  # type: ignore[arg-type]


def test_business_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert provider_review.add_business_days(friday, 1) == datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert provider_review.add_business_days(friday, 10) == datetime(2026, 12, 11, 9,
                                                                     tzinfo=UTC)


def test_cli_reminders_mail_each_liaison_what_is_missing_before_the_deadline(
        tmp_path: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    inbox, port = smtp
    home = tmp_path / "home"
    for name, value in {"C2C_HOME": str(home), "C2C_SMTP_HOST": "127.0.0.1",
                        "C2C_SMTP_PORT": str(port), "C2C_DUCKDB_MEMORY_LIMIT": "500MB"}.items():
        monkeypatch.setenv(name, value)
    csv_path = tmp_path / "partners.csv"
    csv_path.write_text(PARTNERS, encoding="utf-8")
    runner = CliRunner()
    for args in (["keys", "init"], ["migrate"], ["partners", "import", str(csv_path)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    # round 1 needs 2018-19..2021-22; the last deadline is 1 November 2022
    result = runner.invoke(app, ["notify", "reminders", "--as-of", "2022-10-20"])
    assert result.exit_code == 0, result.output
    assert "reminder(s) queued, 3 sent" in result.output
    [subject] = inbox.to("li1@north.ex")
    assert subject == f"[C2C] Files still missing for {LEA1} (due 2022-11-01)"
    assert inbox.to("ir@valley.ex") == []  # colleges have no CALPADS rounds
    # after the deadline nothing is sent: a reminder is for what can still be on time
    result = runner.invoke(app, ["notify", "reminders", "--as-of", "2022-11-02"])
    assert "0 reminder(s) queued" in result.output
