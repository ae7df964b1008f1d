"""Linkage building blocks checked on hand-built data: names, stable ids, evaluation."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkage import names
from linkage.clustering import cluster
from linkage.evaluate import evaluate
from linkage.schema import ensure_schema
from linkage.stable_ids import assign_person_ids


def test_name_standardisation() -> None:
    assert names.clean("  José-María  O'Brien ") == "JOSE MARIA OBRIEN"
    assert names.surname_tokens("García-López") == ["GARCIA", "LOPEZ"]
    assert names.surname_tokens("de la Cruz Jr.") == ["CRUZ"]
    assert names.standard_surname("Nguyễn Jr") == "NGUYEN"
    assert names.clean("  ") is None
    bill, william = names.nickname_forms("BILL"), names.nickname_forms("WILLIAM")
    assert set(bill) & set(william)
    assert not set(names.nickname_forms("MARIA")) & set(names.nickname_forms("JOSE"))


def test_constrained_clustering_keeps_cannot_links_apart() -> None:
    # 1-2 strong, 2-3 strong, 1-3 cannot-link: the weaker edge 2-3 is refused
    edges = pa.table({"unit_id_l": [1, 2, 4], "unit_id_r": [2, 3, 5],
                      "match_probability": [0.99, 0.97, 0.5]})
    result = cluster(5, edges, 0.9, cannot_link=[(3, 1)])
    c = result.cluster_of
    assert c[1] == c[2] and c[3] != c[1] and c[4] != c[5]
    assert result.refused == [(2, 3, 0.97)]
    forced = cluster(5, edges, 0.9, cannot_link=[(1, 3)], must_link=[(1, 3)])
    assert forced.cluster_of[1] == forced.cluster_of[3] == forced.cluster_of[2]


def _keys(unit: int) -> tuple[str, str, str]:
    return ("calpads", "0000001", f"S{unit}")


def test_merge_split_retire_create_are_logged_and_oldest_id_survives() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    units = [1, 2, 3, 4, 5, 6, 8]  # unit 7 has left the data
    con.execute("CREATE TABLE mdm.identities (unit_id BIGINT, source_system VARCHAR, "
                "partner_org VARCHAR, source_person_id VARCHAR)")
    con.executemany("INSERT INTO mdm.identities VALUES (?, ?, ?, ?)",
                    [(u, *_keys(u)) for u in units])
    previous = {1: "P0000000002", 2: "P0000000002", 3: "P0000000001",
                4: "P0000000003", 5: "P0000000003", 6: "P0000000003", 7: "P0000000004"}
    for seq in range(1, 5):
        con.execute("INSERT INTO mdm.person_ids VALUES (?, ?, 'old', NULL, NULL)",
                    [f"P{seq:010d}", seq])
    con.executemany("INSERT INTO mdm.crosswalk VALUES (?, ?, ?, ?, 'old')",
                    [(*_keys(u), pid) for u, pid in previous.items()])
    # new clusters: {1,2,3} merges P2 and P1; {4,5} keeps P3; {6} splits off; {8} is new
    cluster_of = np.array([0, 1, 1, 1, 4, 4, 6, 7, 8])
    changes = assign_person_ids(con, "new", cluster_of)

    ids = dict(con.execute("SELECT source_person_id, person_id FROM mdm.crosswalk").fetchall())
    assert ids["S1"] == ids["S2"] == ids["S3"] == "P0000000001"  # oldest id survives
    assert ids["S4"] == ids["S5"] == "P0000000003"
    assert ids["S6"] not in previous.values() and ids["S8"] not in previous.values()
    assert "S7" not in ids
    events = set(con.execute("SELECT event, person_id, related_person_id "
                             "FROM mdm.person_lineage").fetchall())
    assert events == {
        ("merge", "P0000000002", "P0000000001"),
        ("split", ids["S6"], "P0000000003"),
        ("create", ids["S8"], None),
        ("retire", "P0000000004", None),
    }
    assert (changes.merged, changes.split, changes.created, changes.retired) == (1, 1, 1, 1)
    successor = con.execute("SELECT successor_person_id FROM mdm.person_ids "
                            "WHERE person_id = 'P0000000002'").fetchone()
    assert successor == ("P0000000001",)
    reasons = dict(con.execute("SELECT event, reason FROM mdm.person_lineage").fetchall())
    assert reasons["create"] == "new_records" and reasons["retire"] == "records_withdrawn"
    assert reasons["merge"] is not None and reasons["split"] is not None
    # the crosswalk is rebuilt without its key and keyed after: the key must be back
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO mdm.crosswalk VALUES ('calpads', '0000001', 'S1', 'P9', 'x')")


def test_evaluation_metrics_on_hand_built_truth(tmp_path: Path) -> None:
    con = duckdb.connect()
    ensure_schema(con)
    # predicted: {a, b, c} {d} {e} {f}; truth: {a, b} {c, d} {e, f} (e, f twins? no: one person)
    predicted = {"a": "P1", "b": "P1", "c": "P1", "d": "P2", "e": "P3", "f": "P4", "g": "P5",
                 "h": "P6"}
    truth = {"a": "T1", "b": "T1", "c": "T2", "d": "T2", "e": "T3", "f": "T3", "g": "T4",
             "h": "T5"}
    con.executemany("INSERT INTO mdm.crosswalk VALUES ('college', '061', ?, ?, 'r')",
                    list(predicted.items()))
    con.execute("CREATE TABLE mdm.identities AS SELECT * FROM (VALUES "
                "('college', '061', 'g', DATE '2005-01-02', ['KIM']),"
                "('college', '061', 'h', DATE '2005-01-02', ['KIM'])) "
                "t(source_system, partner_org, source_person_id, dob, last_tokens)")
    pq.write_table(pa.table({
        "source_system": ["college"] * 8, "partner_org": ["061"] * 8,
        "source_person_id": list(truth), "file": ["f"] * 8, "line_no": list(range(8)),
        "true_person_id": list(truth.values()),
        "is_twin": [False] * 6 + [True, True],
        "has_double_surname": [True, True, False, False, False, False, False, False],
        "has_second_ssid": [False] * 8, "race_ethnicity": ["A"] * 8, "gender": ["F"] * 8,
    }), tmp_path / "truth.parquet")
    result = evaluate(con, tmp_path / "truth.parquet")
    # predicted pairs ab ac bc; true pairs ab cd ef; correct ab
    assert (result.predicted_pairs, result.true_pairs, result.true_positive_pairs) == (3, 3, 1)
    assert result.precision == pytest.approx(1 / 3)
    assert result.recall == pytest.approx(1 / 3)
    assert result.f1 == pytest.approx(1 / 3)
    assert (result.true_persons, result.predicted_clusters) == (5, 6)
    assert result.exact_cluster_rate == pytest.approx(2 / 5)  # g and h only
    assert result.pure_cluster_rate == pytest.approx(5 / 6)  # all but {a, b, c}
    assert (result.twin_pairs, result.twins_apart_rate) == (1, 1.0)
    assert result.recall_by_group["has_double_surname"] == {
        "false": pytest.approx(0.0), "true": pytest.approx(1.0)}


def test_cross_agency_recall_per_source_pair(tmp_path: Path) -> None:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("CREATE TABLE mdm.identities (source_system VARCHAR, partner_org VARCHAR, "
                "source_person_id VARCHAR, dob DATE, last_tokens VARCHAR[])")
    # T1: calpads k1, college c1, ccgi g1 all linked; T2: calpads k2 + college c2 linked,
    # ccgi g2 apart; T3: calpads k3 and ccgi g3 apart
    rows = [("calpads", "1", "k1", "P1", "T1"), ("college", "061", "c1", "P1", "T1"),
            ("ccgi", "CCGI", "g1", "P1", "T1"), ("calpads", "1", "k2", "P2", "T2"),
            ("college", "061", "c2", "P2", "T2"), ("ccgi", "CCGI", "g2", "P3", "T2"),
            ("calpads", "1", "k3", "P4", "T3"), ("ccgi", "CCGI", "g3", "P5", "T3")]
    con.executemany("INSERT INTO mdm.crosswalk VALUES (?, ?, ?, ?, 'r')",
                    [r[:4] for r in rows])
    pq.write_table(pa.table({
        "source_system": [r[0] for r in rows], "partner_org": [r[1] for r in rows],
        "source_person_id": [r[2] for r in rows], "true_person_id": [r[4] for r in rows],
    }), tmp_path / "truth.parquet")
    result = evaluate(con, tmp_path / "truth.parquet")
    assert result.recall_by_source_pair == {
        "calpads-college": pytest.approx(1.0), "calpads-ccgi": pytest.approx(1 / 3),
        "college-ccgi": pytest.approx(1 / 2)}


def test_joined_compound_surnames_are_split_only_when_both_parts_are_common() -> None:
    units = {"GARCIA": 400, "LOPEZ": 300, "WOOD": 40, "WARD": 60, "WOODWARD": 10,
             "GARCIALOPEZ": 2, "PAZ": 50, "RUIZPAZ": 1, "HERNANDEZ": 500, "ZUNIGA": 30,
             "HERNANDEZZUNIGA": 1}
    assert names.split_joined(["GARCIALOPEZ"], units) == ["GARCIA", "LOPEZ"]
    assert names.split_joined(["HERNANDEZZUNIGA"], units) == ["HERNANDEZ", "ZUNIGA"]
    # WOOD and WARD are each less than ten times as common as WOODWARD: a surname of its own
    assert names.split_joined(["WOODWARD"], units) == ["WOODWARD"]
    assert names.split_joined(["RUIZPAZ"], units) == ["RUIZPAZ"]  # too short to hold two
    assert names.split_joined(["GARCIA", "LOPEZ"], units) == ["GARCIA", "LOPEZ"]
    assert names.split_joined(["MONTGOMERY"], units) == ["MONTGOMERY"]  # unknown parts


def test_a_first_run_fills_and_keys_an_empty_registry() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("CREATE TABLE mdm.identities (unit_id BIGINT, source_system VARCHAR, "
                "partner_org VARCHAR, source_person_id VARCHAR)")
    con.executemany("INSERT INTO mdm.identities VALUES (?, ?, ?, ?)",
                    [(u, *_keys(u)) for u in (1, 2, 3)])
    changes = assign_person_ids(con, "first", np.array([0, 1, 1, 3]))
    assert (changes.created, changes.merged, changes.split, changes.retired) == (2, 0, 0, 0)
    assert con.execute("SELECT count(*) FROM mdm.id_changes").fetchone() == (0,)
    assert set(con.execute("SELECT event, reason FROM mdm.person_lineage").fetchall()) == {
        ("create", "new_records")}
    # the registry and the crosswalk were filled without their keys: both keys are back
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO mdm.person_ids VALUES ('P0000000001', 9, 'x', NULL, NULL)")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO mdm.crosswalk VALUES ('calpads', '0000001', 'S2', 'P9', 'x')")
    # a second run appends to the keyed registry
    again = assign_person_ids(con, "second", np.array([0, 1, 2, 3]))
    assert (again.created, again.split) == (0, 1)  # unit 2 leaves its id: a split
    assert con.execute("SELECT count(*) FROM mdm.person_ids").fetchone() == (3,)
