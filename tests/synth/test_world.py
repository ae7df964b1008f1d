"""The state world: California's organisational shape, independent of the student count."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from core.errors import InputRejected
from synth import generate
from synth.k12 import serves
from synth.world import SMALL_WORLD, describe, state_world
from tests.synth_support import calpads_rows, truth


def test_state_structure_counts_and_sizes() -> None:
    world = state_world()
    shape = describe(world)
    assert shape["kinds"] == {"unified": 345, "elementary": 517, "high": 76, "other": 80,
                              "coe": 58, "charter": 1300}
    assert shape["colleges"] == 116 and shape["college_districts"] == 73
    assert shape["counties"] == 58
    assert abs(float(str(shape["largest_share"])) - 0.07) < 0.001  # one district ~7 %
    assert 1000 <= float(str(shape["median_district"])) <= 5000  # a few thousand
    assert int(str(shape["under_100"])) >= 100  # many under 100
    assert abs(sum(lea.weight for lea in world.leas) - 1) < 1e-9
    codes = [lea.code for lea in world.leas]
    assert len(set(codes)) == len(codes) and all(len(c) == 7 and c.isdigit() for c in codes)
    assert len({lea.name for lea in world.leas}) == len(world.leas)
    for lea in world.leas:
        assert lea.charter or lea.code == lea.cd_code  # a district reports as its CD code
        assert 1 <= int(lea.cd_code[:2]) <= 58
        kind = world.district_type[lea.code]
        if kind == "elementary":
            assert serves(lea, 8) and not serves(lea, 9)
        if kind == "high":
            assert serves(lea, 9) and not serves(lea, 8)
        if lea.charter:
            assert lea.schools[0].code == lea.code  # reports under its own school code
            assert lea.cd_code in {d.cd_code for d in world.leas if not d.charter}
    assert state_world() is world  # built once


def test_small_world_is_the_default() -> None:
    assert len(SMALL_WORLD.leas) == 7 and len(SMALL_WORLD.colleges) == 4


def test_state_world_at_a_small_student_count(tmp_path: Path) -> None:
    summary = generate(tmp_path, students=400, seed=3, years=["2022-23", "2023-24"],
                       world="state")
    assert summary.world == "state"
    with (tmp_path / "partners.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    kinds = Counter(r["kind"] for r in rows)
    assert kinds == {"lea": 345 + 517 + 76 + 80 + 1300, "coe": 58, "college": 116, "ccgi": 1}
    assert sum(r["charter"] == "true" for r in rows) == 1300
    world = state_world()
    kind_of = world.district_type
    grades: dict[str, set[str]] = {"elementary": set(), "high": set()}
    leas_with_files = set()
    for path in sorted((tmp_path / "calpads").glob("*/*/SENR *.txt")):
        lea = path.parent.parent.name
        leas_with_files.add(lea)
        for _, row in calpads_rows(path):
            if kind_of[lea] in grades:
                grades[kind_of[lea]].add(row["grade_level_code"])
            assert row["district_of_residence"][:2] == row["reporting_lea"][:2] or (
                kind_of[lea] == "charter")
    assert grades["elementary"] <= {"07", "08"}
    assert grades["high"] <= {"09", "10", "11", "12"}
    assert len(leas_with_files) > 100  # 400 students spread over many organisations
    people = {r["true_person_id"] for r in truth(tmp_path)}
    assert len(people) >= 400


def test_unknown_world_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputRejected, match="world"):
        generate(tmp_path, students=10, seed=1, world="galaxy")
