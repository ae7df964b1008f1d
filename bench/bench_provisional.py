"""Provisional person ids between annual runs (linkage/provisional.py): agreement and cost.

    .venv/bin/python bench/bench_provisional.py agreement --students 5000 [--seed 7] [--work DIR]
    .venv/bin/python bench/bench_provisional.py weekly --from DIR/all

``agreement``: generate two school years, ingest everything but the CCGI weeks from
2024-01-01 and the spring 2024 college term, run the annual link, ingest the rest, give the
new records provisional ids, run the annual link again, and print how many provisional
assignments the annual run confirmed, merged or split (target: agreement >= 99.5 %).

``weekly``: on a copy of a warehouse the robustness matrix linked (bench_robustness.py
--work DIR; DIR/<profile>/home), the CCGI accounts of the last weekly file are taken out of
the crosswalk, as if that file had just arrived, and provisional ids are given to them
against the rest of the MDM; prints the time (target: under a minute) and peak RSS. The
standardisation of all staging is part of the cost (it must match the annual run's).
Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUTOFF = "2024-01-01"


def _late(path: Path) -> bool:
    name = path.name
    if name.startswith("ccgi_activity_"):
        return name.removeprefix("ccgi_activity_").removesuffix(".csv") >= CUTOFF
    return name.startswith("college_") and name.endswith("_243.csv")


def agreement(students: int, seed: int, work: Path) -> None:
    import duckdb

    import linkage
    import synth
    from core.keys import create_master_key
    from core.settings import Settings
    from ingest import expand_paths, ingest_files
    from ingest.partners_csv import load_partners_csv
    from linkage.provisional import link_provisional, provisional_agreement
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    synth.generate(landing, students=students, seed=seed, years=["2022-23", "2023-24"])
    settings = Settings(home=work / "home")
    create_master_key(settings.master_key_path)
    files = expand_paths([landing / d for d in ("calpads", "college", "ccgi")])
    partners = load_partners_csv(landing / "partners.csv")
    con = duckdb.connect(str(work / "warehouse.duckdb"))
    key = b"k" * 32
    ingest_files(con, [f for f in files if not _late(f)], work / "raw", key, partners)
    linkage.run_annual_link(con, settings=settings, run_id="y1", runs_dir=work / "runs")
    late = [f for f in files if _late(f)]
    ingest_files(con, late, work / "raw", key, partners)
    summary = link_provisional(con, runs_dir=work / "runs", run_id="w1",
                               threshold=settings.link_match_threshold)
    linkage.run_annual_link(con, settings=settings, run_id="y2", runs_dir=work / "runs")
    judged = provisional_agreement(con)
    con.close()
    print(f"{students} students, seed {seed}: {len(late)} late files; provisional: "
          f"{summary.new_units} new units against {summary.mdm_units} MDM units, "
          f"{summary.linked_to_existing} linked to an existing person, {summary.new_persons} "
          f"provisional persons, {summary.seconds} s")
    print(f"next annual run: {judged.units} units judged, confirmed {judged.confirmed}, "
          f"merged {judged.merged}, split {judged.split}; agreement "
          f"{100 * (judged.agreement or 0):.2f} % (target >= 99.5 %)")
    shutil.rmtree(work, ignore_errors=True)


def weekly(source: Path, work: Path) -> None:
    from core import tables
    from core.keys import KeyProvider
    from core.settings import Settings
    from core.warehouse import connect_encrypted
    from linkage.provisional import link_provisional
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source / "home", work / "home")
    s = Settings(home=work / "home")
    kp = KeyProvider(s.master_key_path, s.keyring_path)
    con = connect_encrypted(s.warehouse_path, kp.warehouse_key_hex(), temp_dir=s.tmp_dir,
                            threads=s.duckdb_threads, memory_limit=s.duckdb_memory_limit)
    last = con.execute(f"SELECT max(file_id) FROM {tables.csv_staging('ccgi_activity')}"
                       ).fetchone()
    assert last is not None
    removed = con.execute(f"""
        DELETE FROM {tables.CROSSWALK} x USING (
            SELECT DISTINCT ccgi_account_id FROM {tables.csv_staging('ccgi_activity')}
            WHERE file_id = ?) f
        WHERE x.source_system = 'ccgi' AND x.source_person_id = f.ccgi_account_id""",
                          [last[0]]).fetchone()
    t = time.perf_counter()
    summary = link_provisional(con, runs_dir=s.runs_dir, run_id="weekly",
                               threshold=s.link_match_threshold)
    seconds = time.perf_counter() - t
    con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"one weekly CCGI file: {summary.new_units} accounts ({removed[0] if removed else '?'}"
          f" taken out of the crosswalk) against {summary.mdm_units} MDM units: "
          f"{seconds:.1f} s (target < 60 s), peak RSS {peak:.2f} GB; linked to an existing "
          f"person {summary.linked_to_existing}, provisional persons {summary.new_persons}")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["agreement", "weekly"])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_provisional"))
    parser.add_argument("--from", dest="source", type=Path, default=None)
    args = parser.parse_args()
    if args.mode == "agreement":
        agreement(args.students, args.seed, args.work)
    else:
        if args.source is None:
            raise SystemExit("weekly needs --from DIR/<profile> of a bench_robustness run")
        weekly(args.source, args.work)


if __name__ == "__main__":
    main()
