"""True people: real names and birth dates, twins, name collisions, two-SSID cases."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from synth.names import Group, NamePools
from synth.noise import NoiseRates, TrueIdentity
from synth.weighted import Weighted

GENDER_X_SHARE = 0.004
ENTRY_GRADES = Weighted((7, 8, 9, 10, 11, 12), (5, 8, 22, 22, 22, 21))


@dataclass(slots=True)  # millions at the state size: no per-object __dict__
class Person:
    """One real (synthetic) person. K-12 students carry their simulated school history."""

    index: int
    person_id: str
    group: Group
    truth: TrueIdentity
    k12: bool
    is_twin: bool = False
    twin_of: int | None = None  # index of the elder twin, on the younger one
    is_name_collision: bool = False
    has_second_ssid: bool = False
    ssid: str = ""
    ssid2: str = ""  # the MID: a second SSID a later LEA assigned
    grade_at_entry: int = 9
    entry_year: int = 0  # index into the generated years
    # filled by the K-12 simulation: did they finish high school, and when
    graduated_year: int | None = None  # index into years
    dropped_year: int | None = None
    last_k12_year: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _birth_for_grade(rng: random.Random, grade: int, year_start: int) -> date:
    """A birth date typical for ``grade`` in the academic year beginning ``year_start``.

    California's kindergarten cut-off is 1 September; 5 % are a year older (retained / late start).
    """
    born_from = date(year_start - grade - 6, 9, 2)
    if rng.random() < 0.05:
        born_from = born_from.replace(year=born_from.year - 1)
    return born_from + timedelta(days=rng.randrange(365))


def _given_names(rng: random.Random, group: Group, gender: str) -> tuple[str, str]:
    female = gender == "F" or (gender == "X" and rng.random() < 0.5)
    first = (group.female if female else group.male).pick(rng)
    middle = ""
    if rng.random() < group.two_given_share or rng.random() < 0.45:
        middle = (group.middle_female if female else group.middle_male).pick(rng)
        if middle == first:
            middle = ""
    return first, middle


def _gender(rng: random.Random) -> str:
    r = rng.random()
    return "X" if r < GENDER_X_SHARE else ("F" if r < 0.5 + GENDER_X_SHARE / 2 else "M")


def _surnames(rng: random.Random, group: Group) -> tuple[str, str]:
    s1 = group.pick_surname(rng)
    s2 = ""
    if rng.random() < group.double_surname_share:
        s2 = group.pick_surname(rng)
        if s2 == s1:
            s2 = ""
    return s1, s2


def make_k12_students(
    rng: random.Random, pools: NamePools, count: int, years: list[int], rates: NoiseRates,
    start_index: int = 0, ssid_range: tuple[int, int] = (0, 10**10),
) -> list[Person]:
    """``count`` K-12 students with twins, name collisions and two-SSID cases at ``rates``.

    ``start_index``: index of the first person (a chunk of a larger run); ``ssid_range``: the
    SSIDs it may mint, disjoint between chunks so no two chunks' students share one.
    """
    people: list[Person] = []
    used_ssids: set[str] = set()
    low, high = ssid_range

    def new_ssid() -> str:
        while True:
            s = f"{rng.randrange(low, high):010d}"
            if s not in used_ssids:
                used_ssids.add(s)
                return s

    pair_start = rates.twins / (2 - rates.twins) if rates.twins < 1 else 1.0
    def index() -> int:
        return start_index + len(people)

    while len(people) < count:
        group = pools.pick_group(rng)
        gender = _gender(rng)
        entry_year = 0 if rng.random() < 0.9 else rng.randrange(len(years))
        grade = ENTRY_GRADES.pick(rng)
        birth = _birth_for_grade(rng, grade, years[entry_year])
        first, middle = _given_names(rng, group, gender)
        s1, s2 = _surnames(rng, group)
        collision = False
        if people and rng.random() < rates.name_collision:
            other = people[rng.randrange(len(people))]
            group, gender = other.group, other.truth.gender
            first, s1, s2 = other.truth.first, other.truth.surname1, other.truth.surname2
            other.is_name_collision = collision = True
            # same birth year, different day: the hard case for linkage
            birth = other.truth.birth + timedelta(days=rng.choice((-40, -9, 3, 17, 61)))
            grade = other.grade_at_entry
            entry_year = other.entry_year
        twins = len(people) + 1 < count and rng.random() < pair_start
        members = 2 if twins else 1
        for k in range(members):
            if k == 1:
                gender = _gender(rng)
                for _ in range(20):
                    first2, middle = _given_names(rng, group, gender)
                    if first2 != first:
                        break
                first = first2
            person = Person(
                index=index(),
                person_id=f"P{index() + 1:07d}",
                group=group,
                truth=TrueIdentity(first, middle, s1, s2, birth, gender),
                k12=True,
                is_twin=twins,
                twin_of=index() - 1 if k == 1 else None,
                is_name_collision=collision,
                has_second_ssid=rng.random() < rates.second_ssid,
                grade_at_entry=grade,
                entry_year=entry_year,
            )
            person.ssid = new_ssid()
            if person.has_second_ssid:
                person.ssid2 = new_ssid()
            people.append(person)
    return people


def make_adults(
    rng: random.Random, pools: NamePools, count: int, start_index: int
) -> list[Person]:
    """College students who never attended K-12 here (older, or schooled elsewhere)."""
    adults = []
    for i in range(count):
        group = pools.pick_group(rng)
        gender = _gender(rng)
        first, middle = _given_names(rng, group, gender)
        s1, s2 = _surnames(rng, group)
        birth = date(rng.randrange(1965, 2005), 1, 1) + timedelta(days=rng.randrange(365))
        index = start_index + i
        adults.append(Person(
            index=index, person_id=f"P{index + 1:07d}", group=group,
            truth=TrueIdentity(first, middle, s1, s2, birth, gender), k12=False,
        ))
    return adults
