"""The link's memory curve: wall, CPU, peak RSS and spilled temp bytes per size and limit.

    .venv/bin/python bench/bench_link_curve.py --identities 1000000 2000000 4000000 8000000 \\
        --limits 4GB 10GB --work-root DIR

For each size, the person register of ``bench_link_persons.py`` (identities / 2 records per
register) is prepared once under ``DIR/<identities>``; then each limit runs the link in a fresh
process with ``C2C_DUCKDB_MEMORY_LIMIT`` set (``--only 8000000:10GB`` skips the other
combinations of a size). Peak RSS is the link process's own (``ru_maxrss`` when the run
summary is written); temp bytes are the peak size of DuckDB's encrypted spill folder, sampled
twice a second. Prints one table; asserts nothing. Heavy: run it under ``flock /work/heavy.lock``
on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
PERSONS = ROOT / "bench" / "bench_link_persons.py"
STAGES = (("standardise", "standardis"), ("model.train_u", "train_u"),
          ("model.train_em_names", "em_names"), ("model.train_em_dob", "em_dob"),
          ("model.predict", "predict"), ("cluster", "cluster"), ("stable_ids", "stable_ids"),
          ("quality_sample", "quality"), ("summary", "summary"))


def run_one(work: Path, limit: str) -> dict[str, Any]:
    env = {**os.environ, "C2C_DUCKDB_MEMORY_LIMIT": limit, "C2C_LINKAGE_BACKEND": "duckdb"}
    done = subprocess.run([sys.executable, str(PERSONS), "--phase", "link", "--work", str(work)],
                          env=env, capture_output=True, text=True)
    lines = [x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")]
    last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    if not lines:
        return {"memory_limit": limit, "failed": last[:300]}
    # the link's figures are printed before its accuracy step: keep them when that fails
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    if done.returncode != 0:
        result["accuracy_failed"] = last[:300]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--identities", type=int, nargs="+",
                        default=[1_000_000, 2_000_000, 4_000_000, 8_000_000])
    parser.add_argument("--limits", nargs="+", default=["4GB", "10GB"])
    parser.add_argument("--only", nargs="*", default=None,
                        help="size:limit pairs to run (default: every combination)")
    parser.add_argument("--work-root", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    from bench_link_persons import prepare

    rows = []
    for identities in args.identities:
        work = args.work_root / str(identities)
        prepare(work, identities // 2, args.seed)
        for limit in args.limits:
            if args.only is not None and f"{identities}:{limit}" not in args.only:
                continue
            print(f"--- {identities:,} identities, C2C_DUCKDB_MEMORY_LIMIT={limit} ---",
                  flush=True)
            result = run_one(work, limit)
            print(json.dumps(result), flush=True)
            rows.append((identities, result))
    print(f"{'identities':>11} {'limit':>6} {'wall s':>8} {'CPU s':>8} {'peak RSS GB':>11} "
          f"{'temp GB':>8} {'slices':>6} {'pairs scored':>13} {'load':>5}")
    for identities, r in rows:
        if "failed" in r:
            print(f"{identities:>11,} {r['memory_limit']:>6} failed: {r['failed']}")
            continue
        print(f"{identities:>11,} {r['memory_limit']:>6} {r['wall']:8.1f} {r['cpu']:8.1f} "
              f"{float(r['peak_mb']) / 1024:11.2f} {int(r['temp_peak_bytes']) / 1e9:8.2f} "
              f"{r['predict_chunks']:>6} {r['pairs_scored']:>13,} {r['load']:5.1f}")
        if "partition" in r:
            print(f"{'':>11} precision {r['precision']:.5f} recall {r['recall']:.5f} "
                  f"partition {r['partition']}")
        else:
            print(f"{'':>11} accuracy step failed: {r.get('accuracy_failed', '?')}")
    # where the wall time went, stage by stage (train_u includes choosing the rules, the
    # prior and copying the identities into Splink's workspace)
    print("\nstage wall seconds: " + " ".join(f"{name:>10}" for _, name in STAGES))
    for identities, r in rows:
        if "failed" not in r:
            print(f"{identities:>11,} {r['memory_limit']:>6} " + " ".join(
                f"{float(r['stages'].get(key, 0.0)):10.1f}" for key, _ in STAGES))


if __name__ == "__main__":
    main()
