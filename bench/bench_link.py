"""Benchmark the annual link on generated data: time, peak memory, accuracy vs truth.

    .venv/bin/python bench/bench_link.py --students 200000 [--work DIR] [--backend spark]

Phase 1 (this process): generate the landing tree with ``synth`` and ingest it into an
encrypted warehouse under DIR (skipped if DIR already holds one for the same size/seed).
Phase 2 (a fresh process, so peak RSS is the link's own): ``run_annual_link`` then
``evaluate`` against truth.parquet. ``--backend spark`` runs phase 2 on DuckDB and then on
Spark (C2C_SPARK_MASTER, default local[2]) and prints both with the ratio. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _settings(work: Path):  # type: ignore[no-untyped-def]
    from core.settings import Settings
    # C2C_LINKAGE_BACKEND / C2C_SPARK_* from the environment (--backend sets them per phase)
    return Settings(home=work / "home")


def _connect(work: Path):  # type: ignore[no-untyped-def]
    from core.keys import KeyProvider, create_master_key
    from core.warehouse import connect_encrypted
    s = _settings(work)
    if not s.master_key_path.exists():
        create_master_key(s.master_key_path)
    kp = KeyProvider(s.master_key_path, s.keyring_path)
    con = connect_encrypted(s.warehouse_path, kp.warehouse_key_hex(), temp_dir=s.tmp_dir,
                            threads=s.duckdb_threads, memory_limit=s.duckdb_memory_limit)
    return con, kp, s


def prepare(work: Path, students: int, seed: int, years: list[str] | None) -> None:
    marker = work / "prepared.json"
    wanted = {"students": students, "seed": seed, "years": years}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        print(f"reusing prepared warehouse in {work}")
        return
    import shutil

    import synth
    from core.keys import RAW_STORE_PURPOSE
    from ingest import ingest_files
    from ingest.partners_csv import load_partners_csv
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = time.perf_counter()
    gen = synth.generate(work / "landing", students=students, seed=seed, years=years)
    print(f"generated {gen.files} files, {gen.bytes / 1e6:.0f} MB in {gen.seconds:.1f} s")
    con, kp, s = _connect(work)
    partners = load_partners_csv(work / "landing" / "partners.csv")
    t = time.perf_counter()
    paths = [work / "landing" / d for d in ("calpads", "college", "ccgi")]
    receipts = ingest_files(con, paths, s.raw_dir, kp.derive(RAW_STORE_PURPOSE), partners)
    bad = [r for r in receipts if str(getattr(r, "status", "")).lower().find("accept") < 0]
    print(f"ingested {len(receipts)} files in {time.perf_counter() - t:.1f} s "
          f"({len(bad)} not accepted)")
    con.close()
    marker.write_text(json.dumps(wanted))


class TempWatch:
    """Peak bytes in DuckDB's temp directory (its encrypted spill files), sampled twice a
    second in a thread while the link runs."""

    def __init__(self, folder: Path) -> None:
        import threading
        self.folder = folder
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _size(self) -> int:
        total = 0
        for path in self.folder.rglob("*"):
            with contextlib.suppress(OSError):  # removed while we looked
                total += path.stat().st_size if path.is_file() else 0
        return total

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, self._size())

    def __enter__(self) -> TempWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _partition_digest(con) -> str:  # type: ignore[no-untyped-def]
    """One hash of the clusters (which source records share a person id), for comparing two
    backends' results without comparing the ids themselves.

    md5 over the persons' member lists, each sorted by (system, partner, id), in order. An
    ordered ``string_agg`` per person does not spill (out of memory at 8M identities under a
    4 GB limit): each list is an unordered ``list`` sorted afterwards, kept in a table, then
    hashed in one ordered pass; the same digest as the one-statement form."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _bench_persons AS
        SELECT array_to_string(list_transform(list_sort(list({'s': source_system,
                   'p': partner_org, 'id': source_person_id})),
                   u -> u.s || ':' || u.p || ':' || u.id), ',') AS g
        FROM mdm.crosswalk GROUP BY person_id""")
    row = con.execute("SELECT md5(string_agg(g, '|' ORDER BY g)) FROM _bench_persons").fetchone()
    con.execute("DROP TABLE _bench_persons")
    return str(row[0])


def skip_quality_sample() -> None:
    """``C2C_BENCH_SKIP_QUALITY_SAMPLE=1``: the run draws no clerical quality sample (its
    estimate then says ``no_sample``). The sample's frame (linkage/quality.py) joins every
    pair sharing a birth date, a surname and year, or a given name and year: quadratic in
    the input (810 s of a 957 s link at 1M identities, docs/scale.md), so a bench of the
    rest of the link at the state's size leaves it out, and says so."""
    from linkage import quality

    def no_sample(*_args: object, **_kwargs: object) -> dict[str, Any]:
        return {"strata": 0, "frame_pairs": 0, "sample_pairs": 0}

    quality.draw_sample = no_sample  # type: ignore[assignment]
    print("quality sample: skipped (C2C_BENCH_SKIP_QUALITY_SAMPLE)")


