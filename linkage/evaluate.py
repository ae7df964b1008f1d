"""Accuracy of the current crosswalk against a truth file (the generator's truth.parquet).

Units are crosswalk units (source_system, partner_org, source_person_id). Pairwise metrics
count unordered unit pairs: a predicted pair is two units with one person_id, a true pair two
units with one true_person_id. Counts come from group sizes (sum of n*(n-1)/2), never from
materialising the pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from core import tables
from core.errors import InputRejected, NotFound

TRUTH_COLUMNS = ("source_system", "partner_org", "source_person_id", "true_person_id")
FLAG_COLUMNS = ("is_twin", "has_double_surname", "has_second_ssid")
GROUP_COLUMNS = ("race_ethnicity", "gender")


@dataclass
class Evaluation:
    units_evaluated: int
    units_missing_from_crosswalk: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float
    true_persons: int
    predicted_clusters: int
    exact_cluster_rate: float  # true persons whose records form exactly one predicted cluster
    pure_cluster_rate: float  # predicted clusters holding one true person only
    twin_pairs: int  # pairs of twins (different people, same surname + birth date)
    twins_apart_rate: float | None
    recall_by_group: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # cross-agency recall: of the true pairs with one unit in each of two source systems
    # ("calpads-college", "calpads-ccgi", "college-ccgi"), the share put in one person
    recall_by_source_pair: dict[str, float | None] = field(default_factory=dict)
    # people who are only ever college students (no CALPADS record: adults schooled elsewhere)
    # and the share of them whose predicted person holds a CALPADS unit: a college-only adult
    # tied to a K-12 student, who then counts as that student's college enrolment
    college_only_persons: int = 0
    college_only_tied_to_k12: float | None = None
    # recall over the true pairs in which at least one unit carries a noise tag of the truth
    # file (``typo``, ``dob_year_off`` ...): which kind of noise the misses come from
    recall_by_noise: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def _pairs(n: str) -> str:
    return f"coalesce(sum({n} * ({n} - 1) / 2), 0)"


def evaluate(con: duckdb.DuckDBPyConnection, truth_path: Path) -> Evaluation:
    """Pairwise precision / recall / F1, cluster metrics, twins apart, recall by group."""
    if not truth_path.exists():
        raise NotFound(f"truth file {truth_path} not found")
    cols = {r[0] for r in con.execute(
        "SELECT name FROM parquet_schema(?)", [str(truth_path)]).fetchall()}
    missing = [c for c in TRUTH_COLUMNS if c not in cols]
    if missing:
        raise InputRejected(f"truth file {truth_path} lacks column(s) {', '.join(missing)}")
    flags = [c for c in FLAG_COLUMNS if c in cols]
    groups = [c for c in GROUP_COLUMNS if c in cols]
    extra = "".join(f", bool_or(coalesce(CAST({c} AS BOOLEAN), false)) AS {c}" for c in flags)
    extra += "".join(f", mode(CAST({c} AS VARCHAR)) AS {c}" for c in groups)
    if "noise" in cols:
        extra += ", string_split(coalesce(mode(CAST(noise AS VARCHAR)), ''), ';') AS noise_tags"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _eval_units AS
        WITH t AS (
            SELECT CAST(source_system AS VARCHAR) AS source_system,
                   CAST(partner_org AS VARCHAR) AS partner_org,
                   CAST(source_person_id AS VARCHAR) AS source_person_id,
                   mode(CAST(true_person_id AS VARCHAR)) AS true_person_id {extra}
            FROM read_parquet(?) GROUP BY 1, 2, 3
        )
        SELECT t.*, x.person_id
        FROM t LEFT JOIN {tables.CROSSWALK} x
            USING (source_system, partner_org, source_person_id)
    """, [str(truth_path)])
    missing_row = con.execute(
        "SELECT count(*) FILTER (WHERE person_id IS NULL), count(*) FILTER "
        "(WHERE person_id IS NOT NULL) FROM _eval_units").fetchone()
    assert missing_row is not None
    con.execute("DELETE FROM _eval_units WHERE person_id IS NULL")

    def scalar(sql: str) -> int:
        row = con.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    tp = scalar(f"SELECT {_pairs('n')} FROM (SELECT count(*) n FROM _eval_units "
                "GROUP BY person_id, true_person_id)")
    predicted = scalar(f"SELECT {_pairs('n')} FROM (SELECT count(*) n FROM _eval_units "
                       "GROUP BY person_id)")
    true = scalar(f"SELECT {_pairs('n')} FROM (SELECT count(*) n FROM _eval_units "
                  "GROUP BY true_person_id)")
    precision, recall = _ratio(tp, predicted), _ratio(tp, true)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    true_persons = scalar("SELECT count(DISTINCT true_person_id) FROM _eval_units")
    clusters = scalar("SELECT count(DISTINCT person_id) FROM _eval_units")
    exact = scalar("""
        WITH pp AS (SELECT person_id, count(*) AS pn FROM _eval_units GROUP BY 1),
             tp AS (SELECT true_person_id, min(person_id) AS lo, max(person_id) AS hi,
                           count(*) AS tn FROM _eval_units GROUP BY 1)
        SELECT count(*) FROM tp JOIN pp ON pp.person_id = tp.lo
        WHERE tp.lo = tp.hi AND pp.pn = tp.tn""")
    pure = scalar("SELECT count(*) FROM (SELECT person_id FROM _eval_units GROUP BY 1 "
                  "HAVING count(DISTINCT true_person_id) = 1)")

    twin_pairs, twins_apart = _twins(con, "is_twin" in flags)
    by_group: dict[str, dict[str, float | None]] = {}
    for column in [*flags, *groups]:
        by_group[column] = _recall_by(con, column)
    by_source = _recall_by_source_pair(con)
    college_only, tied = _college_only_tied(con)
    by_noise = _recall_by_noise(con) if "noise" in cols else {}
    con.execute("DROP TABLE IF EXISTS _eval_units")
    return Evaluation(
        units_evaluated=int(missing_row[1]),
        units_missing_from_crosswalk=int(missing_row[0]),
        true_pairs=true, predicted_pairs=predicted, true_positive_pairs=tp,
        precision=precision, recall=recall, f1=f1,
        true_persons=true_persons, predicted_clusters=clusters,
        exact_cluster_rate=_ratio(exact, true_persons),
        pure_cluster_rate=_ratio(pure, clusters),
        twin_pairs=twin_pairs,
        twins_apart_rate=(twins_apart / twin_pairs) if twin_pairs else None,
        recall_by_group=by_group,
        recall_by_source_pair=by_source,
        college_only_persons=college_only,
        college_only_tied_to_k12=(tied / college_only) if college_only else None,
        recall_by_noise=by_noise,
    )


