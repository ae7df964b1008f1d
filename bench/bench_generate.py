"""Benchmark of the synthetic generator: prints students/s, wall time, files and bytes.

Usage: .venv/bin/python bench/bench_generate.py [--students 100000 | --scale 1%|10%|100%]
       [--years 2023-24] [--seed 1] [--out DIR] [--chunk N] [--workers N]

``--scale`` generates that share of California's students in the state world (one year unless
``--years`` says otherwise); ``--students`` alone is the small world, as before.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from synth import generate
from synth.generator import chunk_workers
from synth.world import SCALES


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--scale", choices=list(SCALES), default=None)
    parser.add_argument("--chunk", type=int, default=None,
                        help="students per chunk (default synth.generator.CHUNK_STUDENTS)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for a chunked run (default synth.generator.chunk_workers)")
    parser.add_argument("--years", default=None, help="comma separated (default: the "
                        "generator's three years; one, 2023-24, with --scale)")
    args = parser.parse_args()
    students = SCALES[args.scale] if args.scale else args.students
    world = "state" if args.scale else "small"
    years = args.years.split(",") if args.years else (["2023-24"] if args.scale else None)
    with tempfile.TemporaryDirectory(prefix="c2c-bench-gen-") as scratch:
        out = args.out or Path(scratch)
        began, cpu_began = time.perf_counter(), _cpu()
        summary = generate(out, students=students, seed=args.seed, years=years, world=world,
                           chunk_students=args.chunk, workers=args.workers)
        wall = time.perf_counter() - began
        cpu = _cpu() - cpu_began  # this process and its finished worker processes
        on_disk = sum(p.stat().st_blocks * 512 for p in out.rglob("*") if p.is_file())
        print(f"students        {summary.students:,}")
        print(f"people          {summary.people:,}")
        print(f"years           {', '.join(summary.years)}")
        print(f"wall time       {wall:.1f} s")
        workers = chunk_workers(args.workers) if summary.chunks > 1 else 1
        print(f"cpu time        {cpu:.1f} s user + sys, workers included ({workers} worker"
              f"{'s' if workers > 1 else ''}; wall > cpu / workers means the machine was busy)")
        print(f"students/s      {summary.students / wall:,.0f}")
        print(f"files           {summary.files:,} {summary.files_by_source}")
        print(f"bytes           {summary.bytes:,} ({summary.bytes / 1e6:.1f} MB)")
        print(f"on disk         {on_disk:,} ({on_disk / 1e9:.2f} GB, allocated blocks)")
        print(f"chunks          {summary.chunks}")
        print(f"truth rows      {summary.truth_rows:,}")
        stages: dict[str, float] = {}  # summed over the chunks
        for stage, seconds in summary.stage_seconds.items():
            name = stage.split(" (chunk ")[0]
            stages[name] = round(stages.get(name, 0.0) + seconds, 1)
        print(f"stage seconds   {stages}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS        {peak:,.0f} MiB this process, {child:,.0f} MiB the largest "
              f"worker ({summary.world} world; at most this + {workers} x the worker at once)")
        with open("/proc/loadavg") as fh:
            print(f"load average    {' '.join(fh.read().split()[:3])} (at the end)")


if __name__ == "__main__":
    main()
