"""Splink on Apache Spark (``C2C_LINKAGE_BACKEND=spark``): checks, session, lineage, clean-up.

The model, blocking rules and every rule beside Splink are the DuckDB backend's (see
``linkage/model.py`` and ``linkage/dialect.py``); this module only gives Splink a Spark
session that is safe to run on identifiers:

- ``spark.io.encryption.enabled``: shuffle files, spills and cached blocks that reach the
  Spark local dirs are AES-encrypted (a fresh key per application), and PySpark then sends
  Python data to the JVM over an authenticated socket instead of a plaintext temp file.
- Lineage breaks are ``persist`` (memory, spilling to the encrypted local dirs), never
  Splink's default ``parquet``: parquet lineage breaks are plain files under the checkpoint
  dir, outside Spark's I/O encryption, and would hold names and birth dates in the clear.
- Every Spark directory (local dirs, checkpoints, warehouse) lives under
  ``$C2C_HOME/tmp/spark-<run>`` and is removed when the run ends, failed or not.

Bad configuration fails before the JVM starts, with a :class:`ConfigError` naming the
fix: no Java (or older than 17), no pyspark, a Spark version Splink's jar does not cover, the
jar missing, an unreachable master.

A standalone cluster (``spark://``) is configured the Spark way: ``spark-defaults.conf`` in
``SPARK_CONF_DIR``, one file read by the master, the workers and this client. The client
refuses to send identifiers to a cluster that does not authenticate and encrypt: the file
must set ``spark.authenticate`` with a secret, ``spark.network.crypto.enabled`` and
``spark.io.encryption.enabled`` (:func:`check_cluster_conf`), and before the session starts
the master must accept an authenticated, encrypted handshake with that secret
(:func:`probe_master`: a wrong secret, or a cluster started without authentication or
encryption, is refused in seconds instead of after Spark's minute of registration retries).

Training runs on a DuckDB workspace in the driver, scoring on Spark (docs/scale.md, "Spark
without the fixed cost"): Splink's training is hundreds of small queries over a sample,
each a Spark job of a second or more, against milliseconds on DuckDB.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyarrow as pa

from core import scratch
from core.errors import ConfigError
from core.settings import Settings
from linkage.backend import DuckDBBackend, LinkBackend, release_folder
from linkage.dialect import JARO_WINKLER_UDF
from linkage.udf_jar import CLASS_NAME, build_udf_jar, find_javac

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

MIN_JAVA = 17
# pyspark majors Splink 5 ships a similarity jar for; 3.x needs 3.5 (Splink's floor).
SUPPORTED_SPARK = ((3, 5), (4, 0))
MASTER_TIMEOUT_SECONDS = 5.0
# How long the handshake probe waits for the master's answer (a refusal comes in seconds).
PROBE_TIMEOUT = "30s"
PROBE_ATTEMPTS = 3
PROBE_PAUSE_SECONDS = 2.0
# What a standalone cluster's spark-defaults.conf must say (the cluster reads the same file).
CLUSTER_SECURITY = {
    "spark.authenticate": "true",
    "spark.network.crypto.enabled": "true",
    "spark.io.encryption.enabled": "true",
}
SECRET_KEYS = ("spark.authenticate.secret", "spark.authenticate.secret.file")
UDF_JAR = "c2c-udf.jar"
INSTALL_HINT = "install the extra: pip install 'c2c-link[spark]' (see README, Spark backend)"


@dataclass(frozen=True)
class SparkRuntime:
    java: str
    java_major: int
    spark_version: str
    jar: Path
    javac: str | None = None  # the JDK's compiler for the Jaro-Winkler jar (udf_jar.py)


def spark_work_dir(settings: Settings, run_id: str) -> Path:
    """All Spark directories of one run (removed by :func:`stop_session`)."""
    return settings.tmp_dir / f"spark-{run_id}"


def java_major(version_output: str) -> int:
    """Major version from ``java -version`` output ('1.8.0_392' -> 8, '17.0.15' -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        raise ConfigError(
            f"could not read the Java version from `java -version`; Spark needs Java "
            f"{MIN_JAVA}+ (set JAVA_HOME to a JDK {MIN_JAVA})")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # 1.8 style
        major = int(match.group(2))
    return major


def find_java(java_home: str | None, path: str | None) -> str:
    """The java binary Spark will launch: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
        raise ConfigError(
            f"JAVA_HOME={java_home} has no bin/java: point it at a Java {MIN_JAVA}+ "
            "installation (Spark needs it), or unset it to use java on PATH")
    found = shutil.which("java", path=path)
    if not found:
        raise ConfigError(
            f"no Java runtime found (JAVA_HOME unset, no java on PATH): the Spark backend "
            f"needs Java {MIN_JAVA}+, e.g. apt-get install openjdk-17-jre-headless, or use "
            "C2C_LINKAGE_BACKEND=duckdb")
    return found


def check_java(java_home: str | None, path: str | None) -> tuple[str, int]:
    java = find_java(java_home, path)
    # the java binary the operator configured (JAVA_HOME or PATH), as Spark will run it
    done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30,  # noqa: S603
                          check=False)
    major = java_major(done.stderr + done.stdout)
    if major < MIN_JAVA:
        raise ConfigError(
            f"{java} is Java {major}; Spark 4 needs Java {MIN_JAVA}+ (set JAVA_HOME)")
    return java, major


def check_spark_version(version: str) -> None:
    """Spark 3.5.x or 4.x (Splink 5 ships a similarity jar per major; 3.5 is its floor)."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if not match:
        raise ConfigError(f"unreadable pyspark version {version!r}; {INSTALL_HINT}")
    got = (int(match.group(1)), int(match.group(2)))
    ok = (got[0] == 3 and got >= SUPPORTED_SPARK[0]) or got[0] == SUPPORTED_SPARK[1][0]
    if not ok:
        raise ConfigError(
            f"pyspark {version} is not supported: Splink 5's similarity jar covers Spark 3.5 "
            f"and 4.x (this project pins 4.3); {INSTALL_HINT}")


def check_jar(jar: str | Path) -> Path:
    path = Path(jar)
    if not path.is_file():
        raise ConfigError(
            f"Splink's similarity jar is missing ({path}): jaro_winkler and "
            "damerau_levenshtein would be undefined on Spark; reinstall splink "
            "(pip install --force-reinstall 'splink>=5,<6')")
    return path


def check_master(master: str, timeout: float = MASTER_TIMEOUT_SECONDS) -> None:
    """``local[...]`` needs nothing; ``spark://`` and ``k8s://`` masters must accept a TCP
    connection within ``timeout`` (Spark itself retries for minutes before giving up);
    YARN is found through HADOOP_CONF_DIR by Spark. Spark Connect (``sc://``) is refused:
    the similarity jar has to be registered on the session, which Connect does not allow."""
    if master == "local" or re.fullmatch(r"local\[(\d+|\*)(,\d+)?\]", master):
        return
    if master == "yarn":
        return
    if master.startswith("sc://"):
        raise ConfigError(
            f"C2C_SPARK_MASTER={master}: Spark Connect is not supported by this build (Splink "
            "registers its similarity jar UDFs on a classic session); use spark://host:port, "
            "yarn, k8s://... or local[N]")
    if master.startswith("spark://"):
        endpoints = [urlsplit("spark://" + hp) for hp in master[len("spark://"):].split(",")]
    elif master.startswith("k8s://"):
        url = master[len("k8s://"):]
        endpoints = [urlsplit(url if "://" in url else "https://" + url)]
    else:
        raise ConfigError(
            f"C2C_SPARK_MASTER={master!r} is not a Spark master URL: use local[N], "
            "spark://host:port, yarn or k8s://https://host:port")
    for endpoint in endpoints:
        host, port = endpoint.hostname, endpoint.port or (7077 if master.startswith("spark")
                                                          else 443)
        if not host:
            continue
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError:
            continue
    raise ConfigError(
        f"Spark master {master} is unreachable (no TCP answer within {timeout:.0f} s): start "
        "the cluster or fix C2C_SPARK_MASTER")


def spark_conf_dir(env: dict[str, str]) -> Path:
    """Where spark-submit reads ``spark-defaults.conf``: ``SPARK_CONF_DIR``, else
    ``$SPARK_HOME/conf``, else pyspark's own ``conf`` folder."""
    if env.get("SPARK_CONF_DIR"):
        return Path(env["SPARK_CONF_DIR"])
    if env.get("SPARK_HOME"):
        return Path(env["SPARK_HOME"]) / "conf"
    import pyspark

    return Path(pyspark.__file__).parent / "conf"


def read_defaults(path: Path) -> dict[str, str]:
    """``spark-defaults.conf`` as Spark reads it (a Java properties file: ``key value``,
    ``key=value`` or ``key: value``; ``#`` and ``!`` start comments)."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^\s=:]+)\s*[\s=:]\s*(.*)", line)
        if match:
            out[match.group(1)] = match.group(2).strip()
        else:
            out[line] = ""
    return out


def check_cluster_conf(master: str, env: dict[str, str]) -> None:
    """A standalone master (``spark://``) only with authentication and encryption configured
    in the ``spark-defaults.conf`` the cluster and this client share. Local mode needs
    nothing (the session sets all of it); YARN and Kubernetes generate the secret per app."""
    if not master.startswith("spark://"):
        return
    path = spark_conf_dir(env) / "spark-defaults.conf"
    defaults = read_defaults(path)
    if not defaults:
        raise ConfigError(
            f"C2C_SPARK_MASTER={master} but {path} is missing or empty: a standalone cluster "
            "and this client share one spark-defaults.conf (SPARK_CONF_DIR) that sets "
            + ", ".join(f"{k} {v}" for k, v in CLUSTER_SECURITY.items())
            + " and spark.authenticate.secret (README, Linking on a Spark cluster)")
    off = [f"{k} (is {defaults.get(k, 'unset')!r})" for k, want in CLUSTER_SECURITY.items()
           if defaults.get(k, "").lower() != want]
    if off:
        raise ConfigError(
            f"refusing to link on {master}: {path} does not turn on " + "; ".join(off)
            + ". Identifiers go to a standalone cluster only with authentication, network "
            "and I/O encryption on; set them to true there and restart the cluster")
    if not any(defaults.get(k) for k in SECRET_KEYS):
        raise ConfigError(
            f"refusing to link on {master}: {path} sets no spark.authenticate.secret (or "
            "spark.authenticate.secret.file); the cluster and this client need the same one")


def probe_master(jvm: Any, master: str, conf: dict[str, str]) -> None:
    """An authenticated, AES-encrypted RPC handshake with each standalone master, with the
    secret and settings this run will use, before the session starts. Spark itself would
    retry registration for about a minute and then stop the context with "All masters are
    unresponsive"; a refusal here takes seconds and says why."""
    jconf = jvm.org.apache.spark.SparkConf(True)  # spark-defaults.conf, via spark-submit
    for key, value in conf.items():
        jconf.set(key, value)
    jconf.set("spark.rpc.lookupTimeout", PROBE_TIMEOUT)
    config = getattr(getattr(jvm.org.apache.spark.internal.config, "package$"), "MODULE$")
    security = jvm.org.apache.spark.SecurityManager(
        jconf, jvm.scala.Option.apply(None), config.AUTH_SECRET_FILE_DRIVER())
    # client mode: no server is bound, the host only names this end
    host = conf.get("spark.driver.host") or socket.gethostname()
    env = jvm.org.apache.spark.rpc.RpcEnv.create("c2c-link-probe", host, 0, jconf, security,
                                                 True)
    try:
        for host_port in master[len("spark://"):].split(","):
            host, _, port = host_port.rpartition(":")
            for attempt in range(PROBE_ATTEMPTS):
                try:
                    env.setupEndpointRef(jvm.org.apache.spark.rpc.RpcAddress(host, int(port)),
                                         "Master")
                    break
                except Exception as exc:
                    # A master that has just started (or a busy one) can drop the first
                    # connection ("Outbox is stopped"); a wrong secret fails every attempt.
                    if attempt + 1 < PROBE_ATTEMPTS:
                        time.sleep(PROBE_PAUSE_SECONDS)
                        continue
                    raise ConfigError(
                        f"Spark master {master} refused an authenticated, encrypted "
                        "connection from this client: either spark.authenticate.secret "
                        "differs from the cluster's, or the cluster runs without "
                        "spark.authenticate / spark.network.crypto.enabled. Start the master "
                        "and workers with the same spark-defaults.conf (SPARK_CONF_DIR) as "
                        f"this client. Nothing was sent.  ({_java_cause(exc)})") from None
    finally:
        env.shutdown()


def _java_cause(exc: BaseException) -> str:
    """The innermost Java exception's class and message, one line."""
    text = str(exc)
    causes = re.findall(r"Caused by: ([\w.$]+(?:Exception|Error)[^\n]*)", text)
    line = causes[-1] if causes else text.strip().splitlines()[-1] if text.strip() else ""
    return line[:200]


def check_runtime(settings: Settings, env: dict[str, str]) -> SparkRuntime:
    """Every check that can fail before a JVM starts, cheapest first."""
    check_master(settings.spark_master)
    check_cluster_conf(settings.spark_master, env)
    try:
        import pyspark
    except ImportError as exc:
        raise ConfigError(
            f"C2C_LINKAGE_BACKEND=spark but pyspark is not installed; {INSTALL_HINT}") from exc
    check_spark_version(pyspark.__version__)
    java, major = check_java(env.get("JAVA_HOME"), env.get("PATH"))
    from splink.backends.spark import similarity_jar_location

    jar = check_jar(similarity_jar_location())
    return SparkRuntime(java, major, pyspark.__version__, jar, find_javac(java))


def session_conf(settings: Settings, run_id: str, jar: Path,
                 udf_jar: Path | None = None) -> dict[str, str]:
    """The Spark configuration of one link run (all of it set before the session starts)."""
    work = spark_work_dir(settings, run_id)
    parts = str(settings.spark_shuffle_partitions)
    return {
        "spark.master": settings.spark_master,
        "spark.app.name": f"c2c-link-{run_id}",
        # Splink's Scala UDFs (jaro_winkler, damerau_levenshtein...) and DuckDB's
        # Jaro-Winkler for the JVM (udf_jar.py): before the session starts
        "spark.jars": ",".join(str(p) for p in (jar, udf_jar) if p is not None),
        "spark.io.encryption.enabled": "true",
        "spark.io.encryption.keySizeBits": "256",
        # ... and the keys and blocks between driver and executors encrypted on the wire
        # (local mode generates the shared secret; a cluster sets spark.authenticate.secret)
        "spark.authenticate": "true",
        "spark.network.crypto.enabled": "true",
        # never fall back to SASL: it authenticates but does not encrypt with AES
        "spark.network.crypto.saslFallback": "false",
        "spark.local.dir": str(work / "local"),
        "spark.sql.warehouse.dir": str(work / "warehouse"),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.shuffle.partitions": parts,
        "spark.default.parallelism": parts,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # size(NULL list) is NULL, as DuckDB's len(NULL) (linkage/dialect.py)
        "spark.sql.legacy.sizeOfNull": "false",
        "spark.sql.session.timeZone": "UTC",
        # an Arrow table under this size becomes a LocalRelation: its rows converted in the
        # driver and carried in the plan. Each 2M-pair batch of the blocked pairs (48 MB) went
        # that way: 5 s a batch against 1.1 s as an RDD of Arrow batches converted on the
        # executors (measured 2026-12-07, local[2]); every table the link sends is large
        "spark.sql.execution.arrow.localRelationThreshold": "0",
        # Splink's examples: whole-stage codegen of the long comparison CASEs exceeds JVM
        # method limits and falls back anyway, after a costly failed compile
        "spark.sql.codegen.wholeStage": "false",
    }


def start_session(settings: Settings, run_id: str, runtime: SparkRuntime,
                  env: dict[str, str]) -> SparkSession:
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is not None:  # noqa: SLF001
        # getOrCreate would hand back that context and ignore this run's jar and
        # encryption settings: refuse rather than link on a session we did not configure
        raise ConfigError(
            "a Spark context is already running in this process; the link run needs its own "
            "(jar, I/O encryption, local dirs)")
    work = spark_work_dir(settings, run_id)
    for sub in ("local", "checkpoints"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    udf_jar = build_udf_jar(runtime.javac, work / "udf" / UDF_JAR) if runtime.javac else None
    # spark-defaults.conf as spark-submit would read it (also when this process started its
    # JVM earlier under another SPARK_CONF_DIR), then this run's own settings on top
    values = {**read_defaults(spark_conf_dir(env) / "spark-defaults.conf"),
              **session_conf(settings, run_id, runtime.jar, udf_jar)}
    conf = SparkConf()
    for key, value in values.items():
        if key != "spark.authenticate.secret":
            conf.set(key, value)
    try:
        # the JVM first, without the secret: pyspark passes this conf on spark-submit's
        # command line, which every local user can read; the secret follows through py4j
        SparkContext._ensure_initialized(conf=conf)  # noqa: SLF001
        if "spark.authenticate.secret" in values:
            conf.set("spark.authenticate.secret", values["spark.authenticate.secret"])
        if settings.spark_master.startswith("spark://"):
            probe_master(SparkContext._jvm, settings.spark_master, values)  # noqa: SLF001
        spark = SparkSession.builder.config(conf=conf).getOrCreate()
    except ConfigError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ConfigError(
            f"Spark did not start on master {settings.spark_master}: "
            f"{type(exc).__name__}: {_java_cause(exc)}") from exc
    # the executors' Python runs the Jaro-Winkler UDF (pyarrow + duckdb): this
    # environment's interpreter unless PYSPARK_PYTHON names the workers' own (pyspark
    # reads only that variable, defaulting to whatever python3 is on PATH)
    spark.sparkContext.pythonExec = env.get("PYSPARK_PYTHON") or sys.executable
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(work / "checkpoints"))
    return spark


class SparkBackend:
    """Splink's SparkAPI on a session safe for identifiers (module docstring); the model is
    trained on a DuckDB workspace (:meth:`open_training`) and scored here."""

    name = "spark"

    def __init__(self, settings: Settings, run_id: str, env: dict[str, str]) -> None:
        self.settings, self.run_id = settings, run_id
        runtime = check_runtime(settings, env)
        self.held = scratch.hold(spark_work_dir(settings, run_id))
        try:
            self.spark = start_session(settings, run_id, runtime, env)
        except BaseException:
            release_folder(self.held, spark_work_dir(settings, run_id))
            raise
        api_class = _api_class()
        self.db_api = api_class(spark_session=self.spark, break_lineage_method="persist",
                                num_partitions_on_repartition=settings.spark_shuffle_partitions)
        self.facts: dict[str, Any] = {"jaro_winkler": _jaro_winkler_kind(self.spark)}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def materialise(self, name: str, select_sql: str) -> None:
        """``name`` as a checkpointed view of ``select_sql`` (memory, encrypted spill)."""
        self.spark.sql(select_sql).localCheckpoint(eager=True).createOrReplaceTempView(name)

    def receive(self, name: str, batches: pa.RecordBatchReader) -> None:
        """``name`` as a checkpointed view of the rows of ``batches``: each batch goes to the
        executors on its own (the driver holds one at a time), then one repartition.

        The batches are kept on disk (encrypted, ``spark.io.encryption``) and read once, by
        the repartition: held in the heap beside the identities' checkpoint they ran the 4g
        driver of a 1M + 1M link out of heap there (2026-12-07, when each batch was also a
        LocalRelation in the driver: ``session_conf``)."""
        from pyspark import StorageLevel

        frames = [self.spark.createDataFrame(pa.Table.from_batches([batch])).localCheckpoint(
            eager=True, storageLevel=StorageLevel.DISK_ONLY)
            for batch in batches if batch.num_rows]
        if not frames:
            frames = [self.spark.createDataFrame(batches.schema.empty_table())]
        whole = functools.reduce(lambda a, b: a.unionAll(b), frames)
        whole.repartition(self.settings.spark_shuffle_partitions).localCheckpoint(
            eager=True).createOrReplaceTempView(name)

    def open_training(self) -> LinkBackend:
        # Training is hundreds of small queries on a sample (u: 500k pairs, EM: 500k pairs
        # per session): milliseconds each on DuckDB, a Spark job each here. The trained
        # parameters are copied onto the Spark model (linkage/model.py copy_parameters).
        return DuckDBBackend(self.settings, f"{self.run_id}-train")

    def input_source(self, warehouse: duckdb.DuckDBPyConnection, table: str) -> str | None:
        return None  # another process: the identities go over as Arrow

    def close(self) -> None:
        try:
            self.facts.update(stop_session(self.spark, self.settings, self.run_id))
        finally:
            release_folder(self.held, spark_work_dir(self.settings, self.run_id))


def stop_session(spark: Any, settings: Settings, run_id: str) -> dict[str, Any]:
    """Stop the session and remove its files; returns what the run cost the driver JVM (for
    the run summary's ``engine``; docs/scale.md reads them)."""
    peak_mb, cpu_seconds = _jvm_usage(spark)
    try:
        jobs = len(spark.sparkContext.statusTracker().getJobIdsForGroup())
    except Exception:  # a figure for the benchmarks, never a reason to fail the clean-up
        jobs = 0
    spark.catalog.clearCache()
    spark.stop()
    shutil.rmtree(spark_work_dir(settings, run_id), ignore_errors=True)
    return {"jvm_peak_mb": round(peak_mb, 1), "jvm_cpu_seconds": round(cpu_seconds, 1),
            "spark_jobs": jobs}


def _jvm_usage(spark: Any) -> tuple[float, float]:
    """Peak RSS (MB) and CPU seconds of the driver JVM (local mode: the whole engine), for
    the benchmarks; zeros when they cannot be read (not Linux, a remote driver)."""
    try:
        pid = spark._jvm.java.lang.ProcessHandle.current().pid()  # noqa: SLF001
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
    except Exception:  # no figure rather than a failed run
        return 0.0, 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return (int(match.group(1)) / 1024 if match else 0.0), cpu


def _jaro_winkler_kind(spark: Any) -> str:
    """``jvm`` when the session carries the compiled jar (udf_jar.py), else ``python``."""
    return "jvm" if UDF_JAR in spark.sparkContext.getConf().get("spark.jars", "") else "python"


def _register_jaro_winkler(spark: Any) -> None:
    """DuckDB's Jaro-Winkler as a Spark SQL function: the JVM one when the session carries
    its jar (linkage/udf_jar.py), else a vectorised (Arrow) Python UDF running DuckDB itself
    (linkage/jaro.py), shipped by value, so executors need pyarrow and duckdb but not this
    package. Both score exactly as DuckDB."""
    if _jaro_winkler_kind(spark) == "jvm":
        from pyspark.sql.types import DoubleType

        spark.udf.registerJavaFunction(JARO_WINKLER_UDF, CLASS_NAME, DoubleType())
        return
    from pyspark import cloudpickle
    from pyspark.sql.functions import arrow_udf

    from linkage import jaro

    cloudpickle.register_pickle_by_value(jaro)
    udf = arrow_udf(jaro.jaro_winkler_batch, "double")  # type: ignore[call-overload]
    spark.udf.register(JARO_WINKLER_UDF, udf)


def _api_class() -> type:
    import pyarrow as pa
    from splink.backends.spark import SparkAPI

    class C2CSparkAPI(SparkAPI):  # type: ignore[misc]
        """Splink's SparkAPI with DuckDB's Jaro-Winkler and plan-cutting lineage breaks."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            _register_jaro_winkler(self.spark)

        def _table_registration(self, input: Any, table_name: str) -> None:
            # pyspark turns an Arrow table into a LocalRelation: every row sits inside the
            # query plan, and each of predict's joins re-plans (and the optimizer evaluates
            # projections over) the whole input in the driver, one thread (the 10k run's
            # event log: a 120 kB physical plan of LocalTableScans, 30 s between the jobs
            # before predict and its first). A local checkpoint makes it an RDD on the
            # executors, spread over the shuffle partitions, and the plans small.
            if isinstance(input, pa.Table):
                frame = self.spark.createDataFrame(input)
                input = frame.repartition(self.num_partitions_on_repartition).localCheckpoint(
                    eager=True)
            super()._table_registration(input, table_name)

        def _break_lineage_and_repartition(
            self, spark_df: Any, templated_name: str, physical_name: str
        ) -> Any:
            # Splink persists the tables it reuses; a persisted frame still carries its whole
            # plan, and every later query re-analyses it (measured: 12 min for 300 students,
            # most of it planning). A local checkpoint cuts the plan and keeps the blocks in
            # the block manager (memory, spilling to the encrypted local dirs), never in
            # plain files as a parquet or reliable checkpoint would.
            out = super()._break_lineage_and_repartition(spark_df, templated_name,
                                                         physical_name)
            if out.is_cached:
                local = out.localCheckpoint(eager=True)
                out.unpersist()
                return local
            return out

    return C2CSparkAPI
