"""A run in chunks (the state's 5.85 million): chunks in parallel processes, merged in order.

The bytes must not depend on how many processes ran the chunks, ids minted per LEA or college
must not clash between chunks, and no noise class may be lost or thinned on the chunked path.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from synth import NoiseRates, generate
from synth.chunks import share
from tests.synth_support import calpads_files, calpads_rows, csv_rows, truth

# every noise class on: a chunked path that drops or thins one shows it in these counts
NOISY = NoiseRates(
    typo=0.2, nickname=0.3, middle_in_first=0.3, name_swap=0.1, dob_day_month_swap=0.5,
    dob_typo=0.1, missing_dob=0.1, missing_gender=0.15, double_surname_variant=0.9,
    accent_dropped=0.8, punctuation_dropped=0.8, compound_given_joined=0.8, ssid_typo=0.3,
    preferred_name=0.3, given_names_in_first=0.3, surname_split_fields=0.5,
    first_letter_transposition=0.1, dob_year_off=0.1,
)
# the tags synth.noise writes (surname_* is one class, with four variants)
CLASSES = ("surname_", "nickname", "middle_in_first", "typo", "compound_given_joined",
           "accent_dropped", "punctuation_dropped", "name_swap", "dob_swap", "dob_typo",
           "missing_dob", "missing_gender", "ssid_typo", "preferred_name",
           "given_names_in_first", "surname_split_fields", "first_letter_transposition",
           "dob_year_off")


def _digest(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def _class_shares(out: Path) -> dict[tuple[str, str], float]:
    """(source system, noise class) -> share of that system's record units carrying it."""
    units: dict[tuple[object, object, object], str] = {}
    for r in truth(out):
        units[(r["source_system"], r["partner_org"], r["source_person_id"])] = str(r["noise"])
    per_system = Counter(str(key[0]) for key in units)
    counts: Counter[tuple[str, str]] = Counter()
    for key, noise in units.items():
        tags = [t for t in noise.split(";") if t]
        for cls in CLASSES:
            if any(t.startswith(cls) if cls.endswith("_") else t == cls for t in tags):
                counts[(str(key[0]), cls)] += 1
    return {key: n / per_system[key[0]] for key, n in counts.items()}


def test_the_number_of_worker_processes_does_not_change_the_bytes(tmp_path: Path) -> None:
    kw = {"students": 900, "seed": 5, "years": ["2022-23", "2023-24"], "world": "state",
          "chunk_students": 300}
    one = generate(tmp_path / "one", workers=1, **kw)  # type: ignore[arg-type]
    two = generate(tmp_path / "two", workers=2, **kw)  # type: ignore[arg-type]
    assert one.chunks == two.chunks == 3
    digest = _digest(tmp_path / "one")
    assert digest == _digest(tmp_path / "two")
    assert not (tmp_path / "two" / ".chunks").exists()  # the staging folders are gone
    assert one.files == two.files == len(digest)
    assert one.bytes == two.bytes == sum(p.stat().st_size for p in (tmp_path / "two").rglob("*")
                                         if p.is_file())
    assert one.truth_rows == two.truth_rows > 0


def test_local_and_college_ids_are_never_minted_by_two_chunks(tmp_path: Path) -> None:
    """Chunks number local student ids (per LEA) and college ids (per college) from disjoint
    ranges: one id in one LEA or college is one person, across every chunk."""
    out = tmp_path / "tree"
    generate(out, students=900, seed=8, years=["2023-24"], world="state",
             chunk_students=300, workers=2)
    person = {(str(r["file"]), int(str(r["line_no"]))): r["true_person_id"] for r in truth(out)}
    local: dict[tuple[str, str], set[object]] = {}
    for path in calpads_files(out):
        if path.name.startswith("SENR"):
            rel = path.relative_to(out).as_posix()
            for n, row in calpads_rows(path):
                local.setdefault((row["reporting_lea"], row["local_student_id"]), set()).add(
                    person[(rel, n)])
    assert len(local) > 900
    assert all(len(owners) == 1 for owners in local.values())
    college: dict[tuple[str, str], set[object]] = {}
    for path in sorted((out / "college").glob("*/college_students_*.csv")):
        rel = path.relative_to(out).as_posix()
        for n, row in csv_rows(path):
            if row["student_id_status"] == "C":
                college.setdefault((row["college_code"], row["student_id"]), set()).add(
                    person[(rel, n)])
    assert len(college) > 50
    assert all(len(owners) == 1 for owners in college.values())


def test_id_ranges_of_chunks_are_disjoint_and_cover_the_space() -> None:
    parts = [share(0, 10**7, k, 24) for k in range(24)]
    assert parts[0][0] == 0 and parts[-1][1] == 10**7
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))


@pytest.fixture(scope="module")
def whole_and_chunked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("classes")
    kw = {"students": 2400, "seed": 12, "years": ["2022-23", "2023-24"], "noise": NOISY}
    generate(base / "whole", **kw)  # type: ignore[arg-type]
    generate(base / "chunked", chunk_students=800, workers=2, **kw)  # type: ignore[arg-type]
    return base / "whole", base / "chunked"


def test_the_chunked_path_keeps_every_noise_class_at_its_rate(
        whole_and_chunked: tuple[Path, Path]) -> None:
    whole, chunked = (_class_shares(p) for p in whole_and_chunked)
    for cls in CLASSES:  # every class shows up somewhere, on both paths
        assert any(c == cls for _, c in whole), cls
        assert any(c == cls for _, c in chunked), cls
    assert set(whole) == set(chunked)
    for key, share_whole in whole.items():  # same rate per source system, within sampling
        assert chunked[key] == pytest.approx(share_whole, abs=max(0.03, 0.3 * share_whole)), key


def test_unconditional_rates_on_the_chunked_path_match_configuration(
        whole_and_chunked: tuple[Path, Path]) -> None:
    shares = _class_shares(whole_and_chunked[1])
    for system in ("calpads", "college", "ccgi"):
        for cls in ("typo", "name_swap", "missing_gender", "missing_dob"):
            assert shares[(system, cls)] == pytest.approx(getattr(NOISY, cls), abs=0.04), (
                system, cls)
