"""Benchmark the annual link on generated data: time, peak memory, accuracy vs truth.

    .venv/bin/python bench/bench_link.py --students 200000 [--work DIR]

Phase 1 (this process): generate the landing tree with ``synth`` and ingest it into an
encrypted warehouse under DIR (skipped if DIR already holds one for the same size/seed).
Phase 2 (a fresh process, so peak RSS is the link's own): ``run_annual_link`` then
``evaluate`` against truth.parquet. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _settings(work: Path):  # type: ignore[no-untyped-def]
    from core.settings import Settings
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
    from ingest.partners import load_partners_csv
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


def link(work: Path, run_id: str) -> None:
    import linkage
    con, _, s = _connect(work)
    t = time.perf_counter()
    summary = linkage.run_annual_link(con, settings=s, run_id=run_id, runs_dir=s.runs_dir)
    wall = time.perf_counter() - t
    ev = linkage.evaluate(con, work / "landing" / "truth.parquet")
    con.close()
    print(f"records {summary.records:,} {summary.records_by_source}")
    print(f"link wall {wall:.1f} s (stages {summary.stage_seconds}); "
          f"peak RSS {summary.peak_memory_mb / 1024:.2f} GB")
    print(f"pairs scored {summary.pairs_scored:,}; >= threshold "
          f"{summary.pairs_above_threshold:,}; clusters {summary.clusters:,}; "
          f"review queue {summary.review_queue_size:,}")
    for rule in summary.blocking_rules:
        print(f"  rule [{rule['rule']}] pairs {rule['pairs']:,} marginal "
              f"{rule['marginal_pairs']} kept {rule['kept']}")
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--years", nargs="*", default=None)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--phase", choices=["all", "link"], default="all")
    args = parser.parse_args()
    work = args.work or Path(f"/tmp/bench_link_{args.students}")
    if args.phase == "link":
        link(work, f"bench-{int(time.time())}")
        return
    prepare(work, args.students, args.seed, args.years)
    subprocess.run([sys.executable, __file__, "--phase", "link", "--work", str(work),
                    "--students", str(args.students)], check=True, env=os.environ.copy())


if __name__ == "__main__":
    main()
