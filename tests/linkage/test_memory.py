"""The link in bounded memory (issue 26): predict scored in slices gives the unsliced result,
Splink's workspace lives in the warehouse's DuckDB instance (one memory limit), and a run
that fails records its error and stage, with the operator told what to change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

import linkage
from core.errors import InternalError
from core.settings import Settings
from core.warehouse import connect_encrypted
from linkage.backend import WORKSPACE
from tests.link_fixtures import encrypted_home_with_staging, make_population, write_staging

N = 300


def _link(
    home: Path, chunk_pairs: int | None = None
) -> tuple[duckdb.DuckDBPyConnection, linkage.LinkRunSummary]:
    home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    write_staging(con, make_population(N, seed=5, twins=4, second_ssid=4))
    summary = linkage.run_annual_link(
        con, settings=Settings(home=home, review_lower_threshold=0.01,
                          link_predict_chunk_pairs=chunk_pairs),
        run_id="y1", runs_dir=home / "runs")
    return con, summary


def _crosswalk(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], str]:
    rows = con.execute("SELECT source_system, partner_org, source_person_id, person_id "
                       "FROM mdm.crosswalk").fetchall()
    return {(a, b, c): d for a, b, c, d in rows}


def _queue(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[float, str]]:
    rows = con.execute("SELECT pair_id, match_probability, reason FROM mdm.review_queue "
                       "").fetchall()
    return {p: (round(m, 9), r) for p, m, r in rows}


@pytest.mark.slow
def test_predict_in_slices_gives_the_same_clusters_and_ids(tmp_path: Path) -> None:
    whole_con, whole = _link(tmp_path / "whole")
    # a few hundred candidate pairs per slice: the small world is scored in many slices
    sliced_con, sliced = _link(tmp_path / "sliced", chunk_pairs=400)
    assert whole.predict_chunks == 1
    assert sliced.predict_chunks >= 4
    assert sliced.pairs_scored == whole.pairs_scored > 0
    assert sliced.pairs_above_lower_threshold == whole.pairs_above_lower_threshold
    assert sliced.pairs_above_threshold == whole.pairs_above_threshold
    assert [r["marginal_pairs"] for r in sliced.blocking_rules] == [
        r["marginal_pairs"] for r in whole.blocking_rules]
    assert sliced.clusters == whole.clusters
    # same person id for every crosswalk unit, same review queue (pairs and probabilities)
    assert _crosswalk(sliced_con) == _crosswalk(whole_con)
    assert _queue(sliced_con) == _queue(whole_con)
    assert sliced.id_changes == whole.id_changes


def test_splink_works_in_the_warehouse_instance_and_leaves_nothing(tmp_path: Path) -> None:
    con, summary = _link(tmp_path)
    attached = {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()")
                .fetchall()}
    assert WORKSPACE not in attached  # detached when the run ended: its tables are freed
    assert summary.predict_chunks == 1
    assert not (tmp_path / "tmp" / "splink-y1").exists()


def test_a_run_out_of_memory_records_the_error_and_the_stage(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, make_population(150, seed=2))
    con.execute("SET memory_limit = '20MB'")
    con.execute(f"SET temp_directory = '{tmp_path / 'tmp'}'")
    settings = Settings(home=tmp_path, duckdb_memory_limit="20MB")
    with pytest.raises(InternalError) as raised:
        linkage.run_annual_link(con, settings=settings, run_id="tiny", runs_dir=tmp_path / "r")
    message = str(raised.value)
    assert "failed in stage standardise" in message
    assert "Out of Memory" in message and "raise it" in message
    assert "C2C_DUCKDB_MEMORY_LIMIT=20MB" in message
    status, stage, error = con.execute(
        "SELECT status, failed_stage, error FROM mdm.link_runs WHERE run_id = 'tiny'"
    ).fetchone() or (None, None, None)
    assert (status, stage) == ("failed", "standardise")
    assert error.startswith("OutOfMemoryException: Out of Memory Error")

    # with memory enough, the next run goes through and the failed one stays on record
    con.execute("SET memory_limit = '2GB'")
    done = linkage.run_annual_link(con, settings=Settings(home=tmp_path), run_id="next",
                                   runs_dir=tmp_path / "r")
    assert done.clusters > 0
    rows = con.execute("SELECT run_id, status, failed_stage FROM mdm.link_runs "
                       "ORDER BY started_at").fetchall()
    assert rows == [("tiny", "failed", "standardise"), ("next", "succeeded", None)]


def test_failed_stage_names_the_model_step() -> None:
    from linkage.run import failed_stage
    assert failed_stage([]) == "standardise"
    assert failed_stage(["standardise"]) == "train_predict: train_u"
    assert failed_stage(["standardise", "train_u", "train_em_names", "train_em_dob"]) == (
        "train_predict: predict")
    assert failed_stage(["standardise", "train_u", "train_em_names", "train_em_dob",
                         "predict", "train_predict", "artefacts"]) == "cluster"


def test_failure_advice_for_a_full_temp_disk(tmp_path: Path) -> None:
    from linkage.run import failure_advice
    settings = Settings(home=tmp_path)
    full = duckdb.IOException('Could not write file "x.block": No space left on device')
    advice = failure_advice(full, settings, "train_predict: predict")
    assert str(settings.tmp_dir) in advice and "free" in advice
    oom = duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block")
    assert "C2C_LINK_PREDICT_CHUNK_PAIRS" in failure_advice(oom, settings,
                                                           "train_predict: predict")
    assert "C2C_LINK_PREDICT_CHUNK_PAIRS" not in failure_advice(oom, settings, "stable_ids")
    assert failure_advice(ValueError("bad"), settings, "cluster") == ""


@pytest.mark.slow
def test_c2c_link_out_of_memory_says_what_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    settings, key = encrypted_home_with_staging(home, monkeypatch, make_population(150, seed=2))

    # the operator's command, as a process: the console entry point renders the error
    env = {**os.environ, "C2C_HOME": str(home), "C2C_DUCKDB_MEMORY_LIMIT": "20MB",
           "COLUMNS": "400"}
    entry = "import sys; from cli.main import main; sys.argv[0] = 'c2c'; main()"
    failed = subprocess.run([sys.executable, "-c", entry, "link", "--run-id", "cli-oom"],
                            env=env, capture_output=True, text=True, timeout=600)
    said = " ".join(failed.stderr.split())
    assert failed.returncode == 1, failed.stderr
    assert "error: link run cli-oom failed in stage" in said
    assert "raise it" in said and "C2C_DUCKDB_MEMORY_LIMIT=20MB" in said

    con = connect_encrypted(settings.warehouse_path, key, temp_dir=settings.tmp_dir)
    status, stage, error = con.execute(
        "SELECT status, failed_stage, error FROM mdm.link_runs WHERE run_id = 'cli-oom'"
    ).fetchone() or (None, None, None)
    con.close()
    assert status == "failed" and stage and "Out of Memory" in error


def test_predict_slices_follow_the_memory_limit(tmp_path: Path) -> None:
    from linkage.model import BlockingChoice, predict_chunks
    from linkage.run import predict_chunk_pairs
    four = Settings(home=tmp_path, duckdb_memory_limit="4GB")
    assert four.duckdb_memory_limit_bytes == 4_000_000_000
    binary = Settings(home=tmp_path, duckdb_memory_limit="4GiB")
    assert binary.duckdb_memory_limit_bytes == 4 * 1024**3
    assert predict_chunk_pairs(four) == 4_000_000
    assert predict_chunk_pairs(Settings(home=tmp_path, link_predict_chunk_pairs=123)) == 123
    # the kept rules' measured counts over the slice size; dropped rules do not count
    choices = [BlockingChoice("a", 9_000_000, True), BlockingChoice("b", 50_000_000, False),
               BlockingChoice("c", 3_000_000, True)]
    assert predict_chunks(choices, 4_000_000) == 3
    assert predict_chunks([BlockingChoice("a", 0, True)], 4_000_000) == 1


def test_blocking_gives_splinks_pairs_and_first_rules(tmp_path: Path) -> None:
    """Predict's own blocking (each rule's bare join, one GROUP BY) makes exactly the pairs
    Splink's blocking makes, each with the same first rule, for every candidate rule."""
    from linkage import model
    from linkage.backend import DuckDBBackend
    from linkage.identity_extras import identity_extras
    from linkage.standardise import build_identities

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, make_population(N, seed=5, twins=4, second_ssid=4))
    build_identities(con, "b1", extras=identity_extras(con))
    engine = DuckDBBackend(Settings(home=tmp_path), "b1", warehouse=con)
    try:
        rules = list(model.CANDIDATE_RULES)
        linker = model._linker(con, engine, [r.creator() for r in rules])
        splinks = linker.inference.compute_blocked_pairs_for_predict()
        expected = engine.query(f"SELECT CAST(match_key AS INTEGER), join_key_l, join_key_r "
                                f"FROM {splinks.physical_name}")
        ours = engine.query(f"SELECT CAST(match_key AS INTEGER), join_key_l, join_key_r FROM "
                            f"({model.blocked_pairs_sql(rules, model.INPUT_TABLE)})")
    finally:
        engine.close()
    assert len(expected) > N  # many rules generate pairs in this world
    assert len({key for key, *_ in expected}) >= 5
    assert sorted(ours) == sorted(expected)


