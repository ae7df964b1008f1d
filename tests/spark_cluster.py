"""A real Spark standalone cluster on loopback for tests: a master and N workers, each its own
JVM started with pyspark's own ``spark-class``, configured by one ``spark-defaults.conf`` in
``SPARK_CONF_DIR`` (the file the client reads too). :func:`running_cluster` stops every JVM it
started (workers' executors included: each process has its own process group) and checks
none is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyspark

SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"
START_TIMEOUT = 180.0  # JVM start-up on a loaded 2-core machine

# Every JVM a test starts (driver, master, workers, executors: the java launcher reads this
# variable) lives for seconds on a few hundred records: compiling hot code a second time with
# C2 costs more CPU than it ever saves there, and one GC thread is enough. Measured on a local
# session that starts and runs one job: 15.4 CPU s without these, 8.7 with. Results do not
# change (the JIT tier and the collector do not change what the code computes).
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def secure_defaults(secret: str) -> dict[str, str]:
    """What a production cluster's spark-defaults.conf sets (README, Spark cluster)."""
    return {
        "spark.authenticate": "true",
        "spark.authenticate.secret": secret,
        "spark.network.crypto.enabled": "true",
        "spark.io.encryption.enabled": "true",
    }


LOOPBACK = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.executor.memory": "512m",
    "spark.executor.cores": "1",
}


def write_conf(conf_dir: Path, values: dict[str, str]) -> Path:
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / "spark-defaults.conf"
    path.write_text("".join(f"{k} {v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    conf_dir: Path
    port: int
    web_port: int
    worker_web_ports: list[int]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def master_json(self) -> dict[str, Any]:
        return _get_json(self.web_port)

    def worker_json(self, index: int) -> dict[str, Any]:
        return _get_json(self.worker_web_ports[index])

    def kill_worker(self, index: int) -> None:
        """SIGKILL a worker's JVM and the executors it started (its process group)."""
        os.killpg(self.procs[f"worker{index}"].pid, signal.SIGKILL)


def _get_json(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
        return data


def _spawn(cluster: Cluster, name: str, args: list[str]) -> None:
    env = {**os.environ, "SPARK_CONF_DIR": str(cluster.conf_dir), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(cluster.root / "logs"), "PYSPARK_PYTHON": sys.executable,
           "SPARK_HOME": str(SPARK_CLASS.parent.parent), "JDK_JAVA_OPTIONS": TEST_JVM_OPTIONS}
    log = (cluster.root / f"{name}.log").open("wb")
    # spark-class execs the JVM: the pid is the JVM's; its own session holds its executors
    cluster.procs[name] = subprocess.Popen(  # noqa: S603 (pyspark's own launcher)
        [str(SPARK_CLASS), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)


def _wait(what: str, ready: Any, cluster: Cluster) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for name, proc in cluster.procs.items():
            if proc.poll() is not None:
                log = (cluster.root / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited while waiting for {what}:\n{log}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(1.0)
    raise TimeoutError(f"Spark cluster: {what} not ready after {START_TIMEOUT:.0f} s")


def _stop(cluster: Cluster) -> None:
    for proc in cluster.procs.values():
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for proc in cluster.procs.values():
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # the groups' other members (executors) too: nothing may outlive the fixture
    time.sleep(0.5)
    for proc in cluster.procs.values():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    leaked = [name for name, proc in cluster.procs.items() if _group_alive(proc.pid)]
    assert not leaked, f"Spark processes left running: {leaked}"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # a zombie group member not yet reaped still counts as alive to killpg: look closer
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@contextmanager
def running_cluster(root: Path, defaults: dict[str, str], *, workers: int = 2,
                    cores: int = 1, memory: str = "1g") -> Iterator[Cluster]:
    """A master and ``workers`` workers reading ``defaults`` from their spark-defaults.conf;
    waits until every worker has registered."""
    cluster = Cluster(root=root, conf_dir=root / "conf", port=free_port(), web_port=free_port(),
                      worker_web_ports=[free_port() for _ in range(workers)])
    write_conf(cluster.conf_dir, defaults)
    try:
        _spawn(cluster, "master", ["org.apache.spark.deploy.master.Master", "--host",
                                   "127.0.0.1", "--port", str(cluster.port), "--webui-port",
                                   str(cluster.web_port)])
        _wait("master", lambda: cluster.master_json().get("status") == "ALIVE", cluster)
        for i in range(workers):
            _spawn(cluster, f"worker{i}", [
                "org.apache.spark.deploy.worker.Worker", cluster.url, "--host", "127.0.0.1",
                "--cores", str(cores), "--memory", memory, "--webui-port",
                str(cluster.worker_web_ports[i]), "--work-dir", str(root / f"work{i}")])
        if workers:
            _wait(f"{workers} workers",
                  lambda: cluster.master_json().get("aliveworkers") == workers, cluster)
        yield cluster
    finally:
        _stop(cluster)
