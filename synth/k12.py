"""K-12 school histories: enrolment stints per LEA and year (moves, drop-outs, graduation)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from synth.orgs import Lea, School
from synth.population import Person
from synth.weighted import Weighted
from synth.world import SMALL_WORLD, World

# Drop-out probability per year by grade, and exit codes used for drop-outs (weights).
DROPOUT_RATE = {7: 0.002, 8: 0.004, 9: 0.01, 10: 0.015, 11: 0.025, 12: 0.03}
DROPOUT_EXITS = (("E400", 6), ("E300", 2), ("E140", 2))
MOVE_MIDYEAR_RATE = 0.05  # moves to another LEA during the year (T160 + new stint)
MOVE_SUMMER_RATE = 0.03  # switches LEA between years
LEAVE_SYSTEM_RATE = 0.01  # leaves California public schools mid-year (never seen again)
LEAVE_EXITS = (("T180", 4), ("T200", 4), ("T240", 2))  # private school, out of state, abroad
GRADUATION_OUTCOMES = (("100", 90), ("120", 3), ("360", 4), ("retained", 3))


@dataclass(slots=True)
class Stint:
    """One SENR enrolment: a person at one school of one LEA within one academic year."""

    person: Person
    year: int  # index into years
    lea: Lea
    school: School
    grade: int
    ssid: str
    start: date
    exit: date
    exit_reason: str
    completion: str = ""
    full_year: bool = True  # attended until year end (gets course completions)


def year_start(lea: Lea, start_year: int) -> date:
    return date(start_year, 8, 8 + int(lea.code[-2:]) % 10)


def year_end(lea: Lea, start_year: int) -> date:
    return date(start_year + 1, 6, 2 + int(lea.code[-2:]) % 10)


_LEAVE_PICK = Weighted([c for c, _ in LEAVE_EXITS], [w for _, w in LEAVE_EXITS])


def serves(lea: Lea, grade: int) -> bool:
    """Whether the LEA has a school for ``grade`` (elementary districts stop at 8, high
    districts start at 9)."""
    levels = _levels(lea)
    return levels[0] if grade <= 8 else levels[1]


def _schools_for(lea: Lea, grade: int) -> tuple[School, ...]:
    """``lea.schools_for(grade)``, remembered: it is asked every year of every student."""
    levels = _levels(lea)
    return levels[2] if grade <= 8 else levels[3]


_LEVELS: dict[int, tuple[Lea, tuple[bool, bool, tuple[School, ...], tuple[School, ...]]]] = {}


def _levels(lea: Lea) -> tuple[bool, bool, tuple[School, ...], tuple[School, ...]]:
    # keyed by identity (hashing a Lea hashes all its schools); the Lea is kept with its entry
    # so its id cannot be reused by another object while the entry lives
    found = _LEVELS.get(id(lea))
    if found is None or found[0] is not lea:
        levels = (any(s.level == "MS" for s in lea.schools),
                  any(s.level == "HS" for s in lea.schools),
                  lea.schools_for(8), lea.schools_for(9))
        found = _LEVELS[id(lea)] = (lea, levels)
    return found[1]


@cache
def _serving(world: World, middle_school: bool) -> tuple[Lea, ...]:
    return tuple(lea for lea in world.leas if serves(lea, 8 if middle_school else 9))


@cache
def _lea_choice(world: World, middle_school: bool, avoid: str | None) -> Weighted[Lea]:
    # keyed by the avoided LEA's code: hashing a Lea hashes all its schools, on every pick
    options = [lea for lea in _serving(world, middle_school) if lea.code != avoid]
    return Weighted(options, [lea.weight for lea in options])


def _pick_lea(rng: random.Random, world: World, grade: int, avoid: Lea | None = None) -> Lea:
    return _lea_choice(world, grade <= 8, avoid.code if avoid else None).pick(rng)


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange(max(1, (last - first).days)))


def simulate(rng: random.Random, people: list[Person], years: list[int],
             world: World = SMALL_WORLD) -> list[Stint]:
    """School histories for K-12 ``people`` across ``years`` (start years of academic years)."""
    stints: list[Stint] = []
    state = rng.getstate()
    for i, person in enumerate(people):
        if person.twin_of is not None:
            # twins: same LEAs, schools and dates as the elder twin (replay the same draws)
            rng.setstate(state)
        # the state is kept only before an elder twin (copying it costs ~6 us a person)
        if i + 1 < len(people) and people[i + 1].twin_of is not None:
            state = rng.getstate()
        stints.extend(_history(rng, person, years, world))
    return stints


def _history(rng: random.Random, person: Person, years: list[int], world: World) -> list[Stint]:
    out: list[Stint] = []
    grade = person.grade_at_entry
    lea = _pick_lea(rng, world, grade)
    school = rng.choice(_schools_for(lea, grade))
    ssid = person.ssid
    # A two-SSID student changes LEA once, in a chosen year; the new LEA mints a second SSID.
    years_left = min(len(years) - person.entry_year, 13 - grade)
    mid_year = person.entry_year + rng.randrange(years_left) if person.ssid2 else -1
    used_second = False
    for y in range(person.entry_year, len(years)):
        start_year = years[y]
        if grade > 12:
            break
        if not serves(lea, grade):
            # an elementary district's 8th grader moves on to a high school district (never in
            # the small world, whose LEAs all have high schools: its draws are unchanged)
            if out and out[-1].exit_reason == "E155":
                out[-1].exit_reason = "T160"
            lea = _pick_lea(rng, world, grade, avoid=lea)
        start = year_start(lea, start_year)
        if y == person.entry_year and y > 0 and rng.random() < 0.5:
            start = _random_day(rng, start, date(start_year + 1, 3, 1))  # arrived mid-year
        end = year_end(lea, start_year)
        here = _schools_for(lea, grade)
        school = school if school in here else rng.choice(here)
        person.last_k12_year = y
        if y == mid_year or (mid_year < 0 and rng.random() < MOVE_MIDYEAR_RATE):
            leave = _random_day(rng, max(start + timedelta(days=20), date(start_year, 10, 1)),
                                date(start_year + 1, 4, 15))
            out.append(Stint(person, y, lea, school, grade, ssid, start, leave, "T160",
                             full_year=False))
            lea = _pick_lea(rng, world, grade, avoid=lea)
            school = rng.choice(_schools_for(lea, grade))
            if y == mid_year:
                ssid, used_second = person.ssid2, True
            start = leave + timedelta(days=rng.randrange(1, 15))
            end = year_end(lea, start_year)
        if rng.random() < LEAVE_SYSTEM_RATE:
            leave = _random_day(rng, start + timedelta(days=10), end)
            out.append(Stint(person, y, lea, school, grade, ssid, start, leave,
                             _LEAVE_PICK.pick(rng), full_year=False))
            break
        drop_p = DROPOUT_RATE.get(grade, 0.0)
        if rng.random() < drop_p:
            leave = _random_day(rng, start + timedelta(days=10), end)
            reason = rng.choices([c for c, _ in DROPOUT_EXITS],
                                 weights=[w for _, w in DROPOUT_EXITS])[0]
            out.append(Stint(person, y, lea, school, grade, ssid, start, leave, reason,
                             full_year=False))
            person.dropped_year = y
            break
        if grade == 12:
            outcome = rng.choices([c for c, _ in GRADUATION_OUTCOMES],
                                  weights=[w for _, w in GRADUATION_OUTCOMES])[0]
            if outcome != "retained":
                out.append(Stint(person, y, lea, school, grade, ssid, start, end, "E230",
                                 completion=outcome))
                if outcome == "100":
                    person.graduated_year = y
                else:
                    person.dropped_year = y
                break
            out.append(Stint(person, y, lea, school, grade, ssid, start, end, "E155"))
            continue  # repeats grade 12
        if grade <= 11 and rng.random() < MOVE_SUMMER_RATE and y + 1 < len(years):
            out.append(Stint(person, y, lea, school, grade, ssid, start, end, "T160"))
            lea = _pick_lea(rng, world, grade + 1, avoid=lea)
            school = rng.choice(_schools_for(lea, grade + 1))
        else:
            reason = "E155"
            out.append(Stint(person, y, lea, school, grade, ssid, start, end, reason))
        grade += 1
    if person.ssid2 and not used_second:
        person.ssid2 = ""
        person.has_second_ssid = False
    return out
