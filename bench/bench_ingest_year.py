"""A state year's files: `ingest_files` (batched) beside a bare DuckDB read of the same files.

Issue 26's target: one academic year of the state world at 100k students (about 13,700
files) ingested within 4x the time of a bare read. Both run in this process, one after the
other, each into a fresh encrypted warehouse under the same DuckDB settings:

- bare: one ``read_csv`` per file kind (all the files of that kind in one call, columns given,
  all VARCHAR, no sniffing) into a table, nothing else (no raw store, no checks, no manifest);
- ingest: ``ingest.ingest_files`` over the three folders, as ``c2c ingest DIR`` does.

Prints files, bytes, both walls, CPU and the ratio; then sends the same files again (each is
recognised by its SHA-256). With ``--bad-file`` one more file goes with the year: a copy of a
SENR file with a bad birth date on its line 3 (rejected with its receipt; the rest loads).
Asserts nothing.

    .venv/bin/python bench/bench_ingest_year.py --data DIR   # a `c2c generate --world state` tree
    .venv/bin/python bench/bench_ingest_year.py --students 100000 --work /work/scratch/x
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _du(folder: Path) -> int:
    """Bytes a folder takes on disk (allocated blocks)."""
    return _du_files([p for p in folder.rglob("*") if p.is_file()]) if folder.exists() else 0


def _du_files(files: list[Path]) -> int:
    return sum(p.stat().st_blocks * 512 for p in files)


def _kind(path: Path) -> str:
    """The file kind a bare read groups by (CALPADS record type, CSV kind)."""
    name = path.name
    if path.suffix == ".csv":
        return name.rsplit("_", 1)[0]
    return next(p for p in name.replace(".", " ").split() if p.isalpha() and p.isupper())


def bare_read(files: list[Path], home: Path, memory_limit: str,
              threads: int) -> tuple[float, float, int]:
    from core.warehouse import connect_encrypted

    groups: dict[str, list[str]] = defaultdict(list)
    for f in files:
        groups[_kind(f)].append(str(f))
    home.mkdir(parents=True)
    con = connect_encrypted(home / "bare.duckdb", os.urandom(32).hex(), memory_limit=memory_limit,
                            threads=threads)
    began, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for i, (kind, paths) in enumerate(sorted(groups.items())):
        csv = kind.startswith(("college", "ccgi"))
        delim = "," if csv else "^"
        # the cheapest read DuckDB offers: columns given (no sniffing of every file), all text
        first = next(p for p in paths if Path(p).stat().st_size)
        width = Path(first).read_bytes().split(b"\n", 1)[0].count(delim.encode()) + 1
        columns = "{" + ", ".join(f"'c{n}': 'VARCHAR'" for n in range(width)) + "}"
        options = ("header = true, quote = '\"'" if csv else "header = false, quote = ''")
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, delim = '{delim}', "
                    f"columns = {columns}, auto_detect = false, {options})", [paths])
        row = con.execute(f"SELECT count(*) FROM t{i}").fetchone()
        rows += int(row[0]) if row else 0
    con.execute("CHECKPOINT")
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    con.close()
    return wall, cpu, rows


def _bad_copy(data: Path, where: Path) -> Path:
    """A folder holding one malformed SENR file (its LEA's, its year's): line 3's birth date."""
    source = next(p for p in sorted((data / "calpads").rglob("SENR*"))
                  if p.read_bytes().count(b"\n") >= 3)
    target = where / "calpads" / source.relative_to(data / "calpads")
    target.parent.mkdir(parents=True)
    lines = source.read_bytes().split(b"\n")
    fields = lines[2].split(b"^")
    fields[16] = b"2007-13-45"
    lines[2] = b"^".join(fields)
    target.write_bytes(b"\n".join(lines))
    return where / "calpads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="a generated state world")
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--year", default="2023-24")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: tmp)")
    parser.add_argument("--batch-files", type=int, default=None)
    parser.add_argument("--bare-threads", default="2,1",
                        help="DuckDB threads of the bare reads, comma separated")
    parser.add_argument("--sample", type=int, default=1,
                        help="every Nth file only (a quick figure on a busy machine)")
    parser.add_argument("--bad-file", action="store_true",
                        help="add one malformed file to the year's files")
    args = parser.parse_args()

    from core.keys import KeyProvider, create_master_key
    from core.settings import Settings
    from core.warehouse import warehouse
    from ingest import IngestOptions, expand_paths, ingest_files
    from ingest.partners_csv import load_partners_csv
    from ingest.staging_checks import no_files_left_received, row_counts_match_receipts

    work = Path(tempfile.mkdtemp(prefix="c2c-bench-year-", dir=args.work))
    try:
        data = args.data
        if data is None:
            from synth import generate

            data = work / "data"
            began = time.perf_counter()
            generate(data, students=args.students, seed=1, years=[args.year], world="state")
            print(f"generated {args.students:,} students in {time.perf_counter() - began:.0f} s")
        folders = [data / d for d in ("calpads", "college", "ccgi") if (data / d).exists()]
        if args.bad_file:
            folders.append(_bad_copy(data, work / "bad"))
        files = expand_paths(folders)[::args.sample]
        if args.sample > 1:
            folders = list(files)
        size = sum(f.stat().st_size for f in files)
        print(f"{len(files):,} files, {size / 1e6:.1f} MB; load average before: {_load()} "
              f"on {os.cpu_count()} cores", flush=True)

        settings = Settings(home=work / "home")  # both under the warehouse's memory limit
        bare_wall = float("inf")
        for threads in [int(t) for t in args.bare_threads.split(",")]:  # ratio: the fastest
            wall, cpu, bare_rows = bare_read(files, work / f"bare{threads}",
                                             settings.duckdb_memory_limit, threads)
            print(f"bare read_csv (one per file kind, {threads} thread(s)): {wall:.1f} s wall, "
                  f"{cpu:.1f} s CPU, {bare_rows:,} rows", flush=True)
            bare_wall = min(bare_wall, wall)

        create_master_key(settings.master_key_path)
        raw_key = KeyProvider(settings.master_key_path, settings.keyring_path).derive("raw-store")
        partners = load_partners_csv(data / "partners.csv")
        marks: dict[str, float] = {}

        def mark(text: str) -> None:  # when storing ends and loading begins
            key = "stored" if text.startswith("stored") else \
                "loading" if text.startswith("loading") else ""
            if key == "stored" or (key and key not in marks):
                marks[key] = time.perf_counter()

        options = IngestOptions(on_event=mark) if args.batch_files is None else \
            IngestOptions(batch_files=args.batch_files, on_event=mark)
        with warehouse(settings) as con:
            began, cpu = time.perf_counter(), time.process_time()
            receipts = ingest_files(con, folders, settings.raw_dir, raw_key, partners,
                                    options=options)
            con.execute("CHECKPOINT")
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
            status: dict[str, int] = defaultdict(int)
            for receipt in receipts:
                status[str(receipt.status)] += 1
            rows = sum(r.rows for r in receipts)
            print(f"ingest_files: {wall:.1f} s wall, {cpu:.1f} s CPU, {len(receipts):,} receipts "
                  f"{dict(status)}, {rows:,} rows, {1000 * wall / len(files):.2f} ms per file")
            if "stored" in marks and "loading" in marks:
                print(f"  raw store {marks['stored'] - began:.1f} s, manifest + identify "
                      f"{marks['loading'] - marks['stored']:.1f} s, loads + receipts "
                      f"{began + wall - marks['loading']:.1f} s")
            print(f"ratio ingest / faster bare read: {wall / bare_wall:.2f}x (target 4x)",
                  flush=True)
            for receipt in receipts:
                if receipt.rejected:
                    print(f"rejected: {receipt.message}")
            checks = [no_files_left_received(con), row_counts_match_receipts(con)]
            print("checks: " + ", ".join(f"{c.name} {'ok' if c.passed else 'FAILED'}"
                                         for c in checks))
            began = time.perf_counter()
            again = ingest_files(con, folders, settings.raw_dir, raw_key, partners,
                                 options=options)
            second = time.perf_counter() - began
            print(f"sent again ({len(again):,} receipts, all recognised): {second:.1f} s")
        raw = _du(settings.raw_dir)
        print(f"on disk: landing files {_du_files(files) / 1e9:.2f} GB, raw store "
              f"{raw / 1e9:.2f} GB, warehouse {(_du(settings.home) - raw) / 1e9:.2f} GB, bare "
              f"read's database {max(_du(work / f'bare{t}') for t in (1, 2)) / 1e9:.2f} GB")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.0f} MiB; load average after: {_load()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