def link(work: Path, run_id: str) -> None:
    import linkage
    if os.environ.get("C2C_BENCH_SKIP_QUALITY_SAMPLE") == "1":
        skip_quality_sample()
    con, _, s = _connect(work)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    t = time.perf_counter()
    with TempWatch(s.tmp_dir) as spill:
        summary = linkage.run_annual_link(con, settings=s, run_id=run_id, runs_dir=s.runs_dir)
    wall = time.perf_counter() - t
    jvm_mb = float(summary.engine.get("jvm_peak_mb", 0.0))
    jvm_cpu = float(summary.engine.get("jvm_cpu_seconds", 0.0))
    if "spark_jobs" in summary.engine:
        print(f"Spark jobs in the run: {summary.engine['spark_jobs']}")
    # CPU seconds of the link (this process, plus the Spark JVM): on a shared machine the
    # wall time swings with the load, the CPU time much less
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu = own.ru_utime + own.ru_stime - cpu_before + jvm_cpu
    load = os.getloadavg()[0]
    print(f"backend {s.linkage_backend}; records {summary.records:,} {summary.records_by_source}")
    print(f"link wall {wall:.1f} s, CPU {cpu:.1f} s (load average {load:.1f} at the end; "
          f"stages {summary.stage_seconds}); "
          f"peak RSS {summary.peak_memory_mb / 1024:.2f} GB"
          + (f" + Spark JVM {jvm_mb / 1024:.2f} GB" if jvm_mb else "")
          + f"; C2C_DUCKDB_MEMORY_LIMIT {s.duckdb_memory_limit}; peak temp (spilled) "
          f"{spill.peak / 1e9:.2f} GB; predict in {summary.predict_chunks} slice(s)")
    print(f"pairs scored {summary.pairs_scored:,}; >= threshold "
          f"{summary.pairs_above_threshold:,}; clusters {summary.clusters:,}; "
          f"review queue {summary.review_queue_size:,}")
    for rule in summary.blocking_rules:
        print(f"  rule [{rule['rule']}] pairs {rule['pairs']:,} marginal "
              f"{rule['marginal_pairs']} kept {rule['kept']}")
    figures: dict[str, Any] = {
        "backend": s.linkage_backend, "wall": wall, "cpu": cpu,
        "peak_mb": summary.peak_memory_mb + jvm_mb, "temp_peak_bytes": spill.peak,
        "memory_limit": s.duckdb_memory_limit, "predict_chunks": summary.predict_chunks,
        "records": summary.records, "load": load, "stages": summary.stage_seconds,
        "pairs_scored": summary.pairs_scored, "clusters": summary.clusters,
        "quality_sample_skipped": os.environ.get("C2C_BENCH_SKIP_QUALITY_SAMPLE") == "1"}
    # the link's own figures first: the accuracy step below runs after the link (and outside
    # its wall), so a failure there must not lose them
    print("BENCH_JSON " + json.dumps(figures), flush=True)
    ev = linkage.evaluate(con, work / "landing" / "truth.parquet")
    partition = _partition_digest(con)
    con.close()
    print("BENCH_JSON " + json.dumps({
        **figures, "precision": ev.precision, "recall": ev.recall, "f1": ev.f1,
        "partition": partition}))
    print(f"precision {ev.precision:.5f} recall {ev.recall:.5f} F1 {ev.f1:.5f} "
          f"(true pairs {ev.true_pairs:,}, predicted {ev.predicted_pairs:,})")
    print(f"clusters exact {ev.exact_cluster_rate:.4f} pure {ev.pure_cluster_rate:.4f}; "
          f"twins apart {ev.twins_apart_rate} of {ev.twin_pairs} pairs")
    for group, values in ev.recall_by_group.items():
        print(f"  recall by {group}: " + ", ".join(
            f"{k}={'n/a' if v is None else f'{v:.4f}'}" for k, v in values.items()))
    double = ev.recall_by_group.get("has_double_surname", {})
    with_double, rest = double.get("true"), double.get("false")
    if with_double is not None and rest is not None:
        print(f"double-surname recall gap {100 * (rest - with_double):.2f} points "
              "(target: within 1 point)")


