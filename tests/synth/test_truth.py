"""The truth file covers every person-bearing line and tells the truth about it."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from synth import generate
from tests.synth_support import calpads_files, calpads_rows, csv_rows, truth

PERSON_ID_FIELD = {"college": "student_id", "ccgi": "ccgi_account_id"}


@pytest.fixture(scope="module", params=[None, 250], ids=["one-run", "in-chunks"])
def tree(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The same run whole and in three chunks (how the state's 5.85 million are generated:
    each chunk's rows appended to the same files, the truth file streamed)."""
    out = tmp_path_factory.mktemp("truth")
    summary = generate(out, students=600, seed=3, years=["2021-22", "2022-23", "2023-24"],
                       chunk_students=request.param)
    assert summary.chunks == (3 if request.param else 1)
    return out


def _file_lines(out: Path) -> dict[tuple[str, int], dict[str, str]]:
    lines: dict[tuple[str, int], dict[str, str]] = {}
    for path in calpads_files(out):
        if path.name.startswith("CRSC"):
            continue
        for n, row in calpads_rows(path):
            lines[(path.relative_to(out).as_posix(), n)] = row
    for path in sorted((out / "college").glob("*/*.csv")) + sorted((out / "ccgi").glob("*.csv")):
        for n, row in csv_rows(path):
            lines[(path.relative_to(out).as_posix(), n)] = row
    return lines


def test_truth_covers_every_record_line_exactly_once(tree: Path) -> None:
    lines = _file_lines(tree)
    rows = truth(tree)
    keys = [(r["file"], r["line_no"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(lines)
    for r in rows:
        row = lines[(str(r["file"]), int(str(r["line_no"])))]
        system = str(r["source_system"])
        if system == "calpads":
            assert row["ssid"] == r["source_person_id"]
            assert row["reporting_lea"] == r["partner_org"]
        else:
            assert row[PERSON_ID_FIELD[system]] == r["source_person_id"]
            if system == "college":
                assert row["college_code"] == r["partner_org"]
            else:
                assert r["partner_org"] == "CCGI"


def test_one_unit_belongs_to_one_person_and_people_span_sources(tree: Path) -> None:
    owner: dict[tuple[object, object, object], set[object]] = defaultdict(set)
    systems: dict[object, set[object]] = defaultdict(set)
    for r in truth(tree):
        owner[(r["source_system"], r["partner_org"], r["source_person_id"])].add(
            r["true_person_id"])
        systems[r["true_person_id"]].add(r["source_system"])
    assert all(len(people) == 1 for people in owner.values())
    assert sum(1 for s in systems.values() if s == {"calpads", "college", "ccgi"}) > 10
    assert any(s == {"college"} for s in systems.values())  # never attended K-12 here


def test_twins_share_surname_birth_date_and_lea_but_not_first_name(tree: Path) -> None:
    lines = _file_lines(tree)
    seen: dict[str, tuple[str, str, str, str]] = {}
    for r in truth(tree):
        if r["is_twin"] and str(r["file"]).split("/")[-1].startswith("SENR") and not r["noise"]:
            row = lines[(str(r["file"]), int(str(r["line_no"])))]
            seen[str(r["true_person_id"])] = (row["last_name"], row["birth_date"],
                                              row["reporting_lea"], row["first_name"])
    ids = sorted(seen, key=lambda p: int(p[1:]))
    pairs = [(a, b) for a, b in zip(ids, ids[1:], strict=False) if int(b[1:]) == int(a[1:]) + 1
             and seen[a][:3] == seen[b][:3]]
    assert pairs, "expected clean twin pairs"
    for a, b in pairs:
        assert seen[a][3] != seen[b][3]


def test_second_ssid_people_appear_under_two_ssids(tree: Path) -> None:
    ssids: dict[object, set[object]] = defaultdict(set)
    flagged = set()
    for r in truth(tree):
        if r["source_system"] == "calpads":
            ssids[r["true_person_id"]].add(r["source_person_id"])
            if r["has_second_ssid"]:
                flagged.add(r["true_person_id"])
    assert flagged
    assert {p for p, s in ssids.items() if len(s) == 2} == flagged
