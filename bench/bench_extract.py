"""Benchmark: pseudonymise, k-anonymise, scan and package a large research extract.

Builds a synthetic ``analytics.student_year`` (default 5,000,000 rows: 1,666,667 people x 3
years) inside an encrypted DuckDB warehouse, then times ``deidentify.build_extract`` for a
typical person-level request and ``verify_extract`` of the package. Prints figures; asserts
nothing. Usage: ``.venv/bin/python bench/bench_extract.py [--rows N] [--earlier-shares V,V]``
(``--earlier-shares``: as if an earlier extract held those variables: the cross-extract rule).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from deid_support import NOW, make_keys, request, student_year_sql  # noqa: E402

import deidentify  # noqa: E402
from core.warehouse import connect_encrypted  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--earlier-shares", default="", metavar="VAR,VAR",
                        help="variables an earlier extract (R-earlier) also holds; default none")
    args = parser.parse_args()
    shared = [v for v in args.earlier_shares.split(",") if v]
    earlier = {"R-earlier": shared} if shared else {}
    years = 3
    persons = -(-args.rows // years)
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
        home = Path(tmp)
        keys = make_keys(home)
        con = connect_encrypted(home / "warehouse.duckdb", keys.warehouse_key_hex(),
                                threads=args.threads, temp_dir=home / "tmp")
        started = time.perf_counter()
        con.execute(student_year_sql(persons, years))
        con.execute("CHECKPOINT")
        rows = con.execute("SELECT count(*) FROM analytics.student_year").fetchone()
        assert rows is not None
        print(f"synthetic analytics.student_year: {rows[0]:,} rows, {persons:,} people "
              f"in {time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mb():,.0f} MB")

        req = request(request_id="R-bench", variables=[
            "person_id", "academic_year", "reporting_lea", "school_code", "grade_level",
            "birth_year", "gender", "race_ethnicity", "socioeconomically_disadvantaged",
            "english_learner", "cte_participant", "cte_completer", "hs_graduate",
            "ag_eligible", "cc_enrolled_within_1yr",
        ])
        started, cpu = time.perf_counter(), cpu_seconds()
        result = deidentify.build_extract(con, req, keys, home / "extracts", now=NOW,
                                          earlier_extracts=earlier)
        build_seconds, build_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        con.close()
        assert result.disclosure is not None
        print(f"build_extract: {build_seconds:.1f} s for {result.rows:,} released rows "
              f"({result.suppressed_rows:,} suppressed); package {result.package_bytes / 1e6:,.0f}"
              f" MB; peak RSS {peak_rss_mb():,.0f} MB; CPU {build_cpu:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print("  stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
        print(f"  generalisations: {result.disclosure.generalisations}")
        cross = result.disclosure.cross_extract
        print(f"  shared with an earlier extract: {cross['linkage_variables'] or 'nothing'}; "
              f"{cross['suppressed_rows']:,} rows of {cross['suppressed_persons']:,} people "
              "suppressed for it")
        files = result.manifest["files"]
        print("  files: " + ", ".join(f"{n} {f['bytes'] / 1e6:,.0f} MB" for n, f in files.items()))

        started = time.perf_counter()
        verified = deidentify.verify_extract(result.package_path, keys=keys, now=NOW)
        print(f"verify_extract (decrypt + authenticate + hash everything): "
              f"{time.perf_counter() - started:.1f} s, {len(verified.files)} files ok; "
              f"peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
