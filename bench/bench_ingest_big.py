"""One partner file of about 2 GB through ingest: wall, CPU and peak RSS (issue 26).

A generated SENR extract is grown to ``--size`` bytes (``synth.inflate``: its records repeated
with fresh SSIDs), then ``c2c ingest`` loads it in a child process (so the peak RSS printed is
the ingest's own, under the warehouse's DuckDB memory limit). A file that streams needs about
the same memory at 200 MB as at 2 GB; one read whole would need more than its size.

    .venv/bin/python bench/bench_ingest_big.py [--size 2000000000] [--work /work/scratch/x]
Asserts nothing; deletes its folder at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_CHILD = """
import resource, sys, time
from pathlib import Path
from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from core.warehouse import warehouse
from ingest import ingest_files
from ingest.partners_csv import load_partners_csv
home, folder, partners = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = Settings(home=home)
create_master_key(settings.master_key_path)
key = KeyProvider(settings.master_key_path, settings.keyring_path).derive("raw-store")
with warehouse(settings) as con:
    began, cpu = time.perf_counter(), time.process_time()
    receipts = ingest_files(con, [folder], settings.raw_dir, key, load_partners_csv(partners))
    con.execute("CHECKPOINT")
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
r = receipts[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"RESULT {wall:.1f} {cpu:.1f} {peak:.0f} {r.status} {r.rows} {settings.duckdb_memory_limit}")
"""


def _du(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2_000_000_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    from synth import generate
    from synth.inflate import inflate

    work = Path(tempfile.mkdtemp(prefix="c2c-bench-big-", dir=args.work))
    try:
        data = work / "data"
        generate(data, students=80, seed=5, years=["2023-24"])
        source = sorted((data / "calpads").rglob("SENR*"))[0]
        big = work / "big" / "calpads" / source.relative_to(data / "calpads")
        began = time.perf_counter()
        records, size = inflate(source, big, args.size)
        print(f"file: {big.name}, {size:,} bytes ({size / 1e9:.2f} GB), {records:,} records, "
              f"written in {time.perf_counter() - began:.0f} s; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(work / "home"), str(work / "big" / "calpads"),
             str(data / "partners.csv")], capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"ingest FAILED: {done.stderr.strip().splitlines()[-3:]}")
            return
        wall, cpu, peak, status, rows, limit = line.split()[1:]
        print(f"ingest: {wall} s wall, {cpu} s CPU (the process, "
              f"DuckDB threads included), {float(wall) and size / 1e6 / float(wall):.1f} MB/s")
        print(f"receipt: {status}, {int(rows):,} rows (of {records:,})")
        print(f"peak RSS of the ingest process: {peak} MiB (file {size / 2**20:,.0f} MiB; "
              f"DuckDB memory limit {limit})")
        print(f"raw store + warehouse on disk: {_du(work / 'home') / 1e9:.2f} GB; load average "
              f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
