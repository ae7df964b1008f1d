"""Benchmark the annual link on a large person register: N + N records (default 1M + 1M).

    .venv/bin/python bench/bench_link_persons.py --records 1000000 [--work DIR]
        [--backend spark|cluster]

Generating 1M + 1M through ``synth`` (students with years of enrolments, courses, CCGI weeks)
would take far longer than the link, so this bench has its own light generator of *person
records* (vectorised numpy; the same name pools as synth: its first / middle names and the
1990 Census surname list with their frequencies), in the style of the Splink stack check:

- register A: N records, 1% of them corrupted duplicates of other A people;
- register B: N records, 15% corrupted copies of A people, 1% duplicates within B, the rest
  new people;
- people are born 1940-2005, have a ZIP among 1,700, half carry a middle name, no SSID;
- each duplicate gets 1-3 corruptions: typo in first or last name, day/month swap, year off
  by one, missing birth date, missing first name, new ZIP, new surname, gender missing,
  middle name dropped.

A and B are loaded as two college partners (A01 / B01) into an encrypted warehouse, then (in
a fresh process, so peak RSS is the link's own) ``run_annual_link`` and ``evaluate`` run
unchanged. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

EPOCH = date(1940, 1, 1)
DAYS = (date(2005, 12, 31) - EPOCH).days
ZIPS = 1_700


def _pools() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Name pools with Zipf-like weights (given names) and Census frequencies (surnames)."""
    from unidecode import unidecode
    data = json.loads((ROOT / "synth" / "data" / "names.json").read_text(encoding="utf-8"))
    pools: dict[str, dict[str, float]] = {"M": {}, "F": {}, "middle": {}}
    for group in data["groups"].values():
        for key, target in (("male", "M"), ("female", "F"), ("middle_male", "middle"),
                            ("middle_female", "middle")):
            for rank, name in enumerate(group[key]):
                pools[target][name] = pools[target].get(name, 0.0) + 1.0 / (rank + 3)
    surnames: dict[str, float] = {}
    with (ROOT / "synth" / "data" / "census1990_surnames.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            surnames[unidecode(row["name"])] = max(float(row["per_100k"]), 0.05)
    pools["last"] = surnames
    return {k: (np.array(list(v), dtype=object), np.array(list(v.values())) / sum(v.values()))
            for k, v in pools.items()}


def _draw(rng: np.random.Generator, pool: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    return rng.choice(pool[0], size=n, p=pool[1])


def _people(rng: np.random.Generator, pools: dict, n: int) -> dict[str, np.ndarray]:
    gender = np.where(rng.random(n) < 0.5, "M", "F").astype(object)
    first = np.where(gender == "M", _draw(rng, pools["M"], n), _draw(rng, pools["F"], n))
    middle = np.where(rng.random(n) < 0.5, _draw(rng, pools["middle"], n), None)
    return {
        "first_name": first, "middle_name": middle, "last_name": _draw(rng, pools["last"], n),
        "dob": rng.integers(0, DAYS, n), "gender": gender,
        "zip": (90_001 + rng.integers(0, ZIPS, n) * 3).astype(str).astype(object),
    }


def _typo(rng: np.random.Generator, word: str | None) -> str | None:
    if not word or len(word) < 3:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(0, 3)
    if kind == 0:  # substitute
        return word[:i] + chr(ord("a") + int(rng.integers(0, 26))) + word[i + 1:]
    if kind == 1:  # transpose
        return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]
    return word[:i] + word[i + 1:]  # delete


def _corrupt(rng: np.random.Generator, pools: dict, rec: dict) -> dict:
    out = dict(rec)
    for kind in rng.choice(9, size=int(rng.integers(1, 4)), replace=False):
        if kind == 0:
            out["first_name"] = _typo(rng, out["first_name"])
        elif kind == 1:
            out["last_name"] = _typo(rng, out["last_name"])
        elif kind == 2 and out["dob"] is not None:  # day/month swap when the date allows
            d = EPOCH + timedelta(days=int(out["dob"]))
            if d.day <= 12:
                out["dob"] = (date(d.year, d.day, d.month) - EPOCH).days
        elif kind == 3 and out["dob"] is not None:  # year off by one
            d = EPOCH + timedelta(days=int(out["dob"]))
            out["dob"] = (date(d.year + 1, d.month, min(d.day, 28)) - EPOCH).days
        elif kind == 4:
            out["dob"] = None
        elif kind == 5:
            out["first_name"] = None
        elif kind == 6:
            out["zip"] = str(90_001 + int(rng.integers(0, ZIPS)) * 3)
        elif kind == 7:
            out["last_name"] = _draw(rng, pools["last"], 1)[0]
        else:
            out["gender"] = None
            out["middle_name"] = None
    return out


def _duplicates(rng: np.random.Generator, pools: dict, src: dict[str, np.ndarray],
                pids: np.ndarray, rows: np.ndarray) -> tuple[dict[str, list], np.ndarray]:
    cols = list(src)
    out: dict[str, list] = {c: [] for c in cols}
    for i in rows:
        rec = _corrupt(rng, pools, {c: src[c][i] for c in cols})
        for c in cols:
            out[c].append(rec[c])
    return out, pids[rows]


def _concat(parts: list[dict]) -> dict[str, np.ndarray]:
    return {c: np.concatenate([np.asarray(p[c], dtype=object) for p in parts]) for c in parts[0]}


def generate(n: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """Staging rows (college_students layout) and the truth table."""
    rng = np.random.default_rng(seed)
    pools = _pools()
    n_a_dup = n // 100
    a_people = _people(rng, pools, n - n_a_dup)
    a_pid = np.arange(n - n_a_dup)
    a_dups, a_dup_pid = _duplicates(rng, pools, a_people, a_pid,
                                    rng.choice(n - n_a_dup, n_a_dup, replace=False))
    a = _concat([a_people, a_dups])
    a_truth = np.concatenate([a_pid, a_dup_pid])

    n_links, n_b_dup = (15 * n) // 100, n // 100
    b_new = _people(rng, pools, n - n_links - n_b_dup)
    b_new_pid = np.arange(n - n_links - n_b_dup) + n
    links, link_pid = _duplicates(rng, pools, a_people, a_pid,
                                  rng.choice(n - n_a_dup, n_links, replace=False))
    b_dups, b_dup_pid = _duplicates(rng, pools, b_new, b_new_pid,
                                    rng.choice(len(b_new_pid), n_b_dup, replace=False))
    b = _concat([b_new, links, b_dups])
    b_truth = np.concatenate([b_new_pid, link_pid, b_dup_pid])

    staging, truth = [], []
    for code, recs, pids in (("A01", a, a_truth), ("B01", b, b_truth)):
        m = len(pids)
        dob = np.array([None if d is None else EPOCH + timedelta(days=int(d))
                        for d in recs["dob"]], dtype=object)
        ids = np.char.add(f"{code}-", np.arange(m).astype(str)).astype(object)
        staging.append(pa.table({
            "college_code": pa.array([code] * m), "student_id": pa.array(ids, pa.string()),
            "student_id_status": pa.array(["S"] * m), "ccc_id": pa.nulls(m, pa.string()),
            "ssid": pa.nulls(m, pa.string()),
            "first_name": pa.array(recs["first_name"], pa.string()),
            "middle_name": pa.array(recs["middle_name"], pa.string()),
            "last_name": pa.array(recs["last_name"], pa.string()),
            "birth_date": pa.array(dob, pa.date32()),
            "gender": pa.array(recs["gender"], pa.string()),
            "zip_code": pa.array(recs["zip"], pa.string()),
            "first_term_id": pa.nulls(m, pa.string()),
            "file_id": pa.array([code] * m), "line_no": pa.array(np.arange(1, m + 1)),
        }))
        truth.append(pa.table({
            "source_system": pa.array(["college"] * m), "partner_org": pa.array([code] * m),
            "source_person_id": pa.array(ids, pa.string()),
            "true_person_id": pa.array(pids.astype(str)),
        }))
    return pa.concat_tables(staging), pa.concat_tables(truth)


def prepare(work: Path, records: int, seed: int) -> None:
    from bench_link import _connect
    marker = work / "prepared.json"
    wanted = {"records": records, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        print(f"reusing prepared warehouse in {work}")
        return
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    (work / "landing").mkdir(parents=True)
    t = time.perf_counter()
    staging, truth = generate(records, seed)
    print(f"generated {staging.num_rows:,} person records in {time.perf_counter() - t:.1f} s")
    pq.write_table(truth, work / "landing" / "truth.parquet")
    con, _, _ = _connect(work)
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.register("_persons", staging)
    con.execute("CREATE OR REPLACE TABLE staging.college_students AS FROM _persons")
    con.close()
    marker.write_text(json.dumps(wanted))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000, help="records per register")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--phase", choices=["all", "link"], default="all")
    parser.add_argument("--backend", choices=["duckdb", "spark", "cluster"], default="duckdb",
                        help="spark: link on DuckDB, then on Spark, and print both; cluster: "
                             "and on a two-worker standalone cluster on loopback")
    args = parser.parse_args()
    work = args.work or Path(f"/tmp/bench_link_persons_{args.records}")
    if args.phase == "link":
        from bench_link import link
        link(work, f"bench-{int(time.time())}")
        return
    prepare(work, args.records, args.seed)
    from bench_link import run_link_phases
    run_link_phases(__file__, work, ["--records", str(args.records)], args.backend)


if __name__ == "__main__":
    main()
