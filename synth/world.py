"""The organisations a generation run writes for: the small world (tests, demo) or the state.

The state world has California's shape (issue 13; CDE / CCCCO counts as the issue gives them):
1,018 school districts (345 unified, 517 elementary, 76 high, 80 other), 58 county offices,
1,300 independently reporting charters, 116 community colleges in 73 districts, and CCGI. LEA
sizes are heavy-tailed: each LEA draws a statewide enrolment from a log-normal of its kind, the
largest unified district is then set to 7 % of all students (LAUSD's share). An LEA's weight is
its share of students, so the number of generated students is independent of the number of
organisations: 20,000 students spread over the same 2,376 LEAs as 5.85 million would.

Every name is fictional (two invented words); codes are shaped like real ones: the 7-digit
county-district code starts with the 2-digit county code (01-58), a charter reports under its
own 7-digit school code, and its CDS code starts with its authorising district's code.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import cache

from synth.orgs import _SILENT_PARTNERS, COLLEGES, LEAS, NEAREST_COLLEGE, College, Lea, School

WORLDS: tuple[str, ...] = ("small", "state")
STATE_STUDENTS = 5_850_000  # K-12 students in 2022-23: the scale the size figures refer to
STATE_SEED = "c2c-state-world-1"  # the state's structure does not depend on the data seed
# ``c2c generate --scale``: shares of the state's K-12 students (the state world)
SCALES: dict[str, int] = {"1%": STATE_STUDENTS // 100, "10%": STATE_STUDENTS // 10,
                          "100%": STATE_STUDENTS}

# (kind, count, median statewide enrolment, log-normal sigma). Medians and spreads are
# assumptions chosen so the whole matches the issue: a median district of a few thousand
# (unified 4,500, elementary 1,200: a median district near 2,200 at 5.85 million students),
# about 190 LEAs under 100 (small rural districts, small charters), charters ~12 % of students.
DISTRICT_KINDS: tuple[tuple[str, int, float, float], ...] = (
    ("unified", 345, 4500.0, 1.0),
    ("elementary", 517, 1200.0, 1.3),
    ("high", 76, 4000.0, 0.8),
    ("other", 80, 250.0, 1.2),  # state special schools, JPAs, ROCs that report to CALPADS
)
COE_COUNT, COE_MEDIAN, COE_SIGMA = 58, 400.0, 0.9
CHARTER_COUNT, CHARTER_MEDIAN, CHARTER_SIGMA = 1300, 350.0, 1.0
LARGEST_SHARE = 0.07
COLLEGE_COUNT, COLLEGE_DISTRICTS = 116, 73
LA_COUNTY = 19  # the county of the largest district (county codes as CDS uses them)

_WORD_A = (
    "Alder", "Amber", "Arroyo", "Aspen", "Bayshore", "Bear", "Birch", "Bluebird", "Boulder",
    "Briar", "Buckeye", "Cactus", "Cedar", "Chaparral", "Clearwater", "Clover", "Copper",
    "Coral", "Cottonwood", "Coyote", "Crescent", "Crystal", "Cypress", "Deer", "Driftwood",
    "Eagle", "Elder", "Elk", "Fairwind", "Falcon", "Fern", "Fox", "Garnet", "Golden", "Granite",
    "Greenleaf", "Hawk", "Hazel", "Heron", "Hidden", "Highland", "Holly", "Indigo", "Iron",
    "Juniper", "Kestrel", "Lark", "Laurel", "Lone", "Lupine", "Madrone", "Manzanita", "Maple",
    "Meadowlark", "Mesa", "Millstone", "Mirror", "Misty", "Moss", "Northgate", "Oak", "Ocean",
    "Olive", "Orchard", "Otter", "Palm", "Pebble", "Pine", "Poppy", "Quail", "Rainbow", "Raven",
    "Redbud", "Riverbend", "Rock", "Rose", "Sage", "Saltgrass", "Sand", "Shadow", "Shell",
    "Silver", "Skylark", "Spring", "Stone", "Summit", "Sunrise", "Sycamore", "Tidewater",
    "Tule", "Verde", "Vista", "Walnut", "Westwind", "Willow", "Windmill", "Wolf", "Yarrow",
    "Yucca", "Zephyr",
)
_WORD_B = (
    "Bend", "Bluff", "Brook", "Canyon", "Creek", "Crossing", "Dale", "Falls", "Field", "Flats",
    "Ford", "Gap", "Glen", "Grove", "Harbor", "Haven", "Heights", "Hills", "Hollow", "Lake",
    "Landing", "Meadows", "Mesa", "Mill", "Park", "Pass", "Point", "Ranch", "Ridge", "River",
    "Rock", "Shore", "Springs", "Summit", "Valley", "View", "Wells", "Wood", "Woods", "Basin",
)


@dataclass(eq=False)  # hashed by identity: a world is a cache key, and it is large
class World:
    name: str
    leas: tuple[Lea, ...]
    colleges: tuple[College, ...]
    nearest_college: dict[str, str]  # LEA code -> its students' usual college
    silent: tuple[tuple[str, str, str, str, str, str], ...] = ()
    district_type: dict[str, str] = field(default_factory=dict)  # LEA code -> kind of LEA
    college_district: dict[str, str] = field(default_factory=dict)  # college code -> district

    @property
    def lea_index(self) -> dict[str, int]:
        return _lea_index(self)


@cache
def _lea_index(world: World) -> dict[str, int]:
    return {lea.code: i for i, lea in enumerate(world.leas)}


SMALL_WORLD = World("small", LEAS, COLLEGES, NEAREST_COLLEGE, _SILENT_PARTNERS)


def get_world(name: str) -> World:
    if name == "small":
        return SMALL_WORLD
    if name == "state":
        return state_world()
    raise ValueError(f"unknown world {name!r}")


def _names(rng: random.Random, count: int) -> list[str]:
    pairs = [f"{a} {b}" for a in _WORD_A for b in _WORD_B if not b.startswith(a[:4])]
    return rng.sample(pairs, count)


def _lognormal_sizes(rng: random.Random, n: int, median: float, sigma: float) -> list[float]:
    return [max(8.0, round(median * math.exp(rng.gauss(0.0, sigma)))) for _ in range(n)]


@cache
def state_world() -> World:
    """California's organisational shape with fictional names (built once per process)."""
    rng = random.Random(STATE_SEED)
    # counties: 58, heavy-tailed (Zipf), county 19 the largest as in CDS codes
    order = [LA_COUNTY] + rng.sample([c for c in range(1, 59) if c != LA_COUNTY], 57)
    county_weight = {c: 1.0 / (rank + 1) ** 1.1 for rank, c in enumerate(order)}
    counties = sorted(county_weight)
    lea_county_weights = [county_weight[c] ** 0.6 for c in counties]  # LEAs less concentrated
    total_districts = sum(k[1] for k in DISTRICT_KINDS)
    cities = _names(rng, total_districts + COE_COUNT + CHARTER_COUNT + COLLEGE_COUNT + 100)
    county_names = rng.sample(_WORD_A, 58)
    used_school: set[str] = set()
    used_cd: set[str] = {f"{c:02d}10{c:03d}" for c in counties}  # COE codes, kept apart

    def school_code() -> str:
        while True:
            code = f"{rng.randrange(100000, 6999999):07d}"
            if code not in used_school and code not in used_cd:
                used_school.add(code)
                return code

    def zips(county: int, n: int) -> tuple[str, ...]:
        base = 90001 + (county * 107) % 6000
        return tuple(f"{base + rng.randrange(60):05d}" for _ in range(n))

    leas: list[Lea] = []
    sizes: list[float] = []
    kinds: dict[str, str] = {}
    districts_by_county: dict[int, list[int]] = {}
    city_iter = iter(cities)
    for kind, count, median, sigma in DISTRICT_KINDS:
        for k, size in enumerate(_lognormal_sizes(rng, count, median, sigma)):
            county = LA_COUNTY if (kind == "unified" and k == 0) else rng.choices(
                counties, lea_county_weights)[0]
            while True:
                cd = f"{county:02d}{rng.randrange(20000, 80000):05d}"
                if cd not in used_cd and cd not in used_school:
                    used_cd.add(cd)
                    break
            city = next(city_iter)
            suffix = {"unified": "Unified School District", "elementary": "Elementary School "
                      "District", "high": "Union High School District",
                      "other": "Regional Programs"}[kind]
            giant = kind == "unified" and k == 0  # the 7 % district: most schools
            n_schools = 8 if giant else max(1, min(8, int(size // 15000) + 1))
            schools: list[School] = []
            if kind in ("unified", "high", "other"):
                schools += [School(school_code(), f"{city} High" if i == 0 else
                                   f"{city} {_WORD_A[(i * 7 + len(city)) % len(_WORD_A)]} High",
                                   "HS") for i in range(n_schools)]
            if kind in ("unified", "elementary"):
                label = "Middle" if kind == "unified" else "K-8"
                schools += [School(school_code(), f"{city} {label}"
                                   + ("" if i == 0 else f" {i + 1}"), "MS")
                            for i in range(n_schools)]
            districts_by_county.setdefault(county, []).append(len(leas))
            leas.append(Lea(cd, f"{city} {suffix}", "lea", False, cd, 0.0, city,
                            zips(county, 1 + min(3, int(size // 20000))), tuple(schools)))
            sizes.append(size)
            kinds[cd] = kind
    for county, size in zip(counties, _lognormal_sizes(rng, COE_COUNT, COE_MEDIAN, COE_SIGMA),
                            strict=True):
        cd = f"{county:02d}10{county:03d}"
        name = f"{county_names[county - 1]} County Office of Education"
        leas.append(Lea(cd, name, "coe", False, cd, 0.0, county_names[county - 1],
                        zips(county, 2), (School(school_code(), f"{county_names[county - 1]} "
                                                 "County Community School", "HS"),
                                          School(school_code(), f"{county_names[county - 1]} "
                                                 "County Court School", "MS"))))
        sizes.append(size)
        kinds[cd] = "coe"
    for size in _lognormal_sizes(rng, CHARTER_COUNT, CHARTER_MEDIAN, CHARTER_SIGMA):
        county = rng.choices(counties, [county_weight[c] for c in counties])[0]
        authoriser = leas[rng.choice(districts_by_county.get(county) or [0])]
        code = school_code()
        city = next(city_iter)
        level = "HS" if rng.random() < 0.55 else "MS"
        name = f"{city} {'Preparatory Academy' if level == 'HS' else 'Charter School'}"
        leas.append(Lea(code, name, "lea", True, authoriser.cd_code, 0.0, authoriser.city,
                        authoriser.zip_codes, (School(code, name, level),)))
        sizes.append(size)
        kinds[code] = "charter"
    # the largest unified district holds LARGEST_SHARE of all students
    sizes[0] = LARGEST_SHARE / (1 - LARGEST_SHARE) * (sum(sizes) - sizes[0])
    total = sum(sizes)
    leas = [Lea(lea.code, lea.name, lea.kind, lea.charter, lea.cd_code, size / total, lea.city,
                lea.zip_codes, lea.schools) for lea, size in zip(leas, sizes, strict=True)]

    # colleges: 73 districts, each with one college, the other 43 colleges spread over them
    district_of = list(range(COLLEGE_DISTRICTS)) + [
        rng.randrange(COLLEGE_DISTRICTS) for _ in range(COLLEGE_COUNT - COLLEGE_DISTRICTS)]
    district_county = [rng.choices(counties, [county_weight[c] for c in counties])[0]
                       for _ in range(COLLEGE_DISTRICTS)]
    district_names = [f"{next(city_iter)} Community College District"
                      for _ in range(COLLEGE_DISTRICTS)]
    college_codes = rng.sample(range(100, 1000), COLLEGE_COUNT)
    colleges: list[College] = []
    college_district: dict[str, str] = {}
    college_county: dict[str, int] = {}
    for i, (d, number) in enumerate(zip(district_of, college_codes, strict=True)):
        code = f"{number:03d}"
        city = next(city_iter)
        colleges.append(College(code, f"{city} College", rng.lognormvariate(0, 0.8),
                                "ABCDEFGHJKLMNPRSTUVWXYZ"[i % 23], rng.random() < 0.1))
        college_district[code] = district_names[d]
        college_county[code] = district_county[d]
    by_county: dict[int, list[str]] = {}
    for code, county in college_county.items():
        by_county.setdefault(county, []).append(code)
    nearest: dict[str, str] = {}
    for lea in leas:
        county = int(lea.cd_code[:2])
        near = by_county.get(county)
        if not near:  # no college in the county: one of the neighbouring county numbers'
            for step in range(1, 59):
                near = by_county.get(county - step) or by_county.get(county + step)
                if near:
                    break
        options = sorted(near) if near else [colleges[0].code]
        nearest[lea.code] = options[int(lea.code) % len(options)]
    return World("state", tuple(leas), tuple(colleges), nearest, (), kinds, college_district)


def describe(world: World, students: int = STATE_STUDENTS) -> dict[str, object]:
    """Counts and size figures of a world (sizes scaled to ``students``): for tests and benches."""
    kinds: dict[str, int] = {}
    for lea in world.leas:
        kind = world.district_type.get(lea.code) or ("charter" if lea.charter else lea.kind)
        kinds[kind] = kinds.get(kind, 0) + 1
    districts = sorted(lea.weight * students for lea in world.leas
                       if world.district_type.get(lea.code) in ("unified", "elementary", "high",
                                                                 "other"))
    all_sizes = [lea.weight * students for lea in world.leas]
    return {
        "leas": len(world.leas), "kinds": kinds, "colleges": len(world.colleges),
        "college_districts": len(set(world.college_district.values())),
        "counties": len({lea.cd_code[:2] for lea in world.leas}),
        "largest_share": max(lea.weight for lea in world.leas),
        "median_district": districts[len(districts) // 2] if districts else 0.0,
        "under_100": sum(1 for s in all_sizes if s < 100),
    }


__all__ = ["SCALES", "SMALL_WORLD", "STATE_STUDENTS", "WORLDS", "World", "describe", "get_world",
           "state_world"]
