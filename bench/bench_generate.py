"""Benchmark of the synthetic generator: prints students/s, wall time, files and bytes.

Usage: .venv/bin/python bench/bench_generate.py [--students 100000] [--seed 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="c2c-bench-gen-") as scratch:
        out = args.out or Path(scratch)
        began, cpu_began = time.perf_counter(), time.process_time()
        summary = generate(out, students=args.students, seed=args.seed)
        wall = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        print(f"students        {summary.students:,}")
        print(f"people          {summary.people:,}")
        print(f"years           {', '.join(summary.years)}")
        print(f"wall time       {wall:.1f} s")
        print(f"cpu time        {cpu:.1f} s (wall > cpu means the machine was busy)")
        print(f"students/s      {summary.students / wall:,.0f}")
        print(f"files           {summary.files:,} {summary.files_by_source}")
        print(f"bytes           {summary.bytes:,} ({summary.bytes / 1e6:.1f} MB)")
        print(f"truth rows      {summary.truth_rows:,}")
        print(f"stage seconds   {summary.stage_seconds}")


if __name__ == "__main__":
    main()