def test_measuring_keeps_the_custom_rules_pairs_for_the_blocking(tmp_path: Path) -> None:
    """Each custom rule's self-join runs once (measured and kept for the blocking, not joined a
    second time): the counts equal each rule's own count query, and the blocking from the kept
    pairs equals the blocking that joins every rule."""
    from linkage import model
    from linkage.backend import DuckDBBackend
    from linkage.identity_extras import identity_extras
    from linkage.standardise import build_identities

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, make_population(N, seed=5, twins=4, second_ssid=4))
    records = sum(build_identities(con, "b1", extras=identity_extras(con)).values())
    engine = DuckDBBackend(Settings(home=tmp_path), "b1", warehouse=con)
    try:
        counted = [c for _, c in model.measure_rules(con, records)]
        kept = [c for _, c in model.measure_rules(con, records, engine)]
        stored = engine.query(f"SELECT count(*) FROM {model.RULE_PAIRS_TABLE}")[0][0]
        rules = list(model.CANDIDATE_RULES)
        model._linker(con, engine, [r.creator() for r in rules])
        select = "SELECT CAST(match_key AS INTEGER), join_key_l, join_key_r FROM "
        joined = engine.query(select + f"({model.blocked_pairs_sql(rules, model.INPUT_TABLE)})")
        from_kept = model.blocked_pairs_sql(rules, model.INPUT_TABLE, model.RULE_PAIRS_TABLE)
        read_back = engine.query(select + f"({from_kept})")
    finally:
        engine.close()
    assert [(c.rule, c.pairs, c.kept) for c in kept] == [
        (c.rule, c.pairs, c.kept) for c in counted]
    custom = [c.pairs for c, r in zip(counted, model.CANDIDATE_RULES, strict=True)
              if r.condition is not None]
    assert stored == sum(custom) and sum(1 for n in custom if n) >= 3
    assert len(joined) > N
    assert sorted(read_back) == sorted(joined)


