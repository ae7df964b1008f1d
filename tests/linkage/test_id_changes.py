"""The change log of person ids (linkage/id_changes.py) on a constructed merge / split scenario.

Two annual runs over hand-made clusters, through the real ``assign_person_ids``: every count
the operator, a partner and an extract holder get is checked against what the scenario did.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from core import tables
from core.warehouse import open_warehouse
from governance.models import Notification, User
from linkage.id_changes import cohort_counts, operator_log, partner_counts, record_extract_persons
from linkage.schema import ensure_schema
from linkage.stable_ids import assign_person_ids
from services.id_change_log import tell_extract_holders
from tests.api_support import LEA, ApiEnv

COLLEGE = "C001"
# unit_id -> (source_system, partner_org, source_person_id)
UNITS = {
    1: ("calpads", LEA, "1000000001"), 2: ("calpads", LEA, "1000000002"),
    3: ("college", COLLEGE, "c1"), 4: ("college", COLLEGE, "c2"),
    5: ("calpads", LEA, "1000000003"), 6: ("calpads", LEA, "1000000004"),
    7: ("college", COLLEGE, "c3"), 8: ("calpads", LEA, "1000000005"),
    9: ("college", COLLEGE, "c9"), 10: ("calpads", LEA, "1000000006"),
    11: ("college", COLLEGE, "c6"),
}
# run 1: persons P1 {1,3}  P2 {2}  P3 {4}  P4 {5,6}  P5 {7}  P6 {8}  P7 {10,11}
RUN1 = {1: 1, 3: 1, 2: 2, 4: 3, 5: 4, 6: 4, 7: 5, 8: 6, 10: 7, 11: 7}
# run 2: unit 8 withdrawn, unit 9 new;
#   {1,2,3}  P1 + P2 merged: a reviewer said match for (2, 3)
#   {4,7,9}  P3 + P5 merged: new record 9 bridges them
#   {5} {6}  P4 split: nothing but the model (an old non-match decision predates run 1)
#   {10} {11} P7 split: a reviewer said non-match for (10, 11)
RUN2 = {1: 1, 2: 1, 3: 1, 4: 2, 7: 2, 9: 2, 5: 3, 6: 4, 10: 5, 11: 6}


def _identities(con: duckdb.DuckDBPyConnection, units: list[int]) -> np.ndarray:
    """Write mdm.identities with unit ids 1..n in this run's order; returns its cluster_of."""
    con.execute("DROP TABLE IF EXISTS mdm.identities")
    con.register("_ids", pa.table({
        "unit_id": list(range(1, len(units) + 1)),
        "source_system": [UNITS[u][0] for u in units],
        "partner_org": [UNITS[u][1] for u in units],
        "source_person_id": [UNITS[u][2] for u in units]}))
    con.execute("CREATE TABLE mdm.identities AS FROM _ids")
    con.unregister("_ids")
    return np.array([0] + [0] * len(units), dtype=np.int64)


def _run(con: duckdb.DuckDBPyConnection, run_id: str, clusters: dict[int, int],
         started: str) -> None:
    units = sorted(clusters)
    cluster_of = _identities(con, units)
    for position, unit in enumerate(units, start=1):
        cluster_of[position] = clusters[unit]
    con.execute(f"INSERT INTO {tables.LINK_RUNS} (run_id, started_at, status) "
                "VALUES (?, ?, 'running')", [run_id, started])
    assign_person_ids(con, run_id, cluster_of)
    con.execute(f"UPDATE {tables.LINK_RUNS} SET status = 'succeeded', finished_at = ? "
                "WHERE run_id = ?", [started, run_id])


