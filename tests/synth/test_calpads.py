"""CALPADS extracts match the reference layouts: names, CRLF, no header, counts, codes, dates."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from core.calpads import CODE_SETS, CURRENT_LAYOUT, FILE_TYPES, find_layout
from synth import generate
from synth.orgs import LEAS
from tests.synth_support import calpads_files, calpads_rows

YEARS = ["2021-22", "2022-23", "2023-24"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("calpads")
    generate(out, students=800, seed=11, years=YEARS)
    return out


def test_every_lea_and_year_has_all_seven_files_named_by_upload_convention(tree: Path) -> None:
    for lea in LEAS:
        for year in YEARS:
            folder = tree / "calpads" / lea.code / year
            assert sorted(p.name for p in folder.iterdir()) == sorted(
                f"{ft} {year}.txt" for ft in FILE_TYPES)
    assert len(calpads_files(tree)) == len(LEAS) * len(YEARS) * 7
    assert all(p.stat().st_size > 0 for p in calpads_files(tree))


def test_lines_end_in_crlf_have_no_header_and_match_a_layout(tree: Path) -> None:
    checked = 0
    for path in calpads_files(tree):
        data = path.read_bytes()
        assert data.endswith(b"\r\n")
        assert data.count(b"\n") == data.count(b"\r\n"), path
        file_type = path.name[:4]
        for line in data.decode("utf-8").split("\r\n")[:-1]:
            fields = line.split("^")
            assert fields[0] == f"{file_type}-R"  # record type, so no header row
            found = find_layout(fields[0], len(fields))
            assert found == (CURRENT_LAYOUT[file_type], True)
            checked += 1
    assert checked > 5000


def test_ids_dates_and_codes_follow_the_field_specs(tree: Path) -> None:
    date_re = re.compile(r"^\d{8}$")
    for path in calpads_files(tree):
        lea, year = path.parent.parent.name, path.parent.name
        layout = CURRENT_LAYOUT[path.name[:4]]
        for line_no, row in calpads_rows(path):
            where = f"{path.name}:{line_no}"
            assert row["reporting_lea"] == lea, where
            assert row["academic_year_id"] == f"{year[:4]}-{int(year[:4]) + 1}", where
            for spec in layout.fields:
                value = row[spec.name]
                if spec.required:
                    assert value, (where, spec.name)
                if not value:
                    continue
                if spec.length:
                    assert len(value) == spec.length and value.isdigit(), (where, spec.name)
                if spec.kind == "date":
                    assert date_re.match(value), (where, spec.name, value)
                    datetime.strptime(value, "%Y%m%d")
                if spec.code_set and spec.code_set in CODE_SETS:
                    assert value in CODE_SETS[spec.code_set], (where, spec.name, value)
            for trailing in ("upload_date", "last_date_updated"):
                datetime.strptime(row[trailing], "%Y%m%d")


def test_leading_zeros_are_kept(tree: Path) -> None:
    ssids: set[str] = set()
    for path in (tree / "calpads" / "0161119").glob("*/SENR *.txt"):
        for _, row in calpads_rows(path):
            assert row["reporting_lea"] == "0161119"
            ssids.add(row["ssid"])
    assert any(s.startswith("0") for s in ssids)
    assert all(len(s) == 10 for s in ssids)


def test_enrolment_outcomes_are_realistic(tree: Path) -> None:
    exits: dict[str, int] = {}
    grades: dict[str, int] = {}
    ssid_leas: dict[str, set[str]] = {}
    for path in (tree / "calpads").glob("*/*/SENR *.txt"):
        for _, row in calpads_rows(path):
            exits[row["exit_reason_code"]] = exits.get(row["exit_reason_code"], 0) + 1
            grades[row["grade_level_code"]] = grades.get(row["grade_level_code"], 0) + 1
            ssid_leas.setdefault(row["ssid"], set()).add(row["reporting_lea"])
            if row["exit_reason_code"] == "E230":
                assert row["completion_status_code"], "E230 needs a completion status"
            else:
                assert row["completion_status_code"] == ""
            assert row["enrollment_start_date"] <= row["enrollment_exit_date"]
    assert exits["E230"] > 100 and exits["E155"] > 500 and exits["T160"] > 20
    assert exits.get("E400", 0) + exits.get("E300", 0) + exits.get("E140", 0) > 5
    high_school = sum(n for g, n in grades.items() if g in ("09", "10", "11", "12"))
    assert high_school / sum(grades.values()) > 0.8
    assert sum(1 for leas in ssid_leas.values() if len(leas) > 1) > 20  # movers
    charters = {lea.code for lea in LEAS if lea.charter}
    assert any(leas & charters for leas in ssid_leas.values())


def test_programs_ela_and_cte_codes(tree: Path) -> None:
    programs: set[str] = set()
    ela: set[str] = set()
    completions = 0
    for path in (tree / "calpads").glob("*/*/SPRG *.txt"):
        programs.update(row["education_program_code"] for _, row in calpads_rows(path))
    for path in (tree / "calpads").glob("*/*/SELA *.txt"):
        ela.update(row["ela_status_code"] for _, row in calpads_rows(path))
    for path in (tree / "calpads").glob("*/*/SCTE *.txt"):
        for _, row in calpads_rows(path):
            if row["cte_pathway_completion_year"]:
                assert row["cte_pathway_completion_year"] == row["academic_year_id"]
                completions += 1
    assert {"181", "182", "191"} <= programs
    assert {"EO", "EL", "RFEP"} <= ela
    assert completions > 0


def test_course_sections_are_consistent_between_crsc_and_scsc(tree: Path) -> None:
    for lea in LEAS:
        for year in YEARS:
            folder = tree / "calpads" / lea.code / year
            sections: dict[tuple[str, str, str, str], str] = {}
            for _, row in calpads_rows(folder / f"CRSC {year}.txt"):
                key = (row["school_of_course_delivery"], row["local_course_id"],
                       row["course_section_id"], row["academic_term_code"])
                assert key not in sections, "duplicate CRSC section"
                sections[key] = row["state_course_code"]
                if row["high_quality_cte_indicator"] == "Y":
                    assert row["state_course_code"][0] in "78"
            used = set()
            for _, row in calpads_rows(folder / f"SCSC {year}.txt"):
                key = (row["school_of_course_delivery"], row["local_course_id"],
                       row["course_section_id"], row["academic_term_code"])
                assert key in sections, key
                used.add(key)
            assert used == set(sections)


def test_names_are_utf8_with_accents(tree: Path) -> None:
    names = []
    for path in (tree / "calpads").glob("*/*/SENR *.txt"):
        names.extend(row["last_name"] + row["first_name"] for _, row in calpads_rows(path))
    assert any(not n.isascii() for n in names)
    assert any("-" in n for n in names)


def test_sinf_guardians_are_parents_with_the_family_surnames(tree: Path) -> None:
    """Guardian 1 always, guardian 2 (the other parent) for about half the students; a
    parent's surname is one of the student's, an unrelated guardian's mostly not."""
    students: dict[tuple[str, str], dict[str, str]] = {}
    for path in calpads_files(tree):
        if path.name.startswith("SINF"):
            for _, row in calpads_rows(path):
                students[(row["reporting_lea"], row["ssid"])] = row
    assert students and all(r["guardian_1_last_name"] for r in students.values())
    second = sum(bool(r["guardian_2_last_name"]) for r in students.values()) / len(students)
    assert 0.4 < second < 0.6
    shares = sum(r["guardian_1_last_name"].split("-")[0].split(" ")[0] in r["last_name"]
                 for r in students.values()) / len(students)
    assert 0.5 < shares < 0.95  # recorded surnames carry noise; mothers and others differ


def test_guardian_surnames_follow_two_surname_naming() -> None:
    import random
    from types import SimpleNamespace

    from synth.calpads_writer import _guardian_surname

    rng = random.Random(3)
    group = SimpleNamespace(pick_surname=lambda r: "OTHER")
    two = SimpleNamespace(truth=SimpleNamespace(surname1="GONZALEZ", surname2="ZUNIGA"),
                          group=group)
    one = SimpleNamespace(truth=SimpleNamespace(surname1="SMITH", surname2=""), group=group)
    draws = 4000

    def share(person: object, female: bool, surname: str) -> float:
        return sum(_guardian_surname(person, female, rng) == surname  # type: ignore[arg-type]
                   for _ in range(draws)) / draws

    assert 0.87 < share(two, False, "GONZALEZ") < 0.93  # father: first surname
    assert 0.87 < share(two, True, "ZUNIGA") < 0.93  # mother: her own, the second
    assert 0.68 < share(one, True, "SMITH") < 0.76  # a mother shares a single surname mostly