def test_predict_prefilter_keeps_every_pair_of_the_band() -> None:
    """Splink filters scored pairs on the match weight before they are written: the prefilter
    sits below the band's lower threshold, so the exact probability test after it keeps the
    same pairs; with no threshold inside (0, 1) there is no prefilter."""
    import math

    from linkage.model import prefilter_weight
    for lower in (1e-6, 0.01, 0.5, 0.9, 0.999999):
        weight = prefilter_weight(lower)
        assert weight is not None
        probability = 2 ** weight / (1 + 2 ** weight)
        assert probability < lower
        assert math.log2(lower / (1 - lower)) - weight >= 0.5
    assert prefilter_weight(0.0) is None and prefilter_weight(1.0) is None


def test_standardise_in_slices_gives_the_same_identities(tmp_path: Path) -> None:
    """The units' representative values chosen in slices (the state's year ran out of memory
    under 4 GB choosing them in one statement) are the values chosen in one statement, and
    the link derives the slice from its memory limit."""
    from linkage.identity_extras import identity_extras
    from linkage.run import standardise_slice_rows
    from linkage.standardise import build_identities

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, make_population(N, seed=5, twins=4, second_ssid=4))
    whole = build_identities(con, "s1", extras=identity_extras(con))
    expected = con.execute("SELECT * EXCLUDE (run_id) FROM mdm.identities ORDER BY unit_id"
                           ).fetchall()
    sliced = build_identities(con, "s1", extras=identity_extras(con), slice_rows=40)
    got = con.execute("SELECT * EXCLUDE (run_id) FROM mdm.identities ORDER BY unit_id"
                      ).fetchall()
    assert sum(whole.values()) > 400  # more than ten slices of 40 grouped rows
    assert sliced == whole and got == expected
    small = Settings(home=tmp_path, duckdb_memory_limit="1GB")
    assert standardise_slice_rows(small) * 4 == standardise_slice_rows(
        Settings(home=tmp_path, duckdb_memory_limit="4GB"))