def run_link_phases(script: str, work: Path, size_args: list[str], backend: str) -> None:
    """The link phase in a fresh process per backend; with ``spark``, DuckDB first and the
    two side by side (time, peak memory incl. the Spark JVM, ratio, precision / recall, same
    clusters); ``cluster`` adds a run on a two-worker standalone cluster on loopback
    (authentication and encryption on, started with pyspark's spark-class)."""
    backends = {"duckdb": ["duckdb"], "spark": ["duckdb", "spark"],
                "cluster": ["duckdb", "spark", "cluster"]}[backend]
    results = []
    for name in backends:
        env = os.environ.copy()
        env["C2C_LINKAGE_BACKEND"] = "duckdb" if name == "duckdb" else "spark"
        print(f"--- link on {name} ---", flush=True)
        if name == "cluster":
            result = _on_cluster(script, work, size_args, env)
        else:
            result = _link_process(script, work, size_args, env)
        result["backend"] = name
        results.append(result)
    if len(results) > 1:
        d = results[0]
        print(f"{'backend':8} {'wall s':>9} {'CPU s':>9} {'peak GB':>8} {'precision':>10} "
              f"{'recall':>8} {'x DuckDB wall':>14} {'same clusters':>14}")
        for r in results:
            print(f"{r['backend']:8} {r['wall']:9.1f} {r['cpu']:9.1f} {r['peak_mb'] / 1024:8.2f} "
                  f"{r['precision']:10.5f} {r['recall']:8.5f} {r['wall'] / d['wall']:14.2f} "
                  f"{str(r['partition'] == d['partition']):>14}")
        print(f"load average at the end {os.getloadavg()[0]:.1f} (2 cores)")


def _link_process(script: str, work: Path, size_args: list[str],
                  env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, script, "--phase", "link", "--work", str(work),
                           *size_args], check=True, env=env, stdout=subprocess.PIPE, text=True)
    print(done.stdout, end="")
    line = [x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")][-1]
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return result


def _on_cluster(script: str, work: Path, size_args: list[str],
                env: dict[str, str]) -> dict[str, Any]:
    """A master and two workers (2 cores, 3 GB each) on loopback, the tests' helper."""
    import secrets
    sys.path.insert(0, str(ROOT / "tests"))
    from spark_cluster import LOOPBACK, running_cluster, secure_defaults
    defaults = {**secure_defaults(secrets.token_hex(16)), **LOOPBACK,
                "spark.executor.memory": "2g", "spark.executor.cores": "1"}
    with running_cluster(work / "cluster", defaults, workers=2, memory="3g") as cluster:
        env.update({"C2C_SPARK_MASTER": cluster.url, "SPARK_CONF_DIR": str(cluster.conf_dir),
                    "SPARK_LOCAL_IP": "127.0.0.1"})
        result = _link_process(script, work, size_args, env)
        workers = [len(cluster.worker_json(i)["finishedexecutors"]
                       + cluster.worker_json(i)["executors"]) for i in (0, 1)]
        print(f"executors per worker: {workers}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--years", nargs="*", default=None)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--phase", choices=["all", "link"], default="all")
    parser.add_argument("--backend", choices=["duckdb", "spark", "cluster"], default="duckdb",
                        help="spark: link on DuckDB, then on Spark, and print both; cluster: "
                             "and on a two-worker standalone cluster on loopback")
    args = parser.parse_args()
    work = args.work or Path(f"/tmp/bench_link_{args.students}")
    if args.phase == "link":
        link(work, f"bench-{int(time.time())}")
        return
    prepare(work, args.students, args.seed, args.years)
    run_link_phases(__file__, work, ["--students", str(args.students)], args.backend)


if __name__ == "__main__":
    main()
