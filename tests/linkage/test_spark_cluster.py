"""The link on a real Spark standalone cluster on loopback: a master and two workers, each its
own JVM started with pyspark's ``spark-class``, with authentication, network encryption and
I/O encryption configured in the ``spark-defaults.conf`` (``SPARK_CONF_DIR``) that the
cluster and the client share (tests/spark_cluster.py).

One cluster for the whole module (JVM start-up is most of this module's time on 2 cores):

- the link runs there (``C2C_SPARK_MASTER=spark://...``), its executors on both workers,
  with the same clusters and probabilities as DuckDB;
- a client whose secret differs from the cluster's is refused before any identifier is sent;
- a cluster running without encryption (a master of its own: with no authentication, or
  with the right secret but unencrypted RPC) is refused the same way;
- a worker JVM killed during the link (last: it takes a worker away): the run fails cleanly,
  its run record names the error and the stage, and the crosswalk of the year before is
  untouched; or Spark recovers on the other worker and the result is DuckDB's.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from tests.spark_cluster import (  # noqa: E402
    LOOPBACK,
    TEST_JVM_OPTIONS,
    Cluster,
    running_cluster,
    secure_defaults,
    write_conf,
)

pytestmark = pytest.mark.slow
N = 60
SECRET = "c2c-test-secret-7f3a9e"


def _crosswalk(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute("SELECT * FROM mdm.crosswalk ORDER BY ALL").fetchall()


def _probabilities(t: pa.Table) -> dict[tuple[int, int], float]:
    return dict(zip(zip(t.column("unit_id_l").to_pylist(), t.column("unit_id_r").to_pylist(),
                        strict=True), t.column("match_probability").to_pylist(), strict=True))


def _settings(home: Path, master: str) -> Settings:
    return Settings(home=home, review_lower_threshold=0.01, linkage_backend="spark",
                    spark_master=master, spark_driver_memory="1g", spark_shuffle_partitions=2)


def _link(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> None:
    linkage.run_annual_link(con, settings=settings, run_id=run_id,
                            runs_dir=settings.home / "runs")


def _warehouse(home: Path, people: list[Any]) -> duckdb.DuckDBPyConnection:
    home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    write_staging(con, people)
    return con


def _app_executors(worker: dict[str, Any], app_name: str) -> list[dict[str, Any]]:
    return [e for e in worker["executors"] + worker["finishedexecutors"]
            if e["appdesc"]["name"] == app_name]


def _apps(cluster: Cluster) -> list[str]:
    state = cluster.master_json()
    return [app["name"] for app in state["activeapps"] + state["completedapps"]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The cluster, the population and DuckDB's link of it (the reference)."""
    people = make_population(N)
    root = tmp_path_factory.mktemp("cluster")
    edges: list[pa.Table] = []
    with pytest.MonkeyPatch.context() as mp:
        real = model.prediction_edges

        def keep(run: model.ModelRun) -> pa.Table:
            edges.append(real(run))
            return edges[-1]

        mp.setattr(model, "prediction_edges", keep)
        mp.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        mp.setenv("JDK_JAVA_OPTIONS", TEST_JVM_OPTIONS)  # the driver's JVM too
        # spark-defaults.conf is read when the driver JVM starts: a JVM left by an earlier
        # local-mode test in this worker never saw the cluster's SPARK_CONF_DIR, so start one
        # afresh (once: every test here shares it)
        from pyspark import SparkContext

        gateway = SparkContext._gateway  # noqa: SLF001
        if gateway is not None:
            gateway.shutdown()
            SparkContext._gateway = None  # noqa: SLF001
            SparkContext._jvm = None  # noqa: SLF001
        duck = _warehouse(root / "duckdb", people)
        _link(duck, Settings(home=root / "duckdb", review_lower_threshold=0.01,
                             linkage_backend="duckdb"), "y1")
        with running_cluster(root / "spark", {**secure_defaults(SECRET), **LOOPBACK}) as c:
            mp.setenv("SPARK_CONF_DIR", str(c.conf_dir))
            yield {"cluster": c, "people": people, "duck": duck, "edges": edges, "root": root,
                   "mp": mp}
        duck.close()