def test_splinks_whole_input_is_read_in_place_not_copied_per_query(tmp_path: Path) -> None:
    """DuckDB 1.4 materialises a CTE a query reads more than once, and Splink's queries read
    ``__splink__df_concat`` (every record, every model column) two to four times: at 8M
    identities the term-frequency tables, the prior and each EM session copied the whole
    input first (about 80 s of the link). The run's DuckDB API marks those CTEs NOT
    MATERIALIZED: the plans the link runs hold no CTE over the whole input."""
    from splink import Linker, SettingsCreator
    from splink import comparison_library as cl

    from linkage.backend import InlinedInputsDuckDBAPI

    con = duckdb.connect()
    con.execute("CREATE TABLE people AS SELECT i AS unique_id, 'N' || (i % 7) AS first_name, "
                "'S' || (i % 11) AS last_name FROM range(200) t(i)")

    def ctes(select: str) -> list[str]:
        """The names of the CTEs DuckDB's plan for ``select`` materialises."""
        found: list[str] = []

        def walk(node: dict[str, Any]) -> None:
            if node.get("name", "").strip() == "CTE":
                found.append(str(node.get("extra_info", {}).get("CTE Name", "")))
            for child in node.get("children", []):
                walk(child)
        for root in json.loads(con.execute("EXPLAIN (FORMAT JSON) " + select).fetchall()[0][1]):
            walk(root)
        return found

    plans: list[list[str]] = []

    class Spy(InlinedInputsDuckDBAPI):
        def _execute_sql_against_backend(self, final_sql: str) -> duckdb.DuckDBPyRelation:
            rewritten = linkage.backend.inline_input_ctes(final_sql)
            if rewritten.lstrip().upper().startswith("CREATE TABLE"):
                plans.append(ctes(rewritten.split(" AS\n", 1)[1]))
            return super()._execute_sql_against_backend(final_sql)

    db_api = Spy(connection=con)
    linker = Linker(db_api.register("people"), SettingsCreator(
        link_type="dedupe_only", comparisons=[
            cl.ExactMatch("first_name").configure(term_frequency_adjustments=True),
            cl.ExactMatch("last_name")]))
    linker.table_management.compute_tf_table("first_name")
    linker.training.estimate_probability_two_random_records_match(
        ["l.first_name = r.first_name AND l.last_name = r.last_name"], recall=0.9)
    assert len(plans) >= 2
    assert not [p for p in plans if "__splink__df_concat" in p]
    # the same SQL as Splink writes it: DuckDB copies the whole input into a CTE
    sql = "WITH\n\n__splink__df_concat as (\nSELECT * FROM people\n)\n" \
          "SELECT count(*) FROM __splink__df_concat a JOIN __splink__df_concat b USING (unique_id)"
    assert ctes(sql) == ["__splink__df_concat"]
    assert ctes(linkage.backend.inline_input_ctes(sql)) == []


def test_predict_slices_are_ranges_of_the_left_id_that_cover_each_pair_once() -> None:
    """Slices are ranges of the left record's id (Splink then reads only that range of the
    input for a slice's left records), balanced by approximate quantiles: every pair falls
    in exactly one slice, and skewed ids (low ids pair with many) still give even slices."""
    from linkage import model

    class Engine:
        def __init__(self) -> None:
            self.con = duckdb.connect()

        def query(self, sql: str) -> list[tuple[Any, ...]]:
            return self.con.execute(sql).fetchall()

    engine = Engine()
    # left ids skewed towards low ids, as l < r makes them
    engine.con.execute(f"""CREATE TABLE {model.BLOCKED_PAIRS_TABLE} AS
        SELECT CAST(floor(sqrt(i)) AS BIGINT) AS join_key_l, i AS join_key_r, '0' AS match_key
        FROM range(1, 200001) t(i)""")
    total = 200_000
    assert model._slice_conditions(engine, 1) == ["true"]  # type: ignore[arg-type]
    conditions = model._slice_conditions(engine, 8)  # type: ignore[arg-type]
    assert 6 <= len(conditions) <= 8
    sizes = [int(engine.query(f"SELECT count(*) FROM {model.BLOCKED_PAIRS_TABLE} "
                              f"WHERE {c}")[0][0]) for c in conditions]
    assert sum(sizes) == total and max(sizes) < 2 * total / 8
    once = " + ".join(f"({c})::INT" for c in conditions)
    assert engine.query(f"SELECT count(*) FROM {model.BLOCKED_PAIRS_TABLE} "
                        f"WHERE {once} = 1")[0][0] == total


def test_a_duckdb_workspace_receives_rows_a_batch_at_a_time(tmp_path: Path) -> None:
    """The backends' common ``receive`` (Spark's takes the warehouse's blocked pairs): every
    row of every batch, an empty stream giving an empty table with its columns."""
    import pyarrow as pa

    from linkage.backend import DuckDBBackend

    table = pa.table({"match_key": [str(i % 3) for i in range(1000)],
                      "join_key_l": list(range(1000)), "join_key_r": list(range(1, 1001))})
    engine = DuckDBBackend(Settings(home=tmp_path), "r1")
    try:
        engine.receive("got", pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches(max_chunksize=97)))
        assert sorted(engine.query("SELECT * FROM got")) == sorted(
            zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
        engine.receive("none", pa.RecordBatchReader.from_batches(table.schema, []))
        assert engine.query("SELECT count(*) FROM none") == [(0,)]
        assert [r[0] for r in engine.query("DESCRIBE none")] == table.column_names
    finally:
        engine.close()
