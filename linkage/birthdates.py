"""Birth-date bridges: a record without a birth date must not chain two people together.

A record with no birth date (or no SSID) can match two people of the same name well enough:
a CALPADS unit of MALIK MENSAH with no birth date matches the student's other unit (born 2006,
same SSID) and an adult college student of that name (born 1995). Connected components then
put the 2006 and the 1995 records in one person, which the model never said: scored directly,
that pair's dates disagree. At 50,000 students with every defect profile, such bridges made
most of the false pairs.

The rule: two records in one cluster whose birth dates are both known and *conflict* (the
model's "all other" level: not equal, not day and month swapped, not the year one off with
month and day equal, not one digit or one transposition apart, more than 31 days apart)
become a cannot-link pair, unless the model itself linked that pair directly at or above
the threshold (strong evidence such as the same SSID overrides the dates; the rule only stops
*transitive* merges), or a record with a birth date links to both directly and its date is
one keying error from each. That record is not a bridge: its date explains both. JONATHAN
LIN's CALPADS unit (2006-10-08) linked to his CCGI account (2006-08-10, day and month
swapped) and his college record (2006-10-09, a digit off) with the same SSID. The CCGI and
college dates are two errors apart, and the rule kept the college record out of his
person (at 50,000 students with every defect profile, 10 of the 136 missed college
records). The constrained clustering then keeps the most probable edges and refuses the
bridge, which goes to clerical review.

Missing evidence: a record without a birth date takes part in no conflict (absence is never
read as a disagreement); it can still join either side on its own evidence.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from core import tables
from linkage.clustering import ConfidentGraph

# The same agreement levels the model's birth-date comparison has (linkage/model.py): anything
# inside them is a possible keying error of one date, never a conflict.
MAX_DAYS_APART = 31


def _conflict_sql(a: str, b: str) -> str:
    """SQL: the birth dates of rows ``a`` and ``b`` (both known) conflict."""
    return f"""
    {a}.dob <> {b}.dob
    AND NOT (year({a}.dob) = year({b}.dob) AND month({a}.dob) = day({b}.dob)
             AND day({a}.dob) = month({b}.dob))
    AND abs(date_diff('day', {a}.dob, {b}.dob)) > {MAX_DAYS_APART}
    AND NOT (month({a}.dob) = month({b}.dob) AND day({a}.dob) = day({b}.dob)
             AND abs(year({a}.dob) - year({b}.dob)) = 1)
    AND NOT (hamming({a}.dob_str, {b}.dob_str) <= 2
             AND damerau_levenshtein({a}.dob_str, {b}.dob_str) <= 1)
"""


def birth_date_conflicts(
    con: duckdb.DuckDBPyConnection, graph: ConfidentGraph | None
) -> list[tuple[int, int]]:
    """Cannot-link pairs: records whose known birth dates conflict, in one component of the
    confident ``graph``, that no edge of it links directly."""
    if graph is None:
        return []
    labels, nodes = graph.labels, graph.nodes
    # a two-record component is one direct edge: nothing transitive to stop
    sizes = np.bincount(labels[nodes], minlength=len(labels))
    nodes = nodes[sizes[labels[nodes]] >= 3]
    if len(nodes) == 0:
        return []
    con.register("_link_dob_nodes", pa.table({"unit_id": nodes, "label": labels[nodes]}))
    con.register("_link_dob_edges", pa.table({
        "ua": np.minimum(graph.left, graph.right), "ub": np.maximum(graph.left, graph.right)}))
    try:
        rows = con.execute(f"""
            WITH u AS (
                SELECT n.unit_id, n.label, i.dob, i.dob_str
                FROM _link_dob_nodes n JOIN {tables.IDENTITIES} i USING (unit_id)
                WHERE i.dob IS NOT NULL
            )
            , conflicts AS (
                SELECT a.unit_id AS ua, b.unit_id AS ub
                FROM u a JOIN u b ON a.label = b.label AND a.unit_id < b.unit_id
                WHERE {_conflict_sql("a", "b")}
                  AND NOT EXISTS (SELECT 1 FROM _link_dob_edges e
                                  WHERE e.ua = a.unit_id AND e.ub = b.unit_id)
            ), near AS (
                SELECT ua AS unit_id, ub AS other FROM _link_dob_edges
                UNION ALL SELECT ub, ua FROM _link_dob_edges
            )
            SELECT c.ua, c.ub FROM conflicts c
            -- explained through a dated record both link to directly, whose date is one
            -- keying error from each: not a bridge
            WHERE NOT EXISTS (
                SELECT 1 FROM near na JOIN near nb ON na.other = nb.other
                JOIN u m ON m.unit_id = na.other
                JOIN u a ON a.unit_id = c.ua JOIN u b ON b.unit_id = c.ub
                WHERE na.unit_id = c.ua AND nb.unit_id = c.ub
                  AND NOT ({_conflict_sql("a", "m")}) AND NOT ({_conflict_sql("b", "m")}))
        """).fetchall()
    finally:
        con.unregister("_link_dob_nodes")
        con.unregister("_link_dob_edges")
    return [(int(a), int(b)) for a, b in rows]
