"""Benchmark: ``analytics.publish`` and the ``small_cells_suppressed`` check at state scale.

For 10, 100, 1,000 and 2,300 LEAs (the state's reporting LEAs) it builds a synthetic
``analytics.student_year`` of three years inside an encrypted DuckDB warehouse, with a
heavy-tailed LEA size spread (log-normal, scaled so 2,300 LEAs hold about 5.9 million students
a year, like California: one LEA of several hundred thousand, a median of about a thousand,
hundreds of charters under 200), then times ``publish`` (record keys, all metrics, all
subgroups, cell-key rounding, snapshot swap) and ``suppression_applied`` (the asset check,
auditing every row). Each size runs in its own process so the peak RSS is its own.
Prints figures; asserts nothing. Usage:
``.venv/bin/python bench/bench_publish.py [--leas 10,100,1000,2300] [--threads 2]``.
Targets (issue 18): 2,300 LEAs x 3 years in under 2 minutes and 4 GB; the check under 30 s.
Measured 2026-11-30 (load average ~33 on the shared 2-core machine): 2,300 LEAs, 17.7M rows:
publish 31.6 CPU s (311 s wall under that load), peak RSS 1.4 GB; check 5.7 s.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from deid_support import make_keys  # noqa: E402

from analytics import publish, suppression_applied  # noqa: E402
from core import catalog  # noqa: E402
from core.warehouse import connect_encrypted  # noqa: E402

STATE_LEAS = 2_300
STATE_STUDENTS = 5_900_000
YEARS = 3


def lea_sizes(seed: int = 18) -> list[int]:
    """2,300 heavy-tailed LEA sizes, shuffled: the first N are a fair sample of the state."""
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(mean=0.0, sigma=1.7, size=STATE_LEAS)
    sizes = np.maximum(20, np.round(raw / raw.sum() * STATE_STUDENTS)).astype(int)
    return [int(s) for s in sizes]


def build(con: duckdb.DuckDBPyConnection, sizes: list[int]) -> int:
    """analytics.student_year: the same students in each of three years (ids stable)."""
    flags = ",\n".join(
        f"(hash(p.h, y.range, {n}) % 1000) < {50 + (n * 137) % 900} AS {v.name}"
        for n, v in enumerate(v for v in catalog.VARIABLES if v.dtype == "BOOLEAN")
    )
    values = ", ".join(f"('{1000000 + i:07d}', {s})" for i, s in enumerate(sizes))
    con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
    con.execute(f"""
        CREATE OR REPLACE TABLE {catalog.STUDENT_YEAR} AS
        WITH leas(lea, size) AS (VALUES {values}),
        p AS (SELECT lea, r.range AS i, hash(lea, r.range) AS h
              FROM leas, LATERAL range(size) r)
        SELECT * REPLACE ({flags_replace()})
        FROM (SELECT 'P' || p.lea || '-' || p.i AS person_id,
                     CAST(2021 + y.range AS VARCHAR) || '-' || CAST(22 + y.range AS VARCHAR)
                         AS academic_year,
                     p.lea AS reporting_lea, substr(p.lea, 1, 2) AS county_code,
                     p.lea AS school_code, '11' AS grade_level, 2007 AS birth_year,
                     ['M', 'F', 'M', 'F', 'X', 'unknown'][CAST(1 + p.h % 6 AS BIGINT)] AS gender,
                     ['hispanic_or_latino', 'white', 'asian', 'filipino',
                      'black_or_african_american', 'two_or_more', 'not_reported',
                      'pacific_islander', 'american_indian_or_alaska_native']
                         [CAST(1 + p.h // 7 % 9 AS BIGINT)]
                         AS race_ethnicity,
                     {flags}
              FROM p, range({YEARS}) y)""")
    row = con.execute(f"SELECT count(*) FROM {catalog.STUDENT_YEAR}").fetchone()
    return int(row[0]) if row else 0


def flags_replace() -> str:
    # hs_leaver for about a quarter of rows (grade 12 leavers), whatever the flag loop gave it
    return "(hash(person_id, academic_year) % 4 = 0) AS hs_leaver"


def cpu_seconds() -> float:
    """CPU time of this process: on a shared machine wall time also counts other people's
    work; CPU time over the thread count bounds what a quiet machine would take."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one(leas: int, threads: int) -> None:
    sizes = lea_sizes()[:leas]
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        home = Path(tmp)
        keys = make_keys(home)
        con = connect_encrypted(home / "warehouse.duckdb", keys.warehouse_key_hex(),
                                threads=threads, temp_dir=home / "tmp")
        started = time.perf_counter()
        rows = build(con, sizes)
        con.execute("CHECKPOINT")
        built = time.perf_counter() - started
        started, cpu_started = time.perf_counter(), cpu_seconds()
        summary = publish(con, home / "serving.duckdb")
        published, published_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        con.close()
        started = time.perf_counter()
        check = suppression_applied(home / "serving.duckdb")
        checked = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{leas:>5,} LEAs  {rows:>11,} rows  build {built:6.1f} s  publish "
              f"{published:6.1f} s (cpu {published_cpu:6.1f} s)  check {checked:5.1f} s "
              f"({'pass' if check.passed else 'FAIL'}, "
              f"{check.metadata['rows']:,} rows audited)  cells {summary.cells:,} "
              f"({summary.suppressed_cells:,} suppressed)  peak RSS {peak:,.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leas", default="10,100,1000,2300")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.threads)
        return
    sizes = lea_sizes()
    print(f"state: {STATE_LEAS:,} LEAs, {sum(sizes):,} students a year, largest {max(sizes):,}, "
          f"median {int(np.median(sizes)):,}, under 200: {sum(s < 200 for s in sizes):,}; "
          f"{YEARS} years; threads {args.threads}")
    for n in (int(x) for x in args.leas.split(",")):
        subprocess.run([sys.executable, __file__, "--one", str(n), "--threads",
                        str(args.threads)], check=True)


if __name__ == "__main__":
    main()
