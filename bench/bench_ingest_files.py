"""Per-file cost of ingest: many tiny files, as the state sends them (issue 13).

The state sends about 17,000 files a year (2,376 LEAs x 7 CALPADS files, colleges, CCGI
weekly), most of them small, so the fixed cost per file matters more than the bytes. This
generates the state world (``synth.world``) at a small student count, ingests ``--files`` of
its files one after another into a fresh encrypted warehouse, and splits the time per file
into its parts by timing the functions that do each part (wrapped here, for this process
only). Then it sends the same files again (each is recognised by its SHA-256 and skipped).
Prints ms per file and the projection for 17,000 files; asserts nothing.

    .venv/bin/python bench/bench_ingest_files.py [--files 400] [--students 1000] [--data DIR]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATE_FILES_PER_YEAR = 17_000

# part -> (module, attribute) of the functions timed; nested parts are subtracted from the
# part that calls them (a load's manifest writes are "manifest + receipt", not "load").
PARTS: dict[str, list[tuple[str, str]]] = {
    "raw store (SHA-256, AES-GCM, fsync)": [("ingest.pipeline", "store_file")],
    "identify (first line, name, partner)": [("ingest.pipeline", "identify_file"),
                                             ("ingest.pipeline", "first_line")],
    "manifest + receipt (DuckDB rows)": [
        ("ingest.manifest", "get_file"), ("ingest.manifest", "files_where"),
        ("ingest.manifest", "insert_file"), ("ingest.manifest", "update_file"),
        ("ingest.manifest", "write_receipt"), ("ingest.manifest", "read_receipt")],
    "load plan check (EXPLAIN)": [("ingest.load_sql", "_require_ordered_append")],
    "staging load (read_csv, type, rules)": [("ingest.fileload", "load_calpads"),
                                             ("ingest.fileload", "load_csv")],
    "supersession": [("ingest.fileload", "supersede"), ("ingest.pipeline", "newer_current")],
    "commit (DuckDB WAL)": [("core.duck", "Transaction.commit")],
}


class Clock:
    """Exclusive wall time per part: time inside a nested timed call counts for that call."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []  # [start, time spent in nested timed calls]

    def timed(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            frame = [time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                self._stack.pop()
                spent = time.perf_counter() - frame[0]
                self.seconds[part] += spent - frame[1]
                if self._stack:
                    self._stack[-1][1] += spent

        return wrapper

    def install(self) -> None:
        import importlib

        for part, targets in PARTS.items():
            for module_name, attribute in targets:
                owner: Any = importlib.import_module(module_name)
                *path, name = attribute.split(".")
                for step in path:
                    owner = getattr(owner, step)
                setattr(owner, name, self.timed(part, getattr(owner, name)))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=400, help="files to ingest")
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--year", default="2023-24")
    parser.add_argument("--batch-files", type=int, default=1,
                        help="files per load (1: the per-file path this bench measures; "
                             "bench_ingest_year.py measures the batched path)")
    parser.add_argument("--data", type=Path, default=None,
                        help="a generated state world to reuse (default: generate one)")
    args = parser.parse_args()

    from core.keys import KeyProvider, create_master_key
    from core.settings import Settings
    from core.warehouse import warehouse
    from ingest import IngestOptions, expand_paths, ingest_files
    from ingest.partners_csv import load_partners_csv
    from synth import generate

    work = Path(tempfile.mkdtemp(prefix="c2c-bench-files-"))
    try:
        data = args.data
        if data is None:
            data = work / "data"
            generate(data, students=args.students, seed=1, years=[args.year], world="state")
        files = expand_paths([data / d for d in ("calpads", "college", "ccgi")
                              if (data / d).exists()])[: args.files]
        size = sum(f.stat().st_size for f in files)
        settings = Settings(home=work / "home")
        create_master_key(settings.master_key_path)
        raw_key = KeyProvider(settings.master_key_path, settings.keyring_path).derive("raw-store")
        partners = load_partners_csv(data / "partners.csv")
        clock = Clock()
        clock.install()
        print(f"{len(files)} files, {size / len(files) / 1024:.1f} KiB each on average; "
              f"load average before: {_load()} on {os.cpu_count()} cores", flush=True)
        options = IngestOptions(batch_files=args.batch_files)
        with warehouse(settings) as con:
            ingest_files(con, files[:1], settings.raw_dir, raw_key, partners)  # schema, warm
            clock.seconds.clear()
            began = time.perf_counter()
            receipts = ingest_files(con, files[1:], settings.raw_dir, raw_key, partners,
                                    options=options)
            first = time.perf_counter() - began
            parts = dict(clock.seconds)
            began = time.perf_counter()
            again = ingest_files(con, files[1:], settings.raw_dir, raw_key, partners,
                                 options=options)
            second = time.perf_counter() - began
        count = len(files) - 1
        status: dict[str, int] = defaultdict(int)
        for receipt in receipts:
            status[str(receipt.status)] += 1
        print(f"first sending: {count} files -> {len(receipts)} receipts {dict(status)}: "
              f"{first:.1f} s, {1000 * first / count:.1f} ms per file")
        for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"  {part:<40} {1000 * seconds / count:7.1f} ms per file "
                  f"({100 * seconds / first:4.1f}%)")
        rest = first - sum(parts.values())
        print(f"  {'other (pipeline, Python)':<40} {1000 * rest / count:7.1f} ms per file "
              f"({100 * rest / first:4.1f}%)")
        print(f"sent again (all recognised, {len(again)} receipts): {second:.1f} s, "
              f"{1000 * second / count:.1f} ms per file")
        print(f"projection for {STATE_FILES_PER_YEAR:,} files a year at this size: "
              f"{STATE_FILES_PER_YEAR * first / count / 60:.1f} minutes")
        print(f"load average after: {_load()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
