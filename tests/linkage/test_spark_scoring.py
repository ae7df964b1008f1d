"""Spark's scoring path, piece by piece: the Jaro-Winkler batches and the blocking.

- Each Arrow batch of the Jaro-Winkler UDF runs on a cursor of DuckDB's default connection:
  a new database per batch (``duckdb.connect()``, 35-50 ms) cost 14x the batch's own work,
  seven times per batch of predict (docs/scale.md, Spark).
- Spark scores the pairs the warehouse's DuckDB blocked (:func:`linkage.model.blocked_pairs_to`):
  every pair once with its first rule, on identities made so that every kind of rule
  condition (equality, ``//`` halves, list membership, a list of schools, date parts,
  inequalities with NULLs) meets pairs it must keep and pairs it must drop.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from linkage import model
from linkage.jaro import jaro_winkler_batch

NAMES = ["ANA", "ANNA", "JOSE", "JOSUE", "MARIA", "MARIO", "LI", "LEE", "GARCIA", "GRACIA"]


def _duckdb_jw(left: Sequence[str | None], right: Sequence[str | None]) -> list[float | None]:
    con = duckdb.connect()
    try:
        return [r[0] for r in con.execute(
            "SELECT jaro_winkler_similarity(a, b) FROM (SELECT unnest(?) AS a, unnest(?) AS b)",
            [left, right]).fetchall()]
    finally:
        con.close()


def test_jaro_winkler_batches_open_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    left = [a for a in NAMES for _ in NAMES] + [None, "A"]
    right = [b for _ in NAMES for b in NAMES] + ["A", None]
    want = _duckdb_jw(left, right)

    def no_new_database(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a Jaro-Winkler batch opened a DuckDB database of its own")

    monkeypatch.setattr(duckdb, "connect", no_new_database)
    got = jaro_winkler_batch(pa.array(left, pa.string()), pa.array(right, pa.string()))
    assert got.to_pylist() == want


def test_jaro_winkler_batches_in_threads_do_not_mix() -> None:
    # a Python worker may evaluate batches on more than one thread: each batch's cursor is a
    # connection of its own, so one batch never reads another's pairs
    rng = random.Random(3)
    batches = [([rng.choice(NAMES) for _ in range(500)], [rng.choice(NAMES) for _ in range(500)])
               for _ in range(8)]
    want = [_duckdb_jw(a, b) for a, b in batches]
    got: list[list[float | None]] = [[] for _ in batches]

    def run(i: int) -> None:
        for _ in range(5):
            a, b = batches[i]
            got[i] = jaro_winkler_batch(pa.array(a, pa.string()), pa.array(b, pa.string())
                                        ).to_pylist()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want


def _identities(n: int) -> pa.Table:
    """Identities with the columns the blocking rules read, few distinct values (so that
    rules meet), some NULLs, compound surnames and swapped names."""
    rng = random.Random(11)
    rows: dict[str, list[Any]] = {k: [] for k in (
        "unique_id", "ssid", "first_name", "last_name", "last1", "last2", "last_tokens",
        "dob", "dob_sym", "birth_year", "zip", "address", "enrolled_schools",
        "reported_schools")}
    for i in range(n):
        first = rng.choice(NAMES)
        tokens = rng.sample(NAMES, rng.choice((1, 1, 2)))
        if rng.random() < 0.05:  # swapped first and last name
            first, tokens = tokens[0], [first]
        dob = None if rng.random() < 0.1 else date(2005, 1, 1) + timedelta(rng.randrange(60))
        ssid = None if rng.random() < 0.5 else str(rng.randrange(100, 130)) + str(
            rng.randrange(100, 104))
        rows["unique_id"].append(i)
        rows["ssid"].append(ssid)
        rows["first_name"].append(first)
        rows["last_name"].append(" ".join(tokens))
        rows["last1"].append(tokens[0])
        rows["last2"].append(tokens[-1] if len(tokens) > 1 else None)
        rows["last_tokens"].append(tokens)
        rows["dob"].append(dob)
        rows["dob_sym"].append(None if dob is None else
                               f"{dob.year}{min(dob.month, dob.day):02d}"
                               f"{max(dob.month, dob.day):02d}")
        rows["birth_year"].append(None if dob is None else dob.year + rng.choice((0, 0, 1)))
        rows["zip"].append(rng.choice(["95814", "95815", None]))
        rows["address"].append(rng.choice(["1 MAIN ST", None, None]))
        # a CALPADS unit's enrolments, or the school a college or CCGI record names
        schools, kind = rng.sample(["0100001", "0100002", "0100003"], 2), rng.random()
        rows["enrolled_schools"].append(schools if kind < 0.4 else None)
        rows["reported_schools"].append(schools[:1] if 0.4 <= kind < 0.8 else None)
    return pa.table({**rows, "dob": pa.array(rows["dob"], pa.date32()),
                     "last_tokens": pa.array(rows["last_tokens"], pa.list_(pa.string())),
                     "enrolled_schools": pa.array(rows["enrolled_schools"], pa.list_(pa.string())),
                     "reported_schools": pa.array(rows["reported_schools"], pa.list_(pa.string()))})


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip(
        "pyspark", reason="SPARK BACKEND NOT TESTED: pyspark is missing; install the [spark] "
                          "extra to run tests/linkage/test_spark_scoring.py")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("c2c-blocking-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    try:
        yield session
    finally:
        # the link run refuses a context it did not start: leave none to later tests
        session.stop()


@pytest.mark.slow
def test_the_warehouses_pairs_reach_spark_whole_a_batch_at_a_time(
        spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spark scores the pairs DuckDB made on the warehouse (Spark's own blocking was 213 of
    488 JVM CPU seconds at 1M + 1M): handed over in Arrow batches, every pair arrives once
    with its first rule, and a run without pairs gets an empty table, not an error."""
    from core.settings import Settings
    from linkage.spark_backend import SparkBackend

    table = _identities(400)
    warehouse = duckdb.connect()
    warehouse.execute("CREATE SCHEMA mdm")
    warehouse.register("_ids", table)
    warehouse.execute("CREATE TABLE mdm.identities AS "
                      "SELECT unique_id AS unit_id, * EXCLUDE (unique_id) FROM _ids")
    rules = list(model.CANDIDATE_RULES)
    con = duckdb.connect()
    con.register("ids", table)
    want = set(con.execute(model.blocked_pairs_sql(rules, "ids")).fetchall())
    # the identities make most kinds of rule meet pairs (the comparison is not vacuous),
    # the rules on a list of schools (exploded) among them
    keys = {int(k) for k, _, _ in want}
    assert len(want) > 500 and len(keys) >= 8, (len(want), sorted(keys))
    assert {i for i, rule in enumerate(rules) if rule.explode is not None} <= keys

    engine = object.__new__(SparkBackend)  # the session is the fixture's; no run started
    engine.spark, engine.settings = spark, Settings()
    monkeypatch.setattr(model, "PAIRS_BATCH_ROWS", 97)  # many batches, the last one short
    model.blocked_pairs_to(engine, warehouse, rules)
    got = [tuple(r) for r in spark.sql(f"SELECT * FROM {model.BLOCKED_PAIRS_TABLE}").collect()]
    assert len(got) == len(want) and set(got) == want

    nothing = model.Rule("a rule no pair meets", condition="l.unique_id = r.unique_id")
    model.blocked_pairs_to(engine, warehouse, [nothing])
    assert spark.sql(f"SELECT count(*) FROM {model.BLOCKED_PAIRS_TABLE}").collect()[0][0] == 0
    # the view the pairs were made from is gone from the warehouse
    assert not warehouse.execute("SELECT * FROM duckdb_views() WHERE NOT internal "
                                 "AND view_name LIKE '_c2c%'").fetchall()


