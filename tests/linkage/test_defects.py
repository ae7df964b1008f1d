"""Per data-defect profile, on a few hundred generated students: the linker keeps each
two-SSID student together and the twins apart (the figures at 50,000 students are
bench/bench_robustness.py's).

Ingest dominated this test (~250 small files per profile, each with its fixed cost), yet the
generator is stable: a profile changes only the files its defects touch (a handful; ``all``
about 140). So the clean world is generated and ingested once per module, and each profile
starts from a copy of that warehouse and raw store and ingests only its changed files, which
supersede their clean versions as a re-sent file does. Before linking, the current files are
checked to be exactly the profile's files, so the link sees what a fresh ingest would give.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

import linkage
import synth
from core.settings import Settings
from ingest import expand_paths, ingest_files
from ingest.partners_csv import load_partners_csv
from synth.defects import PROFILES

STUDENTS = 300
YEARS = ["2022-23", "2023-24"]  # two years: year-end exits and rollovers need a next year
SEED = 3
SOURCES = ("calpads", "college", "ccgi")
KEY = b"k" * 32


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ingest(root: Path, landing: Path, files: list[Path]) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        if files:
            ingest_files(con, files, root / "raw", KEY, load_partners_csv(landing / "partners.csv"))
    finally:
        con.close()


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """The clean world ingested once: (folder with warehouse and raw store, file SHA-256s)."""
    root = tmp_path_factory.mktemp("clean")
    landing = root / "landing"
    synth.generate(landing, students=STUDENTS, seed=SEED, years=YEARS)
    files = expand_paths([landing / d for d in SOURCES])
    _ingest(root, landing, files)
    return root, {_sha256(f) for f in files}


def _link(root: Path, profile: str, clean: tuple[Path, set[str]]) -> duckdb.DuckDBPyConnection:
    base, base_files = clean
    landing = root / "landing"
    synth.generate(landing, students=STUDENTS, seed=SEED, years=YEARS, defects=profile)
    shutil.copy(base / "warehouse.duckdb", root / "warehouse.duckdb")
    shutil.copytree(base / "raw", root / "raw")
    files = expand_paths([landing / d for d in SOURCES])
    _ingest(root, landing, [f for f in files if _sha256(f) not in base_files])
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    current = {r[0] for r in con.execute(
        "SELECT sha256 FROM ingest.files WHERE status = 'accepted'").fetchall()}
    assert current == {_sha256(f) for f in files}, "staging does not hold this profile's files"
    settings = Settings(home=root)
    linkage.run_annual_link(con, settings=settings, run_id="d1", runs_dir=root / "runs")
    con.execute(f"""CREATE TEMP TABLE judged AS
        SELECT t.true_person_id, bool_or(t.has_second_ssid) AS second, bool_or(t.is_twin) AS
               twin, x.person_id, x.source_system, any_value(i.dob) AS dob,
               any_value(i.last_tokens) AS last_tokens
        FROM read_parquet('{landing / "truth.parquet"}') t
        JOIN mdm.crosswalk x USING (source_system, partner_org, source_person_id)
        JOIN mdm.identities i USING (source_system, partner_org, source_person_id)
        GROUP BY t.true_person_id, x.person_id, x.source_system, x.partner_org,
                 x.source_person_id""")
    return con


@pytest.mark.slow
@pytest.mark.parametrize("profile", [*PROFILES, "all"])
def test_profile_keeps_second_ssid_students_together_and_twins_apart(
    tmp_path: Path, profile: str, clean: tuple[Path, set[str]]
) -> None:
    con = _link(tmp_path, profile, clean)
    split = con.execute("""
        SELECT true_person_id FROM judged WHERE second AND source_system = 'calpads'
        GROUP BY 1 HAVING count(DISTINCT person_id) > 1""").fetchall()
    seconds = con.execute("SELECT count(DISTINCT true_person_id) FROM judged "
                          "WHERE second").fetchone()
    assert seconds and seconds[0] > 0, "the sample holds no two-SSID student"
    assert not split, f"{profile}: {len(split)} two-SSID student(s) split"
    merged = con.execute("""
        SELECT count(*) FROM judged a JOIN judged b ON a.dob = b.dob
            AND a.true_person_id < b.true_person_id AND list_has_any(a.last_tokens, b.last_tokens)
        WHERE a.twin AND b.twin AND a.person_id = b.person_id""").fetchone()
    assert merged == (0,), f"{profile}: twins merged"
    con.close()
