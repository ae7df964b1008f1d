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
against the rest of the MDM (only that file's rows are searched for them); prints the time
(target: under a minute) and peak RSS.
``scale``: the weekly cost as the MDM grows towards state size (~8M identities). Building a
state-size warehouse through generate -> ingest -> annual link takes hours here, so a
``--students`` warehouse is linked once and its staging and crosswalk are then copied
``--copies`` times (every copy's SSIDs, college and CCGI ids renumbered and birth dates
shifted by a year and a few days, so copies block apart like different people) and
``mdm.identities`` rebuilt over all of it, as the annual run would; after each step the last
weekly CCGI file's accounts are taken out of the crosswalk and given provisional ids, as in
``weekly``, twice, each run in a process of its own (``step``): new units looked for in that
file's rows, then in all staging (what ``c2c link-provisional`` does). Prints MDM units,
seconds, CPU seconds, the process's peak RSS and the load average per run.
``grow``: ``scale``'s warehouse at ``--copies C`` copies, the last weekly CCGI file's accounts of
every copy taken out of the crosswalk, then only ``mdm.identities`` and ``mdm.crosswalk``
grown by SQL copies to each of ``--identities`` (staging stays at C copies): one weekly
provisional run (``files=`` that file) timed at each size, in its own process.

Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUTOFF = "2024-01-01"


def _late(path: Path) -> bool:
    name = path.name
    if name.startswith("ccgi_activity_"):
        return name.removeprefix("ccgi_activity_").removesuffix(".csv") >= CUTOFF
    return name.startswith("college_") and name.endswith("_243.csv")


def agreement(students: int, seed: int, work: Path, defects: str | None = None) -> None:
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
    synth.generate(landing, students=students, seed=seed, years=["2022-23", "2023-24"],
                   defects=defects)
    settings = Settings(home=work / "home")
    create_master_key(settings.master_key_path)
    files = expand_paths([landing / d for d in ("calpads", "college", "ccgi")])
    partners = load_partners_csv(landing / "partners.csv")
    began = resource.getrusage(resource.RUSAGE_SELF)
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
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime - began.ru_utime + used.ru_stime - began.ru_stime
    print(f"{students} students, seed {seed}, defects {defects or 'none'}: {len(late)} late "
          f"files; {cpu:.0f} CPU s in all, load average {__import__('os').getloadavg()[0]:.1f}; "
          "provisional: "
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
                               threshold=s.link_match_threshold, files=[str(last[0])])
    seconds = time.perf_counter() - t
    con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"one weekly CCGI file: {summary.new_units} accounts ({removed[0] if removed else '?'}"
          f" taken out of the crosswalk) against {summary.mdm_units} MDM units: "
          f"{seconds:.1f} s (target < 60 s), peak RSS {peak:.2f} GB; linked to an existing "
          f"person {summary.linked_to_existing}, provisional persons {summary.new_persons}")
    shutil.rmtree(work, ignore_errors=True)


_KEY_COLUMNS = ("ssid", "student_id", "ccc_id", "ccgi_account_id", "local_student_id")


def _renumber(column: str, copy: int, *, ssid: bool) -> str:
    if ssid:  # stays a 10-digit SSID, so standardisation keeps it
        return (f"lpad(CAST((TRY_CAST({column} AS BIGINT) + {copy} * 1000003) % 10000000000 "
                f"AS VARCHAR), 10, '0')")
    return f"{column} || '-{copy}'"