@pytest.mark.slow
def test_an_arrow_table_the_run_sends_goes_to_the_executors_not_into_the_plan(
        spark: Any) -> None:
    """Under the run's configuration an Arrow table (the identities, each batch of blocked
    pairs) becomes an RDD of Arrow batches converted on the executors. Under Spark's default
    a table below 48 MB becomes a LocalRelation, converted row by row in the driver and
    carried in the plan: 5 s per 2M-pair batch against 1.1 s (docs/scale.md, Spark)."""
    from pathlib import Path

    from core.settings import Settings
    from linkage.spark_backend import session_conf

    key = "spark.sql.execution.arrow.localRelationThreshold"
    pairs = pa.table({"match_key": [0, 1], "join_key_l": [1, 2], "join_key_r": [3, 4]})
    before = spark.conf.get(key)

    def plan_under(threshold: str) -> str:
        spark.conf.set(key, threshold)
        frame = spark.createDataFrame(pairs)
        assert sorted(tuple(r) for r in frame.collect()) == [(0, 1, 3), (1, 2, 4)]
        return str(frame._jdf.queryExecution().analyzed().toString())

    try:
        assert "LocalRelation" not in plan_under(
            session_conf(Settings(), "t", Path("splink.jar"))[key])
        # Spark's default (48 MB) makes it a LocalRelation: the setting is what changes it
        assert "LocalRelation" in plan_under("48MB")
    finally:
        spark.conf.set(key, before)
