"""Noise rates come out as configured: measured on the truth tags and on the files themselves."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from synth import NoiseRates, generate
from synth.noise import TrueIdentity, nicknames_for, record, self_reported
from tests.synth_support import calpads_rows, csv_rows, truth

HIGH = NoiseRates(
    typo=0.3, nickname=0.4, middle_in_first=0.5, name_swap=0.2, dob_day_month_swap=0.5,
    missing_dob=0.1, missing_gender=0.25, double_surname_variant=0.9, accent_dropped=0.8,
    twins=0.1, second_ssid=0.1, name_collision=0.05, ssid_typo=0.3,
)


def _units(out: Path) -> dict[tuple[object, object, object], dict[str, object]]:
    units: dict[tuple[object, object, object], dict[str, object]] = {}
    for r in truth(out):
        units[(r["source_system"], r["partner_org"], r["source_person_id"])] = r
    return units


def _share(units: list[dict[str, object]], tag: str) -> float:
    return sum(tag in str(u["noise"]).split(";") for u in units) / len(units)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("noisy")
    generate(out, students=1500, seed=21, years=["2022-23", "2023-24"], noise=HIGH)
    return out


def test_unconditional_rates_match_configuration(noisy: Path) -> None:
    units = list(_units(noisy).values())
    assert len(units) > 2000
    for tag, rate in (("typo", HIGH.typo), ("name_swap", HIGH.name_swap),
                      ("missing_gender", HIGH.missing_gender), ("missing_dob", HIGH.missing_dob)):
        assert _share(units, tag) == pytest.approx(rate, abs=0.03), tag


def test_double_surname_variants_match_configuration(noisy: Path) -> None:
    doubles = [u for u in _units(noisy).values() if u["has_double_surname"]]
    assert len(doubles) > 200
    varied = sum(any(t.startswith("surname_") for t in str(u["noise"]).split(";"))
                 for u in doubles) / len(doubles)
    assert varied == pytest.approx(HIGH.double_surname_variant, abs=0.05)


def test_population_anomalies_match_configuration(noisy: Path) -> None:
    people: dict[object, dict[str, object]] = {}
    for u in _units(noisy).values():
        if u["source_system"] == "calpads":
            people[u["true_person_id"]] = u
    k12 = list(people.values())
    twins = sum(bool(p["is_twin"]) for p in k12) / len(k12)
    second = sum(bool(p["has_second_ssid"]) for p in k12) / len(k12)
    assert twins == pytest.approx(HIGH.twins, abs=0.025)
    assert second == pytest.approx(HIGH.second_ssid, abs=0.03)


def test_tags_agree_with_the_file_contents(noisy: Path) -> None:
    """A unit tagged missing_gender has a blank gender in the file, and only then."""
    units = _units(noisy)
    checked = 0
    for path in sorted((noisy / "calpads").glob("*/*/SENR *.txt")):
        lea = path.parent.parent.name
        for _, row in calpads_rows(path):
            unit = units[("calpads", lea, row["ssid"])]
            tags = str(unit["noise"]).split(";")
            assert (row["gender"] == "") == ("missing_gender" in tags)
            assert (row["birth_date"] == "") == ("missing_dob" in tags)
            checked += 1
    assert checked > 1000


def test_zero_rates_give_clean_copies(tmp_path: Path) -> None:
    zero = NoiseRates(**{name: 0.0 for name in NoiseRates.model_fields})
    generate(tmp_path, students=300, seed=2, years=["2023-24"], noise=zero)
    rows = truth(tmp_path)
    assert rows and all(r["noise"] == "" for r in rows)
    assert not any(r["is_twin"] or r["has_second_ssid"] for r in rows)


def test_record_applies_conditional_noise_only_when_it_can() -> None:
    person = TrueIdentity("José", "Luis", "García", "López", date(2007, 3, 5), "M")
    rates = NoiseRates(nickname=1.0, dob_day_month_swap=1.0, double_surname_variant=0.0,
                       accent_dropped=1.0, typo=0.0, name_swap=0.0, middle_in_first=0.0,
                       missing_dob=0.0, missing_gender=0.0, dob_typo=0.0)
    copy = record(person, rates, random.Random(1))
    assert copy.first in ("Joe", "Pepe")
    assert copy.last == "Garcia Lopez" and copy.birth == "20070503"
    late = TrueIdentity("Ana", "", "Kim", "", date(2007, 3, 25), "F")
    assert record(late, rates, random.Random(1)).birth == "20070325"  # day > 12: no swap
    assert "Alex" in nicknames_for("Alejandro") and "Alex" in nicknames_for("Alexander")


def test_nickname_rate_among_names_with_nicknames(noisy: Path) -> None:
    counts = Counter(tag for u in _units(noisy).values() for tag in str(u["noise"]).split(";"))
    assert counts["nickname"] > 100 and counts["middle_in_first"] > 100
    assert counts["dob_swap"] > 100 and counts["accent_dropped"] > 100


def test_conditional_rates_on_many_copies_of_one_person() -> None:
    person = TrueIdentity("Alejandro", "José", "Hernández", "Núñez", date(2006, 4, 9), "M")
    rates = NoiseRates(nickname=0.3, middle_in_first=0.2, dob_day_month_swap=0.25,
                       double_surname_variant=0.7, accent_dropped=0.4)
    rng = random.Random(5)
    counts: Counter[str] = Counter()
    n = 4000
    for _ in range(n):
        tags = record(person, rates, rng).noise.split(";")
        counts.update(tags)
        counts["surname_any"] += any(t.startswith("surname_") for t in tags)
    assert counts["nickname"] / n == pytest.approx(0.3, abs=0.03)
    assert counts["middle_in_first"] / n == pytest.approx(0.2, abs=0.03)
    assert counts["dob_swap"] / n == pytest.approx(0.25, abs=0.03)
    assert counts["surname_any"] / n == pytest.approx(0.7, abs=0.03)
    # accents survive only a surname variant that drops both accented surnames: none here
    assert counts["accent_dropped"] / n == pytest.approx(0.4, abs=0.03)


def test_every_noise_rate_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text()
    for name, info in NoiseRates.model_fields.items():
        assert f"`{name}` | {info.default} |" in doc, name


def test_ssid_typos_in_ccgi_files_match_tags_and_rate(noisy: Path) -> None:
    units = _units(noisy)
    real: dict[object, set[object]] = {}
    for (system, _, ssid), unit in units.items():
        if system == "calpads":
            real.setdefault(unit["true_person_id"], set()).add(ssid)
    typos = total = 0
    seen = set()
    for path in sorted((noisy / "ccgi").glob("*.csv")):
        for _, row in csv_rows(path):
            if not row["ssid"] or row["ccgi_account_id"] in seen:
                continue
            seen.add(row["ccgi_account_id"])
            unit = units[("ccgi", "CCGI", row["ccgi_account_id"])]
            tagged = "ssid_typo" in str(unit["noise"]).split(";")
            assert (row["ssid"] not in real[unit["true_person_id"]]) == tagged
            typos += tagged
            total += 1
    assert total > 300
    assert typos / total == pytest.approx(HIGH.ssid_typo, abs=0.05)


SELF_REPORTED = ("preferred_name", "given_names_in_first", "surname_split_fields",
                 "first_letter_transposition", "dob_year_off")


def test_self_reported_noise_is_in_college_copies_only(noisy: Path) -> None:
    units = _units(noisy)
    college = [u for k, u in units.items() if k[0] == "college"]
    others = [u for k, u in units.items() if k[0] != "college"]
    assert len(college) > 400
    for tag in SELF_REPORTED:
        assert _share(college, tag) > 0, tag
        assert _share(others, tag) == 0, tag
    # unconditional ones at their configured rate
    for tag in ("first_letter_transposition", "dob_year_off"):
        assert _share(college, tag) == pytest.approx(getattr(NoiseRates(), tag), abs=0.01)


def test_self_reported_copies_on_one_person() -> None:
    person = TrueIdentity("Michael", "Kyle", "Espino", "Narváez", date(2005, 8, 31), "M")
    rates = NoiseRates(preferred_name=1.0, given_names_in_first=1.0, surname_split_fields=1.0,
                       first_letter_transposition=0.0, dob_year_off=1.0)
    clean = NoiseRates(**{name: 0.0 for name in NoiseRates.model_fields})
    typed = self_reported(person, record(person, clean, random.Random(1)), rates,
                          random.Random(2), upper=True)
    first, middle = typed.first.split(" "), typed.middle
    assert first[0] in {n.upper() for n in nicknames_for("Michael")} and first[1] == "KYLE"
    assert (middle, typed.last) == ("ESPINO", "NARVÁEZ")  # the first surname in the middle field
    assert typed.birth in ("20040831", "20060831")
    assert set(typed.noise.split(";")) == {"preferred_name", "given_names_in_first",
                                           "surname_split_fields", "dob_year_off"}
    particle = TrueIdentity("Ana", "", "De La Cruz", "", date(2004, 2, 29), "F")
    split = self_reported(particle, record(particle, clean, random.Random(1)), rates,
                          random.Random(3))
    assert (split.middle, split.last, split.birth[4:]) == ("De La", "Cruz", "0228")
    swapped = NoiseRates(**{**{n: 0.0 for n in NoiseRates.model_fields},
                            "first_letter_transposition": 1.0})
    letters = {self_reported(particle, record(particle, clean, random.Random(1)), swapped,
                             random.Random(seed)) for seed in range(20)}
    assert {(c.first, c.last) for c in letters} == {("nAa", "De La Cruz"),
                                                   ("Ana", "eD La Cruz")}


def test_self_reported_noise_moves_no_other_file(tmp_path: Path) -> None:
    off = NoiseRates(preferred_name=0.0, given_names_in_first=0.0, surname_split_fields=0.0,
                     first_letter_transposition=0.0, dob_year_off=0.0)
    generate(tmp_path / "on", students=200, seed=4, years=["2023-24"])
    generate(tmp_path / "off", students=200, seed=4, years=["2023-24"], noise=off)
    for sub in ("calpads", "ccgi"):
        files = sorted((tmp_path / "on" / sub).rglob("*.*"))
        assert files
        for path in files:
            twin = tmp_path / "off" / path.relative_to(tmp_path / "on")
            assert path.read_bytes() == twin.read_bytes(), path
    on = sorted((tmp_path / "on" / "college").rglob("college_students_*"))
    assert any(p.read_bytes() != (tmp_path / "off" / p.relative_to(tmp_path / "on")).read_bytes()
               for p in on)