def _decide(con: duckdb.DuckDBPyConnection, left: int, right: int, decision: str,
            when: str) -> None:
    con.execute(f"INSERT INTO {tables.REVIEW_DECISIONS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [f"pair-{left}-{right}", *UNITS[left], *UNITS[right], decision, "rev", when])


def _two_runs(con: duckdb.DuckDBPyConnection, request_id: str = "R-1") -> None:
    ensure_schema(con)
    _decide(con, 5, 6, "non_match", "2023-01-01")  # before run 1: not this run's reason
    _run(con, "y1", RUN1, "2024-01-01")
    before = dict(con.execute("SELECT source_person_id, person_id FROM mdm.crosswalk").fetchall())
    record_extract_persons(con, request_id, "SELECT unnest(['P0000000001', 'P0000000002', "
                           "'P0000000004', 'P0000000006', 'P0000000003']) AS person_id")
    record_extract_persons(con, "R-2", "SELECT 'P0000000007' AS person_id")
    _decide(con, 2, 3, "match", "2024-06-01")
    _decide(con, 10, 11, "non_match", "2024-06-01")
    _run(con, "y2", RUN2, "2025-01-01")
    assert before["1000000002"] == "P0000000002"


@pytest.fixture(scope="module")
def scenario() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _two_runs(con)
    return con


def test_the_operator_log_counts_each_merge_split_and_retirement_with_its_reason(
        scenario: duckdb.DuckDBPyConnection) -> None:
    log = operator_log(scenario, "y2")
    assert log.ids == {
        "merge": {"clerical_match": 1, "new_records": 1},
        "split": {"clerical_non_match": 1, "model_or_constraints": 1},
        "retire": {"records_withdrawn": 1},
    }
    assert log.units == {
        "merged": {"clerical_match": 1, "new_records": 1},
        "split": {"clerical_non_match": 1, "model_or_constraints": 1},
        "withdrawn": {"records_withdrawn": 1},
    }
    assert log.by_partner == {LEA: {"merged": 1, "split": 1, "withdrawn": 1},
                              COLLEGE: {"merged": 1, "split": 1}}
    # the survivor is the oldest id; the records keep theirs where nothing changed
    rows = dict(scenario.execute(
        "SELECT source_person_id, person_id FROM mdm.crosswalk").fetchall())
    assert rows["1000000002"] == rows["c1"] == "P0000000001"
    assert rows["c3"] == rows["c9"] == "P0000000003"
    assert rows["1000000003"] == "P0000000004" and rows["1000000006"] == "P0000000007"
    first = operator_log(scenario, "y1")
    assert first.ids == {"create": {"new_records": 7}} and first.units == {}


def test_a_partner_sees_only_its_own_records_changes(
        scenario: duckdb.DuckDBPyConnection) -> None:
    lea = {(e, r): n for e, r, n in partner_counts(scenario, "y2", LEA) if n}
    assert lea == {("merged", "clerical_match"): 1, ("split", "model_or_constraints"): 1,
                   ("withdrawn", "records_withdrawn"): 1}
    college = {(e, r): n for e, r, n in partner_counts(scenario, "y2", COLLEGE) if n}
    assert college == {("merged", "new_records"): 1, ("split", "clerical_non_match"): 1}
    assert all(n == 0 for *_, n in partner_counts(scenario, "y2", "9999999"))
    # every event / reason is listed, so a missing line never stands for a count
    assert len(partner_counts(scenario, "y2", LEA)) == len(partner_counts(scenario, "y2", "x"))


def test_extract_holders_get_counts_of_their_cohorts_changed_ids(
        scenario: duckdb.DuckDBPyConnection) -> None:
    counts = {c.request_id: c for c in cohort_counts(scenario, "y2")}
    one = counts["R-1"]
    # P2 merged into P1, P4 split, P6 retired; P1 and P3 absorbed others but kept their ids
    assert (one.persons, one.merged, one.split, one.retired) == (5, 1, 1, 1)
    two = counts["R-2"]
    assert (two.persons, two.merged, two.split, two.retired) == (1, 0, 1, 0)
    assert {c.request_id: (c.merged, c.split, c.retired)
            for c in cohort_counts(scenario, "y1")} == {"R-1": (0, 0, 0), "R-2": (0, 0, 0)}


def test_partners_and_extract_holders_get_the_counts_through_the_gate(env: ApiEnv) -> None:
    """Over HTTP and e-mail: every count of one or two records is under the threshold, so the
    partner reads them hidden (null) and the researcher reads 'fewer than 15', never 1."""
    created = env.client.post("/v1/requests", headers=env.auth("researcher"), json={
        "kind": "individual", "title": "Ids", "purpose": "A cohort whose ids change later on",
        "variables": ["person_id", "cte_completer"], "group_by": []})
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    with env.sessions.begin() as session:
        for user in session.query(User).filter(User.name == "researcher"):
            user.email = "researcher@example.org"
    con = open_warehouse(env.settings)
    try:
        _two_runs(con, request_id)
    finally:
        con.close()

    answer = env.client.get("/v1/partner/id-changes", headers=env.auth("partner"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["run_id"] == "y2" and body["org_code"] == LEA
    assert len(body["changes"]) == 13 and all(c["records"] is None for c in body["changes"])
    assert "P000" not in answer.text and "1000000" not in answer.text
    earlier = env.client.get("/v1/partner/id-changes?run_id=y1", headers=env.auth("partner"))
    assert earlier.json()["run_id"] == "y1"
    assert env.client.get("/v1/partner/id-changes", headers=env.auth("researcher")
                          ).status_code == 403

    notes = tell_extract_holders(settings=env.settings, sessions=lambda: env.sessions,
                                 run_id="y2")
    ours = [n for n in notes if n.request_id == request_id]  # R-2 is in no store: no mail
    assert len(ours) == 1
    assert all(c.value is None for c in (ours[0].merged, ours[0].split, ours[0].retired))
    with env.sessions() as session:
        mail = [m for m in session.query(Notification) if m.event == "extract.ids_changed"]
    assert [m.to_addr for m in mail] == ["researcher@example.org"]
    assert mail[0].body.count("fewer than 15") == 3
    assert "P000" not in mail[0].body and " 1\n" not in mail[0].body
    # nothing changed for anyone in run y1: no note
    assert tell_extract_holders(settings=env.settings, sessions=lambda: env.sessions,
                                run_id="y1") == []
