"""Ingest of a >= 1 GB SCSC-like caret file vs a bare DuckDB ``read_csv`` of the same file.

Prints both times, the ratio (target: ingest within 1.5x of the bare read) and each run's peak
RSS. Each measurement runs in its own subprocess so peak RSS is per run. The file and every
store live in a temp dir outside the repo and are deleted afterwards. Never asserts timings.

    .venv/bin/python bench/bench_ingest.py [--gb 1.0] [--memory-limit 2GB] [--rounds 1]

With ``--rounds N`` the pair runs N times, alternating, each time on fresh stores; the ratio
of each round and the median are printed (on a shared machine single rounds vary by 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.calpads import SCSC_V2019  # noqa: E402
from core.partners import AgreementStatus, Partner, PartnerKind  # noqa: E402
from core.warehouse import connect_encrypted  # noqa: E402

LEA = "0112345"
NAME = "SCSC 2022-23.txt"
FIRST = ("Ana", "José", "Luis", "Mai", "Nguyen", "Olivia", "Xochitl", "Zoë")
LAST = ("García López", "Smith", "Nguyen", "O'Brien", "Hernández", "Kim", "Patel", "Lee")


def build_file(path: Path, target_bytes: int) -> tuple[int, int]:
    """Write SCSC-R records (22 columns, CRLF) until the file is at least ``target_bytes``."""
    rows = 0
    written = 0
    with open(path, "wb") as handle:
        buffer: list[str] = []
        while written < target_bytes:
            for _ in range(20_000):
                i = rows
                buffer.append(
                    f"SCSC-R^A^{i}^{LEA}^{LEA[:6]}{i % 9}^2022-2023^{i // 4:010d}^L{i // 4}^"
                    f"{FIRST[i % 8]}^{LAST[(i // 8) % 8]}^2007{(i % 12) + 1:02d}{(i % 28) + 1:02d}^"
                    f"{'MFX'[i % 3]}^C{i % 500:04d}^S{i % 5000:05d}^F^5.00^5.00^A-^A^T1^"
                    f"20230601^20230602\r\n"
                )
                rows += 1
            data = "".join(buffer).encode("utf-8")
            handle.write(data)
            written += len(data)
            buffer.clear()
    return rows, written


def run_bare(work: Path, memory_limit: str) -> dict[str, float]:
    con = connect_encrypted(work / "bare.duckdb", secrets.token_hex(32), memory_limit=memory_limit,
                            temp_dir=work / "tmp-bare")
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in SCSC_V2019.column_names(True)) + "}"
    start = time.perf_counter()
    con.execute(
        f"CREATE TABLE t AS SELECT * FROM read_csv('{work / NAME}', delim = '^', quote = '', "
        f"header = false, columns = {columns}, auto_detect = false)"
    )
    seconds = time.perf_counter() - start
    rows = con.execute("SELECT count(*) FROM t").fetchone()
    con.close()
    return {"seconds": seconds, "rows": float(rows[0] if rows else 0)}


def run_ingest(work: Path, memory_limit: str) -> dict[str, float]:
    from ingest import IngestOptions, ingest_file

    con = connect_encrypted(work / "wh.duckdb", secrets.token_hex(32), memory_limit=memory_limit,
                            temp_dir=work / "tmp-wh")
    partner = Partner(org_code=LEA, name="Bench USD", kind=PartnerKind.LEA,
                      agreement_status=AgreementStatus.EXECUTED, agreement_start=date(2018, 1, 1))
    folder = work / "land" / "calpads" / LEA / "2022-23"
    marks: dict[str, float] = {}

    def mark(event: str) -> None:  # "storing ...", "loading ...", "accepted ..."
        marks.setdefault(event.split()[0], time.perf_counter())

    start = time.perf_counter()
    [receipt] = ingest_file(con, work / NAME, work / "raw", secrets.token_bytes(32), [partner],
                            display_path=str(folder / NAME), options=IngestOptions(on_event=mark))
    seconds = time.perf_counter() - start
    con.close()
    if receipt.status != "accepted":
        raise SystemExit(f"bench file was not accepted: {receipt.message}")
    return {"seconds": seconds, "rows": float(receipt.rows),
            "store_seconds": marks["loading"] - start,
            "load_seconds": marks["accepted"] - marks["loading"]}


def child(mode: str, work: Path, memory_limit: str) -> None:
    result = run_bare(work, memory_limit) if mode == "bare" else run_ingest(work, memory_limit)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _fresh_stores(work: Path) -> None:
    """Remove what an earlier run left (warehouses, raw store, spill folders), keep the file."""
    for path in work.iterdir():
        if path.name != NAME:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def _load() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews the times)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--child", choices=("bare", "ingest"))
    parser.add_argument("--work", type=Path)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work, args.memory_limit)
        return
    work = Path(tempfile.mkdtemp(prefix="c2c-bench-ingest-"))
    try:
        start = time.perf_counter()
        rows, size = build_file(work / NAME, int(args.gb * 1024**3))
        print(f"file: {size / 1024**3:.2f} GiB, {rows:,} SCSC-R records "
              f"(built in {time.perf_counter() - start:.1f} s); DuckDB memory_limit "
              f"{args.memory_limit}, 2 threads; load average before: {_load()}")
        ratios = []
        for round_no in range(1, args.rounds + 1):
            results = {}
            for mode in ("bare", "ingest"):
                _fresh_stores(work)
                # Write back what building the file and the previous run left dirty, so
                # neither run's fsync waits for the other's (or the file build's) writes.
                os.sync()
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--work", str(work),
                     "--memory-limit", args.memory_limit],
                    check=True, capture_output=True, text=True,
                )
                results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
                r = results[mode]
                parts = ""
                if "store_seconds" in r:
                    parts = (f" (schema, raw store, identify {r['store_seconds']:.1f} s, "
                             f"load {r['load_seconds']:.1f} s)")
                print(f"{mode:>6}: {r['seconds']:.1f} s{parts}, {int(r['rows']):,} rows, "
                      f"{size / 1024**2 / r['seconds']:.0f} MiB/s, peak RSS "
                      f"{r['peak_rss_mb']:.0f} MiB (load average after: {_load()})")
            ratios.append(results["ingest"]["seconds"] / results["bare"]["seconds"])
            print(f"round {round_no}: ratio ingest / bare read_csv {ratios[-1]:.2f}x "
                  "(target <= 1.5x)")
        if len(ratios) > 1:
            print(f"median ratio over {len(ratios)} rounds: {statistics.median(ratios):.2f}x")
        print("ingest includes: SHA-256 + AES-GCM raw store (fsynced), DuckDB reading the "
              "encrypted store in parallel, typed insert checking every rule, line numbers, "
              "receipt")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