def _add_copies(con: duckdb.DuckDBPyConnection, first: int, last: int) -> None:
    """Copies ``first..last`` of the original (copy 0) staging rows and crosswalk units."""
    from core import tables
    from core.duck import columns_of
    staged = [r[0] for r in con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema = 'staging' AND table_name NOT LIKE '%_copy0'").fetchall()]
    for table in staged:
        original = f"{table}_copy0"
        con.execute(f"CREATE TABLE IF NOT EXISTS {original} AS FROM {table}")
        cols = columns_of(con, table)
        for copy in range(first, last + 1):
            replace = [f"{_renumber(c, copy, ssid=c == 'ssid')} AS {c}"
                       for c in _KEY_COLUMNS if c in cols]
            if "birth_date" in cols:
                replace.append(f"birth_date + INTERVAL ({copy * 372}) DAY AS birth_date")
            body = f"* REPLACE ({', '.join(replace)})" if replace else "*"
            con.execute(f"INSERT INTO {table} SELECT {body} FROM {original}")
    for copy in range(first, last + 1):
        calpads = _renumber("source_person_id", copy, ssid=True)
        other = _renumber("source_person_id", copy, ssid=False)
        con.execute(f"""INSERT INTO {tables.CROSSWALK}
            SELECT source_system, partner_org,
                   CASE WHEN source_system = 'calpads' THEN {calpads} ELSE {other} END,
                   person_id || '-{copy}', run_id FROM mdm.crosswalk_copy0
            ON CONFLICT DO NOTHING""")  # a renumbered SSID may meet a real one: rare, kept


def scale(students: int, seed: int, copies: list[int], work: Path) -> None:
    import subprocess

    import duckdb

    import linkage
    import synth
    from core import tables
    from core.keys import create_master_key
    from core.settings import Settings
    from ingest import expand_paths, ingest_files
    from ingest.partners_csv import load_partners_csv
    from linkage.identity_extras import identity_extras
    from linkage.standardise import build_identities
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    t = time.perf_counter()
    synth.generate(landing, students=students, seed=seed, years=["2023-24"])
    settings = Settings(home=work / "home")
    create_master_key(settings.master_key_path)
    files = expand_paths([landing / d for d in ("calpads", "college", "ccgi")])
    # shared machine: the copies must spill, not take every GB
    con = duckdb.connect(str(work / "warehouse.duckdb"), config={"memory_limit": "6GB"})
    ingest_files(con, files, work / "raw", b"k" * 32, load_partners_csv(landing / "partners.csv"))
    linkage.run_annual_link(con, settings=settings, run_id="y1", runs_dir=work / "runs")
    shutil.rmtree(landing, ignore_errors=True)
    shutil.rmtree(work / "raw", ignore_errors=True)
    print(f"built: {students} students generated, ingested and linked in "
          f"{time.perf_counter() - t:.0f} s", flush=True)
    last = con.execute(f"SELECT max(file_id) FROM {tables.csv_staging('ccgi_activity')}"
                       ).fetchone()
    last_file = str(last[0]) if last else ""
    week = [r[0] for r in con.execute(
        f"SELECT DISTINCT ccgi_account_id FROM {tables.csv_staging('ccgi_activity')} "
        "WHERE file_id = ?", [last_file]).fetchall()]
    con.execute(f"CREATE TABLE mdm.crosswalk_copy0 AS FROM {tables.CROSSWALK}")
    made = 1
    for target in copies:
        if target > made:
            t = time.perf_counter()
            _add_copies(con, made, target - 1)
            made = target
            # the MDM's identities are what the annual run over all the copies would write
            build_identities(con, "y1", extras=identity_extras(con))
            print(f"copies {target}: staging copied and mdm.identities rebuilt in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)
        con.register("_week", __import__("pyarrow").table({"a": week}))
        con.execute(f"DELETE FROM {tables.CROSSWALK} WHERE source_system = 'ccgi' AND "
                    "source_person_id IN (SELECT a FROM _week)")
        con.unregister("_week")
        con.close()
        # each provisional run in its own process: its CPU seconds and peak RSS are its own
        for scope in (last_file, ""):
            subprocess.run([sys.executable, __file__, "step", "--work", str(work),
                            "--file", scope, "--copies", str(target)], check=True)
        con = duckdb.connect(str(work / "warehouse.duckdb"), config={"memory_limit": "6GB"})
        # put the week's accounts back under their annual ids for the next step
        con.execute(f"""INSERT INTO {tables.CROSSWALK} SELECT * FROM mdm.crosswalk_copy0
            WHERE source_system = 'ccgi' AND source_person_id IN (
                SELECT source_person_id FROM mdm.provisional_links)
            ON CONFLICT DO NOTHING""")
    con.close()
    shutil.rmtree(work, ignore_errors=True)


def _renumbered(k: int) -> str:
    """A crosswalk key of grown copy ``k`` (SSIDs stay 10 digits, clear of ``_add_copies``)."""
    ssid = (f"lpad(CAST((TRY_CAST(source_person_id AS BIGINT) + {k * 10 + 100} * 1000003) "
            "% 10000000000 AS VARCHAR), 10, '0')")
    return (f"CASE WHEN source_system = 'calpads' THEN {ssid} "
            f"ELSE source_person_id || '-x{k}' END")


def grow(students: int, seed: int, copies: int, sizes: list[int], work: Path) -> None:
    """``scale``'s warehouse at ``copies`` copies, then only ``mdm.identities`` and
    ``mdm.crosswalk`` grown by SQL copies to each of ``sizes`` (keys renumbered, birth dates
    shifted: far cheaper than copying staging and rebuilding identities at 8M)."""
    import subprocess

    import duckdb

    import linkage
    import synth
    from core import tables
    from core.keys import create_master_key
    from core.settings import Settings
    from ingest import expand_paths, ingest_files
    from ingest.partners_csv import load_partners_csv
    from linkage.identity_extras import identity_extras
    from linkage.standardise import build_identities
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    synth.generate(landing, students=students, seed=seed, years=["2023-24"])
    settings = Settings(home=work / "home")
    create_master_key(settings.master_key_path)
    files = expand_paths([landing / d for d in ("calpads", "college", "ccgi")])
    con = duckdb.connect(str(work / "warehouse.duckdb"), config={"memory_limit": "2GB"})
    ingest_files(con, files, work / "raw", b"k" * 32, load_partners_csv(landing / "partners.csv"))
    linkage.run_annual_link(con, settings=settings, run_id="y1", runs_dir=work / "runs")
    shutil.rmtree(landing, ignore_errors=True)
    shutil.rmtree(work / "raw", ignore_errors=True)
    last = con.execute(f"SELECT max(file_id) FROM {tables.csv_staging('ccgi_activity')}"
                       ).fetchone()
    last_file = str(last[0]) if last else ""
    con.execute(f"CREATE TABLE mdm.crosswalk_copy0 AS FROM {tables.CROSSWALK}")
    if copies > 1:
        _add_copies(con, 1, copies - 1)
        build_identities(con, "y1", extras=identity_extras(con))
    # the last weekly file's accounts in every staging copy arrive as new
    con.execute(f"""DELETE FROM {tables.CROSSWALK} WHERE source_system = 'ccgi' AND
        source_person_id IN (SELECT DISTINCT ccgi_account_id
                             FROM {tables.csv_staging('ccgi_activity')} WHERE file_id = ?)""",
                [last_file])
    con.execute(f"CREATE TABLE mdm.identities_base AS FROM {tables.IDENTITIES}")
    con.execute(f"CREATE TABLE mdm.crosswalk_base AS FROM {tables.CROSSWALK}")
    top = con.execute("SELECT max(unit_id) FROM mdm.identities_base").fetchone()
    k = 1

    def identities() -> int:
        row = con.execute(f"SELECT count(*) FROM {tables.IDENTITIES}").fetchone()
        return int(row[0]) if row else 0

    for size in sizes:
        t = time.perf_counter()
        while identities() < size:
            moved = f"dob + INTERVAL ({(k + 6) * 372}) DAY"
            con.execute(f"""INSERT INTO {tables.IDENTITIES} SELECT * REPLACE (
                unit_id + {k} * {top[0] if top else 0} AS unit_id,
                {_renumbered(k)} AS source_person_id,
                lpad(CAST((TRY_CAST(ssid AS BIGINT) + {k * 10 + 100} * 1000003) % 10000000000
                     AS VARCHAR), 10, '0') AS ssid,
                {moved} AS dob, strftime({moved}, '%Y%m%d') AS dob_str,
                CAST(year({moved}) AS INTEGER) AS birth_year,
                strftime({moved}, '%Y') || lpad(CAST(least(month(dob), day(dob)) AS VARCHAR),
                    2, '0') || lpad(CAST(greatest(month(dob), day(dob)) AS VARCHAR), 2, '0')
                    AS dob_sym)
                FROM mdm.identities_base""")
            con.execute(f"""INSERT INTO {tables.CROSSWALK} SELECT source_system, partner_org,
                {_renumbered(k)}, person_id || '-x{k}', run_id FROM mdm.crosswalk_base
                ON CONFLICT DO NOTHING""")
            k += 1
        print(f"MDM grown to {size:,}+ identities in {time.perf_counter() - t:.0f} s", flush=True)
        con.close()
        subprocess.run([sys.executable, __file__, "step", "--work", str(work),
                        "--file", last_file, "--copies", f"grown-{size}"], check=True)
        con = duckdb.connect(str(work / "warehouse.duckdb"), config={"memory_limit": "2GB"})
    con.close()
    shutil.rmtree(work, ignore_errors=True)


def step(work: Path, file_id: str, copies: str) -> None:
    """One provisional run on the ``scale`` warehouse, alone in this process."""
    import os

    import duckdb

    from core.settings import Settings
    from linkage.provisional import link_provisional
    load = os.getloadavg()[0]
    con = duckdb.connect(str(work / "warehouse.duckdb"), config={"memory_limit": "2GB"})
    settings = Settings(home=work / "home")
    before = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    summary = link_provisional(con, runs_dir=work / "runs", run_id=f"w{copies}",
                               threshold=settings.link_match_threshold,
                               files=[file_id] if file_id else None)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF)
    con.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    scope = "the weekly file's rows" if file_id else "all staging"
    print(f"copies {copies}, new units looked for in {scope}: {summary.new_units} new accounts "
          f"against {summary.mdm_units:,} MDM units ({summary.mdm_candidates:,} sharing a "
          f"blocking key): {seconds:.1f} s wall, {cpu:.0f} CPU s, peak RSS "
          f"{after.ru_maxrss / 1024 / 1024:.2f} GB (process), "
          f"{seconds / max(summary.mdm_units, 1) * 1e6:.2f} s per million MDM units; "
          f"linked to an existing person {summary.linked_to_existing}, provisional persons "
          f"{summary.new_persons}; load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["agreement", "weekly", "scale", "grow", "step"])
    parser.add_argument("--identities", default="1000000,2000000,4000000,8000000",
                        help="grow: MDM sizes (identities) to time a weekly file at")
    parser.add_argument("--defects", default=None, help="agreement: generator defect "
                        "profiles (NAME,... or all)")
    parser.add_argument("--copies", default="1,10,25,50",
                        help="scale: MDM sizes as copies of the linked warehouse")
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_provisional"))
    parser.add_argument("--from", dest="source", type=Path, default=None)
    parser.add_argument("--file", default="", help="step (used by scale): the weekly file id")
    args = parser.parse_args()
    if args.mode == "agreement":
        agreement(args.students, args.seed, args.work, args.defects)
    elif args.mode == "grow":
        grow(args.students, args.seed, int(args.copies.split(",")[0]),
             [int(n) for n in args.identities.split(",")], args.work)
    elif args.mode == "step":
        step(args.work, args.file, args.copies)
    elif args.mode == "scale":
        scale(args.students, args.seed, [int(c) for c in args.copies.split(",")], args.work)
    else:
        if args.source is None:
            raise SystemExit("weekly needs --from DIR/<profile> of a bench_robustness run")
        weekly(args.source, args.work)


if __name__ == "__main__":
    main()
