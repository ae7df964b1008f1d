"""The Spark backend without a JVM: comparison SQL per dialect, and bad configuration failing
early with a ConfigError that names the fix (no Java, wrong Spark, no jar, no master).
"""

from __future__ import annotations

import shutil
import socket
import stat
from pathlib import Path

import duckdb
import pytest
import sqlglot

import linkage
from core.errors import ConfigError, InternalError
from core.settings import Settings
from linkage import dialect, model, spark_backend
from tests.link_fixtures import make_population, write_staging

ARRAYS = ("given_tokens", "last_tokens", "first_nick", "guardian_tokens", "enrolled_schools",
          "reported_schools")


def _spark_conditions() -> list[str]:
    return [level["sql_condition"]
            for c in dialect.comparisons_for(model.comparisons(), "spark", ARRAYS)
            for level in c["comparison_levels"]]


def test_every_comparison_level_is_generated_for_spark() -> None:
    conditions = _spark_conditions()
    text = " ".join(conditions).lower()
    # DuckDB-only spellings are gone, Spark's are there
    for duck in ("jaro_winkler_similarity", "list_has_any", "list_contains", "list_has_all",
                 "hamming", "date_diff", "suffix(", "len(", '"'):
        assert duck not in text, duck
    for spark in ("c2c_jaro_winkler(", "arrays_overlap(", "array_contains(", "size(",
                  "forall(", "datediff(", "endswith(", "damerau_levenshtein("):
        assert spark in text, spark
    # Splink re-reads every statement with sqlglot's Spark dialect: it must parse and survive
    for condition in conditions:
        if condition != "ELSE":
            assert sqlglot.transpile(condition, read="spark", write="spark")[0] == condition


def test_duckdb_comparisons_pass_through_unchanged() -> None:
    comparisons = model.comparisons()
    assert dialect.comparisons_for(comparisons, "duckdb", ARRAYS) is comparisons


def test_length_of_a_string_stays_length_and_of_a_list_becomes_size() -> None:
    sql = dialect.to_spark('len("last_tokens_l") = 1 AND length("ssid_l") = 10', ARRAYS)
    assert sql == "SIZE(`last_tokens_l`) = 1 AND LENGTH(`ssid_l`) = 10"


def test_date_diff_keeps_its_direction() -> None:
    # DuckDB date_diff('day', a, b) is b - a; Spark datediff(end, start) is end - start
    assert dialect.to_spark("date_diff('day', \"a_l\", \"a_r\") > 3", ()) == \
        "DATEDIFF(`a_r`, `a_l`) > 3"


def test_a_function_without_a_translation_fails_loudly() -> None:
    with pytest.raises(InternalError, match="list_reverse"):
        dialect.to_spark('list_reverse("last_tokens_l") = "last_tokens_r"', ARRAYS)


def test_hamming_translation_counts_differing_characters() -> None:
    # the Spark expression, evaluated by DuckDB (which has the same lambda and sequence
    # semantics for this shape) against DuckDB's own hamming()
    spark_sql = dialect.to_spark("hamming(a, b)", ())
    duck = sqlglot.transpile(spark_sql, read="spark", write="duckdb")[0]
    con = duckdb.connect()
    for a, b in [("20070214", "20070214"), ("20070214", "20071204"), ("1234567890",
                                                                      "1234567809")]:
        want = con.execute("SELECT hamming(?, ?)", [a, b]).fetchone()[0]
        got = con.execute(f"SELECT {duck} FROM (SELECT ? AS a, ? AS b)", [a, b]).fetchone()[0]
        assert got == want


def test_no_java_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no Java runtime"):
        spark_backend.find_java(None, str(tmp_path))
    with pytest.raises(ConfigError, match="JAVA_HOME"):
        spark_backend.find_java(str(tmp_path / "nojdk"), None)


def test_java_older_than_17_is_refused(tmp_path: Path) -> None:
    # a real executable answering `java -version` like a Java 11 runtime
    fake = tmp_path / "jdk11" / "bin" / "java"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(ConfigError, match="Java 11"):
        spark_backend.check_java(str(tmp_path / "jdk11"), None)
    assert spark_backend.java_major('java version "1.8.0_392"') == 8


