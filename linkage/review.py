"""Clerical review: the queue of uncertain pairs and the decisions that label them.

A pair is identified by its two crosswalk units, not by per-run row numbers, so a decision
made on this year's queue still applies next year: ``pair_id`` is a hash of the two unit keys
in sorted order. Decisions are used as labels in the next run: "match" becomes a must-link
and "non_match" a cannot-link in the clustering.
"""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa

from core import tables
from core.duck import table_exists
from core.errors import InputRejected, NotFound
from linkage.schema import REVIEW_QUEUE_DDL, ensure_schema

DECISIONS = ("match", "non_match")
UnitKey = tuple[str, str, str]


def pair_id(a: UnitKey, b: UnitKey) -> str:
    first, second = sorted((a, b))
    text = "\x1f".join((*first, *second))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def record_review_decision(
    con: duckdb.DuckDBPyConnection, pair_id: str, decision: str, reviewer: str
) -> None:
    """Record a clerical decision on a queued pair (the latest decision on a pair wins)."""
    if decision not in DECISIONS:
        raise InputRejected(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not reviewer.strip():
        raise InputRejected("reviewer is required")
    ensure_schema(con)
    keys = ("source_system_l, partner_org_l, source_person_id_l, source_system_r, "
            "partner_org_r, source_person_id_r")
    row = con.execute(f"SELECT {keys} FROM {tables.REVIEW_QUEUE} WHERE pair_id = ?",
                      [pair_id]).fetchone()
    if row is None and table_exists(con, tables.QUALITY_SAMPLE):
        # a pair of the clerical quality sample (linkage/quality.py) is decided the same way
        row = con.execute(f"SELECT {keys} FROM {tables.QUALITY_SAMPLE} WHERE pair_id = ? "
                          "LIMIT 1", [pair_id]).fetchone()
    if row is None:
        raise NotFound(f"no pair {pair_id!r} in the review queue or the quality sample")
    con.execute(
        f"INSERT INTO {tables.REVIEW_DECISIONS} (pair_id, source_system_l, partner_org_l, "
        f"source_person_id_l, source_system_r, partner_org_r, source_person_id_r, decision, "
        f"reviewer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [pair_id, *row, decision, reviewer],
    )


def decision_links(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(must_link, cannot_link) unit-id pairs from the latest decision on each pair."""
    rows = con.execute(f"""
        WITH latest AS (
            SELECT * FROM {tables.REVIEW_DECISIONS}
            QUALIFY row_number() OVER (PARTITION BY pair_id ORDER BY decided_at DESC) = 1
        )
        SELECT l.unit_id, r.unit_id, d.decision
        FROM latest d
        JOIN {tables.IDENTITIES} l ON l.source_system = d.source_system_l
             AND l.partner_org = d.partner_org_l AND l.source_person_id = d.source_person_id_l
        JOIN {tables.IDENTITIES} r ON r.source_system = d.source_system_r
             AND r.partner_org = d.partner_org_r AND r.source_person_id = d.source_person_id_r
    """).fetchall()
    must = [(int(a), int(b)) for a, b, d in rows if d == "match"]
    cannot = [(int(a), int(b)) for a, b, d in rows if d == "non_match"]
    return must, cannot


def write_queue(con: duckdb.DuckDBPyConnection, run_id: str, pairs: pa.Table) -> int:
    """Replace the queue with this run's uncertain pairs (columns unit_l, unit_r, p, reason),
    leaving out pairs that already carry a decision. Returns the queue size.

    All in SQL: at the state's size the band holds millions of pairs, too many to key and hash
    in Python. The pair id is ``pair_id`` of the two sorted unit keys; a pair listed twice
    keeps its last row (a refused confident pair after the band)."""
    # dropped and made again, not emptied: a DELETE takes each row out of the primary key's
    # index one by one (2.9 s for 94k rows at 8M identities)
    con.execute(f"DROP TABLE IF EXISTS {tables.REVIEW_QUEUE}")
    con.execute(REVIEW_QUEUE_DDL)
    if pairs.num_rows == 0:
        return 0
    con.register("_link_review", pairs.append_column(
        "ord", pa.array(range(pairs.num_rows), pa.int64())))
    try:
        con.execute(f"""INSERT INTO {tables.REVIEW_QUEUE}
            WITH keyed AS (
                SELECT q.ord, q.p, q.reason,
                       [l.source_system, l.partner_org, l.source_person_id] AS kl,
                       [r.source_system, r.partner_org, r.source_person_id] AS kr
                FROM _link_review q
                JOIN {tables.IDENTITIES} l ON l.unit_id = q.unit_l
                JOIN {tables.IDENTITIES} r ON r.unit_id = q.unit_r
            ), sorted AS (
                SELECT ord, p, reason, CASE WHEN kl <= kr THEN kl ELSE kr END AS a,
                       CASE WHEN kl <= kr THEN kr ELSE kl END AS b
                FROM keyed
            ), identified AS (
                SELECT *, sha256(array_to_string(list_concat(a, b), chr(31)))[:24] AS pair_id
                FROM sorted
            )
            SELECT pair_id, ?, a[1], a[2], a[3], b[1], b[2], b[3], p, reason
            FROM identified
            WHERE pair_id NOT IN (SELECT pair_id FROM {tables.REVIEW_DECISIONS})
            QUALIFY row_number() OVER (PARTITION BY pair_id ORDER BY ord DESC) = 1
            ORDER BY ord""", [run_id])
    finally:
        con.unregister("_link_review")
    counted = con.execute(f"SELECT count(*) FROM {tables.REVIEW_QUEUE}").fetchone()
    return int(counted[0]) if counted else 0


# Fields an operator compares when reviewing a pair, in display order (those present in
# mdm.identities are shown; the rest are skipped).
REVIEW_FIELDS = ("first_name", "last_name", "dob", "gender", "ssid", "zip", "address",
                 "city")


def queued_pairs(con: duckdb.DuckDBPyConnection, limit: int | None = None, *,
                 sample_run: str | None = None) -> list[dict[str, object]]:
    """The review queue, most uncertain first (probability nearest 0.5), each pair with both
    records side by side: ``{"pair_id", "match_probability", "reason", "left": {...},
    "right": {...}}`` where left/right hold the source keys and ``REVIEW_FIELDS``.

    The records hold identifiers: callers decide who may see them (see ``compare_fields``).
    Read-only: before any link run (no queue or identities yet) the queue is empty.

    ``sample_run``: the undecided pairs of that run's clerical quality sample instead, in the
    sample's review order (linkage/quality.py), ``match_probability`` from their weight and
    ``reason`` their stratum."""
    present = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
        tables.IDENTITIES.split(".", 1)).fetchall()}
    fields = [f for f in REVIEW_FIELDS if f in present]
    if sample_run is not None:
        if not present or not table_exists(con, tables.QUALITY_SAMPLE):
            return []
        source = (f"(SELECT pair_id, coalesce(1 / (1 + pow(2, -match_weight)), 1.0) AS "
                  f"match_probability, stratum AS reason, prn, source_system_l, partner_org_l,"
                  f" source_person_id_l, source_system_r, partner_org_r, source_person_id_r "
                  f"FROM {tables.QUALITY_SAMPLE} WHERE run_id = ? AND pair_id NOT IN "
                  f"(SELECT pair_id FROM {tables.REVIEW_DECISIONS}))")
        order, params = "q.prn", [sample_run]
    elif not present or queue_size(con) == 0:
        return []
    else:
        source, order, params = tables.REVIEW_QUEUE, "abs(q.match_probability - 0.5)", []
    keys = ("source_system", "partner_org", "source_person_id", *fields)
    side = ", ".join("struct_pack(" + ", ".join(f"{k} := {a}.{k}" for k in keys) + ")"
                     for a in ("l", "r"))
    limit_sql = f"LIMIT {int(limit)}" if limit is not None else ""
    rows = con.execute(f"""
        SELECT q.pair_id, q.match_probability, q.reason, {side}
        FROM {source} q
        JOIN {tables.IDENTITIES} l ON l.source_system = q.source_system_l
             AND l.partner_org = q.partner_org_l AND l.source_person_id = q.source_person_id_l
        JOIN {tables.IDENTITIES} r ON r.source_system = q.source_system_r
             AND r.partner_org = q.partner_org_r AND r.source_person_id = q.source_person_id_r
        ORDER BY {order}, q.pair_id {limit_sql}
    """, params).fetchall()
    return [{"pair_id": pid, "match_probability": float(p), "reason": reason,
             "left": dict(left), "right": dict(right)}
            for pid, p, reason, left, right in rows]


def queue_size(con: duckdb.DuckDBPyConnection) -> int:
    """Pairs waiting in the review queue (0 before the first link run)."""
    try:
        row = con.execute(f"SELECT count(*) FROM {tables.REVIEW_QUEUE}").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row else 0


def compare_fields(left: dict[str, object], right: dict[str, object]) -> dict[str, str]:
    """Field by field ``same`` / ``differs`` / ``missing``: what a reviewer without the right
    to see identifiers is shown (no value leaves the warehouse)."""
    out = {}
    for field in REVIEW_FIELDS:
        if field not in left:
            continue
        a, b = left.get(field), right.get(field)
        out[field] = "missing" if a is None or b is None else ("same" if a == b else "differs")
    return out
