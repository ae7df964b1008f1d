"""Aggregate tables for approved data requests (issue 7), with the published suppression rule.

A request names outcome variables, a grouping and a cohort. The table holds every cell of
the full grouping (zeros too) plus every margin (``all`` in any grouping column). Each count is
released by ``analytics.disclosure.release`` with the key sum of exactly the rows it counts, so
a request cell made of the same rows as a published cell (or as a cell of an earlier request)
shows the same rounded number: subtracting a request from the snapshot gives an interval,
never the hidden count (docs/metrics.md, "Disclosure control").
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import duckdb
import pyarrow as pa

from analytics.disclosure import RECORD_KEYS, ensure_record_keys, release
from analytics.metrics import (
    ALL,
    BOOLEAN_VALUES,
    METRIC_BY_NAME,
    POPULATIONS,
    SUBGROUP_DOMAINS,
)
from core import catalog
from core.cohort import request_where
from core.errors import Conflict, UserError
from core.protection import MIN_CELL
from core.requests import ApprovedRequest, RequestKind

MAX_GROUP_BY = 4
MAX_CELLS = 200_000
# Any variable but the person key; outcomes too ("FAFSA completion by CTE participation").
GROUPABLE = tuple(v.name for v in catalog.VARIABLES if v.role != "key")


def _keys_join(con: duckdb.DuckDBPyConnection) -> str:
    """``LEFT JOIN`` of the record keys as ``k`` (an empty stand-in before any exist)."""
    keys = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'disclosure' "
                       "AND table_name = 'record_keys'").fetchone()
    if keys and keys[0]:
        return f"LEFT JOIN {RECORD_KEYS} k ON k.person_id = CAST(s.person_id AS VARCHAR)"
    return ("LEFT JOIN (SELECT NULL AS person_id, CAST(0 AS SMALLINT) AS record_key) k "
            "ON FALSE")


def _value_sql(name: str) -> str:
    if catalog.VARIABLE_BY_NAME[name].dtype == "BOOLEAN":
        return f"CASE WHEN {name} THEN 'true' ELSE 'false' END"
    return f"coalesce(CAST({name} AS VARCHAR), 'unknown')"


def _validate(request: ApprovedRequest) -> tuple[list[str], list[str]]:
    if request.kind != RequestKind.AGGREGATE:
        raise Conflict(f"request {request.request_id} is not an aggregate request")
    metrics = [v for v in request.variables if v in METRIC_BY_NAME]
    unknown = [v for v in request.variables if v not in METRIC_BY_NAME and v not in GROUPABLE]
    if unknown:
        raise UserError(f"request {request.request_id}: unknown variables {unknown}")
    if not metrics:
        raise UserError(f"request {request.request_id}: no outcome variable requested")
    group_by = list(dict.fromkeys(request.group_by))
    bad = [g for g in group_by if g not in GROUPABLE]
    if bad:
        raise UserError(f"request {request.request_id}: cannot group by {bad}")
    if len(group_by) > MAX_GROUP_BY:
        raise UserError(f"request {request.request_id}: at most {MAX_GROUP_BY} grouping columns")
    return metrics, group_by


def aggregate_for_request(
    con: duckdb.DuckDBPyConnection, request: ApprovedRequest, min_cell: int = MIN_CELL, *,
    read_only: bool = False,
) -> pa.Table:
    """Suppressed counts: group_by columns, metric, numerator, denominator, rate, flags.
    ``read_only`` (previews): no record key is created; a person without one counts with
    key 0, so a preview never needs the warehouse for writing."""
    metrics, group_by = _validate(request)
    where, params = request_where(request)
    populations = sorted({METRIC_BY_NAME[m].population for m in metrics})
    dims = ", ".join(f"{_value_sql(g)} AS g{i}" for i, g in enumerate(group_by))
    conditions = [POPULATIONS[p] for p in populations] + [
        f"{POPULATIONS[METRIC_BY_NAME[m].population]} AND {m}" for m in metrics
    ]
    # per condition: the count, then the sum of the record keys of the rows counted
    counts = ", ".join(
        f"count(*) FILTER (WHERE {c}), coalesce(sum(k.record_key) FILTER (WHERE {c}), 0)"
        for c in conditions
    )
    select = f"{dims}, {counts}" if dims else counts
    group = " GROUP BY ALL" if dims else ""
    if not read_only:
        ensure_record_keys(con, f"SELECT person_id FROM {catalog.STUDENT_YEAR}")
    fetched = con.execute(
        f"SELECT {select} FROM {catalog.STUDENT_YEAR} s {_keys_join(con)} "
        f"WHERE {where}{group}", params
    ).fetchall()

    k = len(group_by)
    domains: list[list[str]] = []
    for i, name in enumerate(group_by):
        observed = {str(r[i]) for r in fetched}
        boolean = catalog.VARIABLE_BY_NAME[name].dtype == "BOOLEAN"
        fixed = SUBGROUP_DOMAINS.get(name, BOOLEAN_VALUES if boolean else None)
        domains.append([*fixed, *sorted(observed - set(fixed))] if fixed else sorted(observed))
    size = 1
    for domain in domains:
        size *= len(domain) + 1
    if size * len(metrics) > MAX_CELLS:
        raise UserError(f"request {request.request_id}: table would have too many cells")

    # finest cells (zeros included), then every margin by summing counts and key sums
    width = 2 * (len(populations) + len(metrics))
    finest: dict[tuple[str, ...], list[int]] = {
        key: [0] * width for key in itertools.product(*domains)
    }
    for row in fetched:
        finest[tuple(str(v) for v in row[:k])] = [int(v) for v in row[k:]]
    totals: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0] * width)
    for key, cell_counts in finest.items():
        for mask in itertools.product((False, True), repeat=k):
            target = tuple(ALL if m else v for v, m in zip(key, mask, strict=True))
            acc = totals[target]
            for i, count in enumerate(cell_counts):
                acc[i] += count
    keys = sorted(totals)

    columns: dict[str, list[object]] = {g: [] for g in group_by}
    for name in ("metric", "numerator", "denominator", "rate", "suppressed",
                 "suppression_reason"):
        columns[name] = []
    for m_index, metric in enumerate(metrics):
        p_index = populations.index(METRIC_BY_NAME[metric].population)
        n_at = 2 * (len(populations) + m_index)
        for key in keys:
            acc = totals[key]
            released = release(acc[n_at], acc[n_at + 1], acc[2 * p_index],
                               acc[2 * p_index + 1], min_cell)
            for g, v in zip(group_by, key, strict=True):
                columns[g].append(v)
            columns["metric"].append(metric)
            columns["numerator"].append(released.numerator)
            columns["denominator"].append(released.denominator)
            columns["rate"].append(released.rate)
            columns["suppressed"].append(released.suppressed)
            columns["suppression_reason"].append(released.suppression_reason)
    schema = pa.schema(
        [(g, pa.string()) for g in group_by]
        + [("metric", pa.string()), ("numerator", pa.int64()), ("denominator", pa.int64()),
           ("rate", pa.float64()), ("suppressed", pa.bool_()),
           ("suppression_reason", pa.string())]
    )
    return pa.table(columns, schema=schema)


def cohort_counts(con: duckdb.DuckDBPyConnection, request: ApprovedRequest
                  ) -> tuple[int, int, int, int]:
    """Rows and persons a request's cohort selects, each with the sum of their record keys:
    ``(rows, rows_key, persons, persons_key)``, the inputs the egress gate needs to release
    them (``core.gate.gate_band``). Reads only: a person without a record key yet (none is
    made before the first publish or request table) counts with key 0."""
    where, params = request_where(request)
    join = _keys_join(con)
    row = con.execute(
        f"""WITH c AS (SELECT s.person_id, coalesce(k.record_key, 0) AS key
                       FROM {catalog.STUDENT_YEAR} s {join} WHERE {where})
            SELECT count(*), coalesce(sum(key), 0),
                   (SELECT count(*) FROM (SELECT DISTINCT person_id, key FROM c)),
                   (SELECT coalesce(sum(key), 0) FROM (SELECT DISTINCT person_id, key FROM c))
            FROM c""", params).fetchone()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3])) if row else (0, 0, 0, 0)
