"""The twin rule looks for pairs only inside one component of the confident graph.

Across all identities the twin pairs grow with the square of the state: at 10.6 million
records the list of every same-surname, same-birth-date pair of different names took the link
process past 23.9 GB. A pair in two components can never clash in the clustering, so the rule
must not return it; a component joined by a clerical match still counts as one.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from linkage.clustering import cluster, confident_graph
from linkage.twins import twin_conflicts

DOB = date(2007, 3, 14)
THRESHOLD = 0.9


def _identities(rows: dict[int, str | None]) -> duckdb.DuckDBPyConnection:
    """mdm.identities: unit id -> first name; every unit a SMITH born on DOB without SSID."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA mdm")
    firsts = list(rows.values())
    con.register("_rows", pa.table({
        "unit_id": list(rows), "dob": [DOB] * len(rows), "first_name": firsts,
        "last_tokens": [["SMITH"]] * len(rows),
        "first_nick": [[f] if f else [] for f in firsts],
        "given_tokens": [[f] if f else [] for f in firsts],
        "ssid": pa.array([None] * len(rows), pa.string())}))
    con.execute("CREATE TABLE mdm.identities AS FROM _rows")
    con.unregister("_rows")
    return con


def _edges(*scored: tuple[int, int, float]) -> pa.Table:
    return pa.table({"unit_id_l": [a for a, _, _ in scored], "unit_id_r": [b for _, b, _ in scored],
                     "match_probability": [p for _, _, p in scored]})


def test_twins_are_found_only_within_one_component() -> None:
    # 1 JOHN and 2 MARY are bridged by 3, a record without a first name; 4 PETER and 5 SARAH
    # are twins too, but nothing confident joins them (to each other or to anyone)
    con = _identities({1: "JOHN", 2: "MARY", 3: None, 4: "PETER", 5: "SARAH", 6: "PETER"})
    edges = _edges((1, 3, 0.99), (2, 3, 0.95), (4, 6, 0.99), (5, 5, 0.0))
    graph = confident_graph(6, edges, THRESHOLD)
    assert twin_conflicts(con, graph) == [(1, 2)]

    kept = cluster(6, edges, THRESHOLD, cannot_link=twin_conflicts(con, graph))
    assert kept.cluster_of[1] == kept.cluster_of[3] != kept.cluster_of[2]
    assert [(a, b) for a, b, _ in kept.refused] == [(2, 3)]


def test_a_clerical_match_joins_the_component_the_rule_looks_in() -> None:
    # 1 ANNA is joined to 2 (no first name) only by a reviewer's "match"; 2-3 ZOE is confident
    con = _identities({1: "ANNA", 2: None, 3: "ZOE"})
    edges = _edges((2, 3, 0.99))
    assert twin_conflicts(con, confident_graph(3, edges, THRESHOLD)) == []
    joined = confident_graph(3, edges, THRESHOLD, must_link=[(2, 1)])
    assert twin_conflicts(con, joined) == [(1, 3)]


def test_no_confident_edge_means_no_twin_pair() -> None:
    con = _identities({1: "JOHN", 2: "MARY"})
    assert confident_graph(2, _edges((1, 2, 0.5)), THRESHOLD) is None
    assert twin_conflicts(con, None) == []


def test_a_slip_in_the_start_of_a_longer_name_is_not_a_twin() -> None:
    # typed slips the rule refused at 50,000 students, and two pairs of real twins' names
    con = _identities({1: "DANIELA", 2: "DNI", 3: None, 4: "JOHNPAUL", 5: "OJHN", 6: None,
                       7: "AVA", 8: "AVERY", 9: None, 10: "ADAM", 11: "ADRIANA", 12: None})
    edges = _edges(*[(u, hub, 0.99) for hub in (3, 6, 9, 12) for u in (hub - 2, hub - 1)])
    assert sorted(twin_conflicts(con, confident_graph(12, edges, THRESHOLD))) == [(7, 8), (10, 11)]


def test_two_slips_of_a_name_a_third_record_carries_are_not_twins() -> None:
    # 50k, every defect profile: MARIS and MAIA SILVA, both typed for MARIA, were refused as
    # twins though MARIA's own record sat in their component
    con = _identities({1: "MARIS", 2: "MAIA", 3: "MARIA"})
    edges = _edges((1, 3, 0.99), (2, 3, 0.99))
    assert twin_conflicts(con, confident_graph(3, edges, THRESHOLD)) == []


def test_a_third_record_near_only_one_name_leaves_the_twins_apart() -> None:
    # JOHN and MARY with a JOHN typed JOHM: one keystroke from JOHN, not from MARY; and
    # MARIS / MAIA whose component holds no MARIA, only a record without a first name
    con = _identities({1: "JOHN", 2: "MARY", 3: "JOHM", 4: "MARIS", 5: "MAIA", 6: None})
    edges = _edges((1, 3, 0.99), (2, 3, 0.95), (4, 6, 0.99), (5, 6, 0.99))
    # (MARY and JOHM are a pair of different names too)
    assert sorted(twin_conflicts(con, confident_graph(6, edges, THRESHOLD))) == [
        (1, 2), (2, 3), (4, 5)]