def test_link_on_a_standalone_cluster(world: dict[str, Any]) -> None:
    c: Cluster = world["cluster"]
    settings = _settings(world["root"] / "linked", c.url)
    con = _warehouse(settings.home, world["people"])
    _link(con, settings, "y1")
    # the executors ran on the two workers (each worker's own status JSON)
    ran_on = [len(_app_executors(c.worker_json(i), "c2c-link-y1")) for i in (0, 1)]
    assert all(n >= 1 for n in ran_on), ran_on

    # same clusters, same probabilities (1e-6) as DuckDB
    assert crosswalk_partition(con) == crosswalk_partition(world["duck"])
    duck, spark = _probabilities(world["edges"][0]), _probabilities(world["edges"][-1])
    assert len(duck.keys() & spark.keys()) > 10
    assert max(abs(duck[k] - spark[k]) for k in duck.keys() & spark.keys()) < 1e-6
    assert con.execute("SELECT status, summary_json::JSON->>'backend' FROM "
                       "mdm.link_runs").fetchone() == ("succeeded", "spark")
    assert not spark_backend.spark_work_dir(settings, "y1").exists()
    con.close()


def test_a_client_with_another_secret_is_refused(world: dict[str, Any],
                                                 tmp_path: Path) -> None:
    c: Cluster = world["cluster"]
    before = _apps(c)
    # the client's spark-defaults.conf: encryption on, but another secret
    wrong = write_conf(tmp_path / "wrong", {**secure_defaults("not-the-secret"), **LOOPBACK})
    world["mp"].setenv("SPARK_CONF_DIR", str(wrong.parent))
    try:
        con = _warehouse(tmp_path / "home", world["people"][:20])
        with pytest.raises(ConfigError, match="refused an authenticated, encrypted"):
            _link(con, _settings(tmp_path / "home", c.url), "y1")
        assert con.execute("SELECT status FROM mdm.link_runs").fetchone() == ("failed",)
        assert con.execute("SELECT count(*) FROM mdm.crosswalk").fetchone() == (0,)
        con.close()
    finally:
        world["mp"].setenv("SPARK_CONF_DIR", str(c.conf_dir))
    # no application registered with the master
    assert _apps(c) == before


@pytest.mark.parametrize("cluster_conf", [
    pytest.param({}, id="no-authentication-no-encryption"),
    # the right secret, but RPC unencrypted (SASL): AES or nothing
    pytest.param({"spark.authenticate": "true", "spark.authenticate.secret": SECRET},
                 id="authenticated-but-unencrypted"),
])
def test_a_cluster_without_encryption_is_refused(world: dict[str, Any], tmp_path: Path,
                                                 cluster_conf: dict[str, str]) -> None:
    # a master alone is enough: the refusal comes at the handshake, before any executor.
    # The client's own spark-defaults.conf is the secure one: only the cluster is not.
    with running_cluster(tmp_path / "plain", {**cluster_conf, **LOOPBACK},
                         workers=0) as plain:
        con = _warehouse(tmp_path / "home", world["people"][:20])
        with pytest.raises(ConfigError, match="refused an authenticated, encrypted"):
            _link(con, _settings(tmp_path / "home", plain.url), "y1")
        assert con.execute("SELECT status FROM mdm.link_runs").fetchone() == ("failed",)
        assert con.execute("SELECT count(*) FROM mdm.crosswalk").fetchone() == (0,)
        con.close()
        assert _apps(plain) == []


def test_a_worker_killed_during_the_link(world: dict[str, Any], tmp_path: Path) -> None:
    """Last in the module: it takes one of the two workers away."""
    c: Cluster = world["cluster"]
    settings = _settings(tmp_path / "home", c.url)
    con = _warehouse(settings.home, world["people"])
    # the year before, linked on DuckDB: its crosswalk must survive the failed run untouched
    _link(con, Settings(home=settings.home, review_lower_threshold=0.01,
                        linkage_backend="duckdb"), "y0")
    before = _crosswalk(con)
    assert before

    real = spark_backend.SparkBackend.materialise

    def kill_then_materialise(self: Any, name: str, select_sql: str) -> None:
        # predict's scored pairs are checkpointed on the executors of both workers now
        c.kill_worker(0)
        real(self, name, select_sql)

    world["mp"].setattr(spark_backend.SparkBackend, "materialise", kill_then_materialise)
    try:
        _link(con, settings, "y1")
    except InternalError as exc:
        assert "link run y1 failed in stage train_predict: predict" in str(exc)
        assert "A Spark executor was lost during the run" in str(exc)
        row = con.execute(
            "SELECT status, error, failed_stage FROM mdm.link_runs WHERE run_id = 'y1'"
        ).fetchone()
        assert row is not None
        status, error, stage = row
        assert (status, stage) == ("failed", "train_predict: predict")
        assert error  # Spark's own reason (a lost executor's blocks), recorded for the operator
        assert _crosswalk(con) == before
    else:
        # Spark recomputed the lost work on the other worker
        assert crosswalk_partition(con) == crosswalk_partition(world["duck"])
    finally:
        world["mp"].setattr(spark_backend.SparkBackend, "materialise", real)
    assert not spark_backend.spark_work_dir(settings, "y1").exists()
    con.close()
