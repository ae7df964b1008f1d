"""A record without a birth date must not chain two people whose birth dates conflict.

Hand-built ``mdm.identities`` rows and scored edges; no training. The MALIK MENSAH case is one
of the false merges measured at 50,000 students with every defect profile: a CALPADS unit
without a birth date matched the student's other unit (same SSID) and an adult college
student of the same name, and plain components merged all three.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from linkage.birthdates import MAX_DAYS_APART, birth_date_conflicts
from linkage.clustering import cluster, confident_graph

THRESHOLD = 0.9


def _warehouse(dobs: dict[int, date | None]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA mdm")
    con.register("_rows", pa.table({"unit_id": list(dobs), "dob": list(dobs.values())}))
    con.execute("CREATE TABLE mdm.identities AS SELECT unit_id, dob, "
                "strftime(dob, '%Y%m%d') AS dob_str FROM _rows")
    con.unregister("_rows")
    return con


def _edges(*scored: tuple[int, int, float]) -> pa.Table:
    return pa.table({"unit_id_l": [a for a, _, _ in scored], "unit_id_r": [b for _, b, _ in scored],
                     "match_probability": [p for _, _, p in scored]})


def _dated(con: duckdb.DuckDBPyConnection, units: int, edges: pa.Table) -> list[tuple[int, int]]:
    return birth_date_conflicts(con, confident_graph(units, edges, THRESHOLD))


def test_a_record_without_birth_date_no_longer_bridges_two_people() -> None:
    con = _warehouse({1: date(2006, 7, 5), 2: None, 3: date(1995, 8, 29)})
    edges = _edges((1, 2, 0.999), (2, 3, 0.95))  # 1-3 scored below the threshold (or never)
    conflicts = _dated(con, 3, edges)
    assert conflicts == [(1, 3)]

    plain = cluster(3, edges, THRESHOLD)
    assert plain.cluster_of[1] == plain.cluster_of[3]  # what happened before the rule
    kept = cluster(3, edges, THRESHOLD, cannot_link=conflicts)
    # the most probable edge wins; the bridge is refused and goes to clerical review
    assert kept.cluster_of[1] == kept.cluster_of[2] != kept.cluster_of[3]
    assert [(a, b) for a, b, _ in kept.refused] == [(2, 3)]


@pytest.mark.parametrize(("other", "why"), [
    (date(2006, 5, 7), "day and month swapped"),
    (date(2006, 7, 8), "one digit keyed wrong"),
    (date(2016, 7, 5), "one digit of the year keyed wrong"),
    (date(2006, 7, 5), "the same date"),
])
def test_dates_one_keying_error_apart_do_not_conflict(other: date, why: str) -> None:
    con = _warehouse({1: date(2006, 7, 5), 2: None, 3: other})
    edges = _edges((1, 2, 0.99), (2, 3, 0.99))
    assert _dated(con, 3, edges) == [], why


def test_days_apart_boundary() -> None:
    # 2006-01-30 is three or more digits away from each date 30-32 days later, so only the
    # days-apart level can explain them
    base = date(2006, 1, 30)

    def conflicts(days: int) -> list[tuple[int, int]]:
        other = date.fromordinal(base.toordinal() + days)
        con = _warehouse({1: base, 2: None, 3: other})
        return _dated(con, 3, _edges((1, 2, 0.99), (2, 3, 0.99)))

    assert conflicts(MAX_DAYS_APART - 1) == []
    assert conflicts(MAX_DAYS_APART) == []
    assert conflicts(MAX_DAYS_APART + 1) == [(1, 3)]


def test_missing_birth_dates_are_never_a_conflict() -> None:
    con = _warehouse({1: date(2006, 7, 5), 2: None, 3: None})
    assert _dated(con, 3, _edges((1, 2, 0.99), (2, 3, 0.99))) == []


def test_a_direct_confident_link_overrides_the_dates() -> None:
    # the model linked 1 and 3 themselves (say, the same SSID): the dates do not veto that
    con = _warehouse({1: date(2006, 7, 5), 2: None, 3: date(1995, 8, 29)})
    edges = _edges((1, 2, 0.99), (2, 3, 0.95), (1, 3, 0.97))
    assert _dated(con, 3, edges) == []


def test_only_edges_at_or_above_the_threshold_connect() -> None:
    con = _warehouse({1: date(2006, 7, 5), 2: None, 3: date(1995, 8, 29)})
    below = _edges((1, 2, 0.99), (2, 3, THRESHOLD - 0.01))
    assert _dated(con, 3, below) == []
    at = _edges((1, 2, 0.99), (2, 3, THRESHOLD))
    assert _dated(con, 3, at) == [(1, 3)]
    assert _dated(con, 3, _edges()) == []


def test_two_record_components_are_left_to_the_model() -> None:
    con = _warehouse({1: date(2006, 7, 5), 2: date(1995, 8, 29)})
    assert _dated(con, 2, _edges((1, 2, 0.95))) == []
    assert np.array_equal(cluster(2, _edges((1, 2, 0.95)), THRESHOLD).cluster_of[1:], [1, 1])


def test_two_slips_explained_by_a_dated_record_both_link_to_are_no_conflict() -> None:
    """JONATHAN LIN (50k, every defect profile): CALPADS 2006-10-08, CCGI 2006-08-10 (day and
    month swapped), college 2006-10-09 (a digit off), each linked to the CALPADS unit with
    the same SSID. CCGI and college are two slips apart; the CALPADS date explains both, so
    the college record is not a bridge and joins its person."""
    con = _warehouse({1: date(2006, 10, 8), 2: date(2006, 8, 10), 3: date(2006, 10, 9)})
    edges = _edges((1, 2, 0.9999), (1, 3, 0.99999), (2, 3, 0.69))
    assert _dated(con, 3, edges) == []
    kept = cluster(3, edges, THRESHOLD, cannot_link=_dated(con, 3, edges))
    assert kept.cluster_of[1] == kept.cluster_of[2] == kept.cluster_of[3]


def test_a_record_whose_date_explains_only_one_side_still_bridges_nothing() -> None:
    # the middle record's date is a slip of one side's only: the other side still conflicts
    con = _warehouse({1: date(2006, 7, 5), 2: date(2006, 7, 6), 3: date(1995, 8, 29)})
    edges = _edges((1, 2, 0.999), (2, 3, 0.95))
    assert _dated(con, 3, edges) == [(1, 3)]