def _twins(con: duckdb.DuckDBPyConnection, has_flag: bool) -> tuple[int, int]:
    """Pairs of units of different twin persons sharing a surname token and birth date."""
    if not has_flag:
        return 0, 0
    row = con.execute(f"""
        WITH t AS (
            SELECT e.true_person_id, e.person_id, i.dob, i.last_tokens
            FROM _eval_units e JOIN {tables.IDENTITIES} i
                USING (source_system, partner_org, source_person_id)
            WHERE e.is_twin AND i.dob IS NOT NULL
        )
        SELECT count(*), count(*) FILTER (WHERE a.person_id <> b.person_id)
        FROM t a JOIN t b ON a.dob = b.dob AND a.true_person_id < b.true_person_id
        WHERE list_has_any(a.last_tokens, b.last_tokens)
    """).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _college_only_tied(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(true persons with college units and no CALPADS unit, those of them whose predicted
    person also holds a CALPADS unit)."""
    row = con.execute("""
        WITH persons AS (
            SELECT true_person_id FROM _eval_units GROUP BY 1
            HAVING bool_or(source_system = 'college') AND NOT bool_or(source_system = 'calpads')
        ), k12 AS (
            SELECT DISTINCT person_id FROM _eval_units WHERE source_system = 'calpads'
        )
        SELECT count(DISTINCT p.true_person_id),
               count(DISTINCT p.true_person_id) FILTER (WHERE k.person_id IS NOT NULL)
        FROM persons p JOIN _eval_units e USING (true_person_id)
        LEFT JOIN k12 k ON k.person_id = e.person_id
    """).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _recall_by_noise(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    """Per noise tag: recall over the true pairs with at least one unit carrying it (all
    pairs of the person minus the pairs of its untagged units, within and across clusters)."""
    rows = con.execute(f"""
        WITH tags AS (SELECT DISTINCT unnest(noise_tags) AS tag FROM _eval_units),
             u AS (SELECT t.tag, e.true_person_id, e.person_id,
                          list_contains(e.noise_tags, t.tag) AS tagged
                   FROM tags t CROSS JOIN _eval_units e WHERE t.tag <> ''),
             persons AS (SELECT tag, true_person_id, count(*) AS n,
                                count(*) FILTER (WHERE NOT tagged) AS m
                         FROM u GROUP BY ALL HAVING bool_or(tagged)),
             clusters AS (SELECT tag, true_person_id, person_id, count(*) AS n,
                                 count(*) FILTER (WHERE NOT tagged) AS m
                          FROM u GROUP BY ALL),
             truth AS (SELECT tag, {_pairs('n')} - {_pairs('m')} AS n FROM persons GROUP BY 1),
             hit AS (SELECT c.tag, {_pairs('c.n')} - {_pairs('c.m')} AS n
                     FROM clusters c SEMI JOIN persons p USING (tag, true_person_id)
                     GROUP BY 1)
        SELECT truth.tag, truth.n, coalesce(hit.n, 0) FROM truth LEFT JOIN hit USING (tag)
        ORDER BY 1
    """).fetchall()
    return {str(tag): (int(h) / int(n) if n else None) for tag, n, h in rows}


def _recall_by(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, float | None]:
    rows = con.execute(f"""
        WITH truth AS (SELECT true_person_id, any_value({column}) AS g, count(*) AS n
                       FROM _eval_units GROUP BY 1),
             hit AS (SELECT true_person_id, count(*) AS n FROM _eval_units
                     GROUP BY true_person_id, person_id),
             found AS (SELECT true_person_id, {_pairs('n')} AS tp FROM hit GROUP BY 1)
        SELECT CAST(t.g AS VARCHAR), {_pairs('t.n')}, coalesce(sum(f.tp), 0)
        FROM truth t LEFT JOIN found f USING (true_person_id)
        GROUP BY t.g ORDER BY 1
    """).fetchall()
    return {str(g).lower() if g in ("true", "false") else str(g):
            (int(hit) / int(true) if true else None) for g, true, hit in rows}


SOURCE_ORDER = ("calpads", "college", "ccgi")


def _recall_by_source_pair(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    """Recall over the true pairs joining two different source systems, per pair of systems."""
    order = "CASE source_system " + " ".join(
        f"WHEN '{s}' THEN {i}" for i, s in enumerate(SOURCE_ORDER)) + " ELSE 9 END"
    rows = con.execute(f"""
        WITH c AS (SELECT true_person_id, person_id, source_system, {order} AS k,
                          count(*) AS n FROM _eval_units GROUP BY ALL),
             t AS (SELECT true_person_id, source_system, k, sum(n) AS n FROM c GROUP BY ALL),
             truth AS (SELECT a.source_system AS sa, b.source_system AS sb, sum(a.n * b.n) AS n
                       FROM t a JOIN t b ON a.true_person_id = b.true_person_id
                        AND (a.k, a.source_system) < (b.k, b.source_system) GROUP BY ALL),
             hit AS (SELECT a.source_system AS sa, b.source_system AS sb, sum(a.n * b.n) AS n
                     FROM c a JOIN c b ON a.true_person_id = b.true_person_id
                      AND a.person_id = b.person_id
                      AND (a.k, a.source_system) < (b.k, b.source_system) GROUP BY ALL)
        SELECT truth.sa, truth.sb, truth.n, coalesce(hit.n, 0)
        FROM truth LEFT JOIN hit USING (sa, sb) ORDER BY 1, 2
    """).fetchall()
    return {f"{a}-{b}": (int(h) / int(n) if n else None) for a, b, n, h in rows}
