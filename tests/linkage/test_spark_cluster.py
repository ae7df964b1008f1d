"""The link on a real Spark standalone cluster on loopback: a master and two workers, each its
own JVM started with pyspark's ``spark-class``, with authentication, network encryption and
I/O encryption configured in the ``spark-defaults.conf`` (``SPARK_CONF_DIR``) that the
cluster and the client share (tests/spark_cluster.py).

- the link runs there (``C2C_SPARK_MASTER=spark://...``), its executors on both workers,
  with the same clusters and probabilities as DuckDB;
- a worker killed during the link: the run fails cleanly (or Spark recovers and the result is
  the same); never a half-written crosswalk;
- a client with the wrong secret, and a cluster running without authentication and
  encryption, are refused before any identifier is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.link_fixtures import crosswalk_partition, make_population, write_staging

pytest.importorskip(
    "pyspark",
    reason="SPARK CLUSTER NOT TESTED: pyspark is missing; install the [spark] extra",
)

import linkage  # noqa: E402
from core.errors import ConfigError, InternalError  # noqa: E402
from core.settings import Settings  # noqa: E402
from linkage import model, spark_backend  # noqa: E402
from tests.spark_cluster import LOOPBACK, running_cluster, secure_defaults, write_conf  # noqa: E402

pytestmark = pytest.mark.slow
N = 60
SECRET = "c2c-test-secret-7f3a9e"


def _probabilities(t: pa.Table) -> dict[tuple[int, int], float]:
    return dict(zip(zip(t.column("unit_id_l").to_pylist(), t.column("unit_id_r").to_pylist(),
                        strict=True), t.column("match_probability").to_pylist(), strict=True))


@pytest.fixture
def edges(monkeypatch: pytest.MonkeyPatch) -> list[pa.Table]:
    kept: list[pa.Table] = []
    real = model.prediction_edges

    def keep(run: model.ModelRun) -> pa.Table:
        kept.append(real(run))
        return kept[-1]

    monkeypatch.setattr(model, "prediction_edges", keep)
    return kept


def _link(home: Path, people: list[Any], **settings: Any) -> tuple[duckdb.DuckDBPyConnection,
                                                                   Settings]:
    home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    write_staging(con, people)
    config = Settings(home=home, review_lower_threshold=0.01, **settings)
    linkage.run_annual_link(con, settings=config, run_id="y1", runs_dir=home / "runs")
    return con, config


def _app_executors(worker: dict[str, Any], app_name: str) -> list[dict[str, Any]]:
    return [e for e in worker["executors"] + worker["finishedexecutors"]
            if e["appdesc"]["name"] == app_name]


@pytest.fixture
def client_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    # spark-defaults.conf is read when the driver JVM starts: a JVM left by an earlier
    # local-mode test in this worker never saw the cluster's SPARK_CONF_DIR, so start afresh.
    from pyspark import SparkContext

    gateway = SparkContext._gateway  # noqa: SLF001
    if gateway is not None:
        gateway.shutdown()
        SparkContext._gateway = None  # noqa: SLF001
        SparkContext._jvm = None  # noqa: SLF001
    return monkeypatch


def test_link_on_a_standalone_cluster(tmp_path: Path, edges: list[pa.Table],
                                      client_env: pytest.MonkeyPatch) -> None:
    people = make_population(N)
    duck_con, _ = _link(tmp_path / "duckdb", people, linkage_backend="duckdb")
    with running_cluster(tmp_path / "cluster", {**secure_defaults(SECRET), **LOOPBACK}) as c:
        client_env.setenv("SPARK_CONF_DIR", str(c.conf_dir))
        spark_con, settings = _link(tmp_path / "spark", people, linkage_backend="spark",
                                    spark_master=c.url, spark_driver_memory="1g",
                                    spark_shuffle_partitions=2)
        # the executors ran on the two workers (each worker's own status JSON)
        ran_on = [len(_app_executors(c.worker_json(i), "c2c-link-y1")) for i in (0, 1)]
        assert all(n >= 1 for n in ran_on), ran_on

        # same clusters, same probabilities (1e-6) as DuckDB
        assert crosswalk_partition(spark_con) == crosswalk_partition(duck_con)
        duck, spark = _probabilities(edges[0]), _probabilities(edges[1])
        assert len(duck.keys() & spark.keys()) > 10
        assert max(abs(duck[k] - spark[k]) for k in duck.keys() & spark.keys()) < 1e-6
        assert spark_con.execute("SELECT status, summary_json::JSON->>'backend' FROM "
                                 "mdm.link_runs").fetchone() == ("succeeded", "spark")
        assert not spark_backend.spark_work_dir(settings, "y1").exists()

        # a worker killed during the link: the run fails cleanly, or Spark recovers and the
        # result is the same; never a half-written crosswalk
        home = tmp_path / "killed"
        home.mkdir()
        con = duckdb.connect(str(home / "warehouse.duckdb"))
        write_staging(con, people)
        real = spark_backend.SparkBackend.materialise

        def kill_then_materialise(self: Any, name: str, select_sql: str) -> None:
            # the scored pairs are checkpointed on the executors at this point
            c.kill_worker(0)
            real(self, name, select_sql)

        client_env.setattr(spark_backend.SparkBackend, "materialise", kill_then_materialise)
        killed = Settings(home=home, review_lower_threshold=0.01, linkage_backend="spark",
                          spark_master=c.url, spark_driver_memory="1g",
                          spark_shuffle_partitions=2)
        try:
            linkage.run_annual_link(con, settings=killed, run_id="y1", runs_dir=home / "runs")
        except InternalError as exc:
            assert "link run y1 failed" in str(exc)
            assert con.execute("SELECT status FROM mdm.link_runs").fetchone() == ("failed",)
            assert con.execute("SELECT count(*) FROM mdm.crosswalk").fetchone() == (0,)
        else:
            assert crosswalk_partition(con) == crosswalk_partition(duck_con)
        assert not spark_backend.spark_work_dir(killed, "y1").exists()


def test_wrong_secret_and_unencrypted_cluster_are_refused(
        tmp_path: Path, client_env: pytest.MonkeyPatch) -> None:
    people = make_population(20)
    # a master alone is enough: the refusal comes at the handshake, before any executor
    with running_cluster(tmp_path / "secure", {**secure_defaults(SECRET), **LOOPBACK},
                         workers=0) as secure, \
         running_cluster(tmp_path / "plain", dict(LOOPBACK), workers=0) as plain:
        # the client's spark-defaults.conf: encryption on, but another secret
        wrong = write_conf(tmp_path / "wrong", {**secure_defaults("not-the-secret"),
                                                **LOOPBACK}).parent
        for master, conf_dir, home in ((secure.url, wrong, "wrong-secret"),
                                       (plain.url, secure.conf_dir, "no-encryption")):
            client_env.setenv("SPARK_CONF_DIR", str(conf_dir))
            with pytest.raises(ConfigError, match="refused an authenticated, encrypted"):
                _link(tmp_path / home, people, linkage_backend="spark", spark_master=master,
                      spark_driver_memory="1g")
            con = duckdb.connect(str(tmp_path / home / "warehouse.duckdb"))
            assert con.execute("SELECT status FROM mdm.link_runs").fetchone() == ("failed",)
            assert con.execute("SELECT count(*) FROM mdm.crosswalk").fetchone() == (0,)
            con.close()
        # no application ever registered with either master
        assert secure.master_json()["completedapps"] == secure.master_json()["activeapps"] == []
        assert plain.master_json()["completedapps"] == plain.master_json()["activeapps"] == []
