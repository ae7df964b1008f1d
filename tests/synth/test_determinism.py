"""Same seed, same bytes; another seed, other bytes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

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
