"""Same seed, same bytes; another seed, other bytes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synth import generate, generate_small


def _digest(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_trees(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", students=400, seed=9, years=["2022-23", "2023-24"])
    b = generate(tmp_path / "b", students=400, seed=9, years=["2022-23", "2023-24"])
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a.files == b.files == len(_digest(tmp_path / "a"))
    assert a.bytes == b.bytes == sum(p.stat().st_size for p in (tmp_path / "a").rglob("*")
                                     if p.is_file())


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", students=200, seed=1, years=["2023-24"])
    generate(tmp_path / "b", students=200, seed=2, years=["2023-24"])
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a["truth.parquet"] != b["truth.parquet"]
    assert a["partners.csv"] == b["partners.csv"]


def test_generate_small_writes_two_years(tmp_path: Path) -> None:
    summary = generate_small(tmp_path)
    assert summary.years == ("2022-23", "2023-24")
    assert summary.students == 200
    assert (tmp_path / "calpads" / "0161119" / "2023-24" / "SENR 2023-24.txt").stat().st_size
    assert not (tmp_path / "calpads" / "0161119" / "2021-22").exists()


def test_regenerating_into_the_same_folder_replaces_the_tree(tmp_path: Path) -> None:
    generate(tmp_path, students=100, seed=4, years=["2021-22", "2022-23"])
    generate(tmp_path, students=100, seed=4, years=["2023-24"])
    assert sorted(p.name for p in (tmp_path / "calpads" / "0161119").iterdir()) == ["2023-24"]


def test_identical_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    """No output may depend on set/dict order of strings (PYTHONHASHSEED varies per process)."""
    code = ("import sys; from pathlib import Path; from synth import generate; "
            "generate(Path(sys.argv[1]), students=300, seed=6, years=['2023-24'])")
    for name, hash_seed in (("a", "1"), ("b", "4242")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], env=env, check=True)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


@pytest.mark.slow
def test_a_run_in_chunks_is_deterministic_and_mints_no_id_twice(tmp_path: Path) -> None:
    """The state's 5.85 million students are generated in chunks (bounded memory): the chunks
    append to the same files, and no SSID, account or person is minted by two chunks."""
    from tests.synth_support import calpads_files, calpads_rows, truth

    kw = {"students": 900, "seed": 2, "years": ["2022-23", "2023-24"], "world": "state",
          "chunk_students": 300}
    a = generate(tmp_path / "a", **kw)  # type: ignore[arg-type]
    generate(tmp_path / "b", **kw)  # type: ignore[arg-type]
    assert a.chunks == 3
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a.files == len(_digest(tmp_path / "a"))
    assert a.bytes == sum(p.stat().st_size for p in (tmp_path / "a").rglob("*") if p.is_file())
    rows = truth(tmp_path / "a")
    people = {r["true_person_id"] for r in rows}
    owner_of: dict[tuple[object, object], object] = {}
    for r in rows:  # an SSID or account number belongs to one true person
        if r["source_system"] != "college":  # (college ids are per college, SSNs may clash)
            key = (r["source_system"], r["source_person_id"])
            assert owner_of.setdefault(key, r["true_person_id"]) == r["true_person_id"]
    assert len(people) > 900  # K-12 students of all three chunks, and college-only adults
    sections: dict[str, set[tuple[str, str]]] = {}
    used: dict[str, set[tuple[str, str]]] = {}
    for path in calpads_files(tmp_path / "a"):
        kind = path.name[:4]
        for _, row in calpads_rows(path):
            if kind == "CRSC":
                key = (row["school_of_course_delivery"], row["course_section_id"])
                assert key not in sections.setdefault(str(path.parent), set()), path
                sections[str(path.parent)].add(key)
            elif kind == "SCSC":
                used.setdefault(str(path.parent), set()).add(
                    (row["school_of_course_delivery"], row["course_section_id"]))
    for folder, keys in used.items():  # one CRSC per LEA-year covers every chunk's sections
        assert keys <= sections[folder], folder


def test_defect_profiles_past_one_chunk_stop_with_an_error_naming_the_limit(
        tmp_path: Path) -> None:
    import pytest

    from core.errors import InputRejected

    generate(tmp_path, students=50, seed=1, years=["2023-24"])
    before = _digest(tmp_path)
    with pytest.raises(InputRejected, match="at most 100 students"):
        generate(tmp_path, students=300, seed=1, years=["2023-24"], defects="all",
                 chunk_students=100)
    assert _digest(tmp_path) == before  # the tree that was there is left as it was