def test_spark_versions() -> None:
    for ok in ("4.3.0", "4.0.1", "3.5.8"):
        spark_backend.check_spark_version(ok)
    for bad in ("3.4.1", "2.4.8", "5.0.0"):
        with pytest.raises(ConfigError, match="not supported"):
            spark_backend.check_spark_version(bad)


def test_missing_jar_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="similarity jar is missing"):
        spark_backend.check_jar(tmp_path / "scala-udf-similarity.jar")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_master_urls() -> None:
    for ok in ("local", "local[2]", "local[*]", "local[4,2]", "yarn"):
        spark_backend.check_master(ok)
    with pytest.raises(ConfigError, match="Spark Connect"):
        spark_backend.check_master("sc://127.0.0.1:15002")
    with pytest.raises(ConfigError, match="not a Spark master URL"):
        spark_backend.check_master("mesos://x:5050")
    with socket.socket() as listener:  # a listening port counts as reachable
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        spark_backend.check_master(f"spark://127.0.0.1:{listener.getsockname()[1]}")


def test_unreachable_master_fails_the_run_before_spark_starts(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_staging(con, make_population(40))
    settings = Settings(home=tmp_path, linkage_backend="spark",
                        spark_master=f"spark://127.0.0.1:{_closed_port()}")
    with pytest.raises(ConfigError, match="unreachable"):
        linkage.run_annual_link(con, settings=settings, run_id="r1", runs_dir=tmp_path / "runs")
    assert con.execute("SELECT status FROM mdm.link_runs WHERE run_id = 'r1'"
                       ).fetchone() == ("failed",)
    assert not (tmp_path / "tmp" / "spark-r1").exists()


@pytest.mark.slow
def test_spark_jaro_winkler_batch_is_duckdbs() -> None:
    # the Spark UDF's batch function must score exactly as DuckDB's jaro_winkler_similarity
    # does in SQL: names of the fixture, one-letter deletions and swaps, nulls, empties
    import pyarrow as pa

    from linkage.jaro import jaro_winkler_batch
    from tests.link_fixtures import FIRST, LAST

    # each name against its own one-letter deletions and swaps (the near pairs whose scores
    # the prefix bonus and transpositions decide), and the names against each other
    names = sorted(set(FIRST[:12] + LAST[:12]))
    pairs: list[tuple[str | None, str | None]] = [
        (a, b) for a in names for b in names if a < b]
    for w in names:
        near = sorted({w} | {w[:i] + w[i + 1:] for i in range(len(w))}
                      | {w[:i] + w[i + 1] + w[i] + w[i + 2:] for i in range(len(w) - 1)})
        pairs += [(a, b) for a in near for b in near if a < b]
    pairs += [("", ""), ("", "A"), ("A", "A"), ("AB", "BA"), ("123 MAIN ST", "123 MIAN ST"),
              (None, "A"), ("A", None)]
    left, right = [p[0] for p in pairs], [p[1] for p in pairs]
    got = jaro_winkler_batch(pa.array(left, pa.string()), pa.array(right, pa.string()))
    con = duckdb.connect()
    want = [r[0] for r in con.execute(
        "SELECT jaro_winkler_similarity(a, b) FROM (SELECT unnest(?) AS a, unnest(?) AS b)",
        [left, right]).fetchall()]
    assert got.type == pa.float64() and len(got) == len(pairs) > 1000
    assert got.to_pylist() == want
    assert got.to_pylist()[-2:] == [None, None]


def test_spark_defaults_are_read_as_spark_reads_them(tmp_path: Path) -> None:
    conf = tmp_path / "spark-defaults.conf"
    conf.write_text("# comment\n! also a comment\n\nspark.authenticate   true\n"
                    "spark.authenticate.secret=abc def\nspark.io.encryption.enabled: true\n")
    assert spark_backend.read_defaults(conf) == {
        "spark.authenticate": "true", "spark.authenticate.secret": "abc def",
        "spark.io.encryption.enabled": "true"}
    assert spark_backend.read_defaults(tmp_path / "missing.conf") == {}
    assert spark_backend.spark_conf_dir({"SPARK_CONF_DIR": str(tmp_path)}) == tmp_path


SECURE = {"spark.authenticate": "true", "spark.authenticate.secret": "s3cret",
          "spark.network.crypto.enabled": "true", "spark.io.encryption.enabled": "true"}


@pytest.mark.parametrize(("change", "message"), [
    ({"spark.network.crypto.enabled": "false"}, "spark.network.crypto.enabled"),
    ({"spark.io.encryption.enabled": None}, "spark.io.encryption.enabled"),
    ({"spark.authenticate": "false"}, "spark.authenticate"),
    ({"spark.authenticate.secret": None}, "no spark.authenticate.secret"),
])
def test_a_cluster_configured_without_encryption_is_refused_before_spark_starts(
        tmp_path: Path, change: dict[str, str | None], message: str) -> None:
    values = {k: v for k, v in {**SECURE, **change}.items() if v is not None}
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text(
        "".join(f"{k} {v}\n" for k, v in values.items()))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_staging(con, make_population(40))
    with socket.socket() as listener:  # a master that answers TCP: the refusal is ours
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings = Settings(home=tmp_path, linkage_backend="spark",
                            spark_master=f"spark://127.0.0.1:{listener.getsockname()[1]}")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SPARK_CONF_DIR", str(conf_dir))
            with pytest.raises(ConfigError, match=message):
                linkage.run_annual_link(con, settings=settings, run_id="r1",
                                        runs_dir=tmp_path / "runs")
    assert con.execute("SELECT status FROM mdm.link_runs").fetchone() == ("failed",)
    assert con.execute("SELECT count(*) FROM mdm.crosswalk").fetchone() == (0,)


def test_no_spark_defaults_for_a_standalone_master_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing or empty"):
        spark_backend.check_cluster_conf("spark://h:7077", {"SPARK_CONF_DIR": str(tmp_path)})
    # local mode and managers that generate their own secret need no file
    for master in ("local[2]", "yarn", "k8s://https://h:443"):
        spark_backend.check_cluster_conf(master, {"SPARK_CONF_DIR": str(tmp_path)})


def test_a_lost_worker_gets_advice(tmp_path: Path) -> None:
    """The error Spark raised when a worker JVM was killed mid-link (tests/
    test_link_spark_cluster.py) names what to do, not only a Java stack."""
    from linkage.run import failure_advice

    lost = RuntimeError(
        "An error occurred while calling o693.localCheckpoint.\n: org.apache.spark."
        "SparkException: [CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND] Checkpoint block rdd_279_1 "
        "not found!")
    advice = failure_advice(lost, Settings(home=tmp_path), "train_predict: predict")
    assert "A Spark executor was lost" in advice and "run the link again" in advice


def test_the_jvm_jaro_winkler_builds_into_a_jar_and_a_broken_compiler_is_a_config_error(
        tmp_path: Path) -> None:
    """The jar is built from ``linkage/java`` by the JDK beside the configured java; a
    compiler that fails stops the run before Spark starts, saying which and why."""
    import zipfile

    from linkage import udf_jar

    pytest.importorskip("pyspark")
    javac = udf_jar.find_javac(shutil.which("java") or "/nonexistent/java")
    if javac is None:
        pytest.skip("SPARK JVM JARO-WINKLER NOT BUILT: no javac (a JDK: apt-get install "
                    "openjdk-17-jdk-headless)")
    jar = udf_jar.build_udf_jar(javac, tmp_path / "ok" / "c2c-udf.jar")
    assert "c2c/JaroWinkler.class" in zipfile.ZipFile(jar).namelist()
    broken = tmp_path / "javac"
    broken.write_text("#!/bin/sh\necho 'error: no space left on device' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(ConfigError, match="no space left on device"):
        udf_jar.build_udf_jar(str(broken), tmp_path / "bad" / "c2c-udf.jar")
    assert not (tmp_path / "bad" / "c2c-udf.jar").exists()
