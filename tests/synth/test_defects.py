"""Data-defect profiles: their mechanics (truth tags, file shape), isolation, and that ingest
accepts every defect file the real system would accept."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.calpads import CURRENT_LAYOUT, SENR_V2019
from core.errors import InputRejected
from ingest import ReceiptStatus, ingest_files
from ingest.partners_csv import load_partners_csv
from synth import GenerationSummary, generate
from synth.defects import PROFILES, parse_defects
from tests.ingest_testdata import Env
from tests.synth_support import csv_rows

YEARS = ["2021-22", "2022-23", "2023-24"]
SEED = 5
STUDENTS = 300


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, students=STUDENTS, seed=SEED, years=YEARS)
    return out


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("defects")
    summary = generate(out, students=STUDENTS, seed=SEED, years=YEARS, defects="all")
    return out, summary


def _truth(out: Path) -> list[dict[str, object]]:
    return pq.read_table(out / "truth.parquet").to_pylist()


def _tagged(out: Path, tag: str) -> list[dict[str, object]]:
    return [r for r in _truth(out) if tag in str(r["defects"]).split(";")]


def _lines(path: Path) -> list[list[str]]:
    return [line.split("^") for line in path.read_bytes().decode("utf-8").split("\r\n")[:-1]]


def _digest(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "truth.parquet"}


SENR = {n: i for i, n in enumerate(CURRENT_LAYOUT["SENR"].column_names(ods=True))}


def test_parse_defects_all_order_and_unknown() -> None:
    assert parse_defects("all") == tuple(PROFILES)
    assert parse_defects("late_exit, duplicate_senr") == ("late_exit", "duplicate_senr")
    assert parse_defects(None) == ()
    with pytest.raises(InputRejected, match="no_such_thing"):
        parse_defects("late_exit,no_such_thing")


def test_every_profile_has_a_rate_and_a_basis() -> None:
    assert len(PROFILES) >= 10
    for profile in PROFILES.values():
        assert 0 < profile.rate <= 1 and profile.basis and profile.unit, profile.name


def test_default_truth_has_no_defects_column_and_defect_truth_tags_every_profile(
    clean: Path, defective: tuple[Path, GenerationSummary]
) -> None:
    assert "defects" not in pq.read_schema(clean / "truth.parquet").names
    out, summary = defective
    tags = {t for r in _truth(out) for t in str(r["defects"]).split(";") if t}
    assert tags == set(PROFILES)
    assert summary.defects == tuple(PROFILES)


def test_a_profile_changes_only_the_files_it_names(clean: Path, tmp_path: Path) -> None:
    generate(tmp_path, students=STUDENTS, seed=SEED, years=YEARS, defects="duplicate_senr")
    before, after = _digest(clean), _digest(tmp_path)
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed and all(k.endswith(".txt") and "/SENR " in k for k in changed)
    assert before.keys() == after.keys()
    # the same people: every non-defect truth row is the clean one
    clean_truth = {(r["file"], r["line_no"]): r["true_person_id"] for r in _truth(clean)
                   if "/SENR " not in str(r["file"])}
    mine = {(r["file"], r["line_no"]): r["true_person_id"] for r in _truth(tmp_path)
            if "/SENR " not in str(r["file"])}
    assert clean_truth == mine


def test_duplicate_senr_rows_come_in_identical_pairs(tmp_path: Path) -> None:
    generate(tmp_path, students=STUDENTS, seed=SEED, years=YEARS, defects="duplicate_senr")
    tagged = _tagged(tmp_path, "duplicate_senr")
    assert tagged and len(tagged) % 2 == 0
    by_file: dict[str, list[int]] = defaultdict(list)
    for r in tagged:
        by_file[str(r["file"])].append(int(str(r["line_no"])))
    for rel, numbers in by_file.items():
        lines = (tmp_path / rel).read_bytes().decode("utf-8").split("\r\n")
        for n in sorted(numbers)[::2]:
            assert lines[n - 1] == lines[n], (rel, n)


def test_no_year_end_exit_blanks_continuing_exits_in_the_chosen_leas(
    defective: tuple[Path, GenerationSummary]
) -> None:
    out, summary = defective
    chosen = set(summary.defect_partners["no_year_end_exit"])
    assert 0 < len(chosen) < 7
    reasons: dict[bool, set[str]] = defaultdict(set)
    blanks = 0
    for path in sorted((out / "calpads").glob("*/*/SENR *.txt")):
        lea = path.parent.parent.name
        for row in _lines(path):
            if len(row) != len(SENR):
                continue  # the old-layout LEA (its own test)
            reasons[lea in chosen].add(row[SENR["exit_reason_code"]])
            if lea in chosen and not row[SENR["exit_reason_code"]]:
                blanks += 1
                assert not row[SENR["enrollment_exit_date"]]
    assert "E155" in reasons[False] and "E155" not in reasons[True]
    assert blanks == len([r for r in _tagged(out, "no_year_end_exit")
                          if "/SENR " in str(r["file"])]) > 0


def test_late_exits_overlap_the_next_leas_enrolment(tmp_path: Path) -> None:
    generate(tmp_path, students=STUDENTS, seed=SEED, years=YEARS, defects="late_exit")
    truth = _truth(tmp_path)
    person_of = {(r["file"], r["line_no"]): r["true_person_id"] for r in truth}
    spans: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)  # person -> enrolments
    for path in sorted((tmp_path / "calpads").glob("*/*/SENR *.txt")):
        rel = path.relative_to(tmp_path).as_posix()
        for n, row in enumerate(_lines(path), start=1):
            spans[str(person_of[(rel, n)])].append(
                (path.parent.parent.name, row[SENR["enrollment_start_date"]],
                 row[SENR["enrollment_exit_date"]], rel))
    tagged = _tagged(tmp_path, "late_exit")
    assert tagged
    overlapping = 0
    for r in tagged:
        mine = [s for s in spans[str(r["true_person_id"])] if s[3] == r["file"]]
        others = spans[str(r["true_person_id"])]
        for lea, _start, exit_day, _rel in mine:
            if exit_day and any(o[0] != lea and o[1] < exit_day for o in others
                                if o[1] >= _start):
                overlapping += 1
    assert overlapping >= len(tagged) // 2


def test_senr_without_sinf_leaves_no_sinf_for_the_tagged_students(
    defective: tuple[Path, GenerationSummary]
) -> None:
    out, _ = defective
    truth = _truth(out)
    sinf_people = {(str(r["file"]).rsplit("/", 1)[0], r["true_person_id"]) for r in truth
                   if "/SINF " in str(r["file"])}
    tagged = [r for r in _tagged(out, "senr_without_sinf") if "/SENR " in str(r["file"])]
    assert tagged
    for r in tagged:
        assert (str(r["file"]).rsplit("/", 1)[0], r["true_person_id"]) not in sinf_people


def test_truncated_upper_and_old_layout_leas(defective: tuple[Path, GenerationSummary]) -> None:
    out, summary = defective
    parts = summary.defect_partners
    for lea in parts["truncated_names"]:
        for path in (out / "calpads" / lea).glob("*/SINF *.txt"):
            for row in _lines(path):
                assert len(row[10]) <= 12 and len(row[12]) <= 15  # first, last (SINF)
    assert _tagged(out, "truncated_names")
    for lea in parts["upper_ascii_lea"]:
        for path in (out / "calpads" / lea).glob("*/*.txt"):
            text = path.read_bytes().decode("utf-8")
            assert text.isascii() and text == text.upper(), path
    for lea in parts["old_ods_layout"]:
        for path in (out / "calpads" / lea).glob("*/SENR *.txt"):
            assert {len(row) for row in _lines(path)} == {SENR_V2019.ods_column_count}


def test_college_and_ccgi_profiles(defective: tuple[Path, GenerationSummary]) -> None:
    out, summary = defective
    parts = summary.defect_partners
    for college in parts["college_no_ssid"]:
        for path in (out / "college" / college).glob("college_students_*.csv"):
            assert all(not row["ssid"] for _, row in csv_rows(path))
    assert parts["college_no_high_school"]
    for college in parts["college_no_high_school"]:
        for path in (out / "college" / college).glob("college_students_*.csv"):
            assert all(not row["high_school_cds"] for _, row in csv_rows(path))
    others = [c.name for c in (out / "college").iterdir()
              if c.name not in parts["college_no_high_school"]]
    assert any(row["high_school_cds"] for c in others
               for path in (out / "college" / c).glob("college_students_*.csv")
               for _, row in csv_rows(path))
    for college in parts["other_date_format"]:
        births = [row["birth_date"] for path in (out / "college" / college).glob(
            "college_students_*.csv") for _, row in csv_rows(path) if row["birth_date"]]
        assert births and all(len(b) == 8 and b.isdigit() for b in births)
    (county,) = parts["ccgi_county_no_ssid"]
    seen = 0
    for path in sorted((out / "ccgi").glob("*.csv")):
        for _, row in csv_rows(path):
            if row["school_cds"].startswith(county):
                seen += 1
                assert not row["ssid"]
    assert seen and _tagged(out, "ccgi_county_no_ssid")


def test_every_defect_file_ingests(ienv: Env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = generate(out, students=150, seed=SEED, years=YEARS[1:], defects="all")
    partners = load_partners_csv(out / "partners.csv")
    leas = {c for k, v in summary.defect_partners.items() if k in PROFILES
            and PROFILES[k].source == "calpads" for c in v}
    colleges = {c for k, v in summary.defect_partners.items()
                if PROFILES[k].source == "college" for c in v}
    paths = [out / "calpads" / lea for lea in sorted(leas)]
    paths += [out / "college" / c for c in sorted(colleges)]
    paths += sorted((out / "ccgi").glob("*.csv"))[:12]
    receipts = ingest_files(ienv.con, paths, ienv.raw_dir, ienv.key, partners)
    assert len(receipts) > 20
    for receipt in receipts:
        if receipt.status == ReceiptStatus.REJECTED:  # tiny runs: an LEA with an empty file
            assert [e.rule for e in receipt.errors] == ["file_not_empty"], receipt.message
        else:
            assert receipt.status == ReceiptStatus.ACCEPTED, receipt.message
    kinds = {r.kind for r in receipts if r.status == ReceiptStatus.ACCEPTED}
    assert {"SENR", "SINF", "SELA", "CRSC", "college_students", "ccgi_activity"} <= kinds
