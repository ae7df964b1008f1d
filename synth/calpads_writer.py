"""Writes the seven CALPADS ODS extracts per LEA and academic year from the simulated stints.

Rows are built by field name against ``core.calpads.CURRENT_LAYOUT`` (an unknown name is a
KeyError), so the generator and the ingest validator share one layout definition.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from core.calpads import CURRENT_LAYOUT, academic_year_id, short_year
from synth.blob import Blob
from synth.courses import (
    CORE,
    ELECTIVES,
    GRADE_WEIGHTS,
    GRADES,
    PASSING_CTE,
    Course,
    Pathway,
    pathways_offered,
)
from synth.defects import Defects
from synth.k12 import Stint, year_end
from synth.noise import NoiseRates, RecordedIdentity, nicknames_for, record
from synth.orgs import Lea
from synth.population import Person
from synth.truth import TruthRecorder
from synth.weighted import Weighted
from synth.world import SMALL_WORLD, World

CALPADS = 0  # index in truth.SOURCE_SYSTEMS


class RowBuilder:
    """Builds one caret-delimited ODS line of a file type from a {field name: value} dict."""

    def __init__(self, file_type: str) -> None:
        names = CURRENT_LAYOUT[file_type].column_names(ods=True)
        self.position = {name: i for i, name in enumerate(names)}
        self.template = [""] * len(names)
        self.template[0] = f"{file_type}-R"

    def line(self, values: dict[str, str]) -> str:
        return "^".join(self.row(values))

    def row(self, values: dict[str, str]) -> list[str]:
        """The fields of one line: a caller that writes many lines differing in a few fields
        fills the rest once and sets those few by :meth:`slot` on a copy."""
        row = self.template.copy()
        position = self.position
        for name, value in values.items():
            row[position[name]] = value
        return row

    def slot(self, name: str) -> int:
        return self.position[name]


BUILDERS = {ft: RowBuilder(ft) for ft in CURRENT_LAYOUT}
# SCSC is about half of all CALPADS lines: its per-course fields are set by position
_SCSC_COURSE, _SCSC_SECTION, _SCSC_EARNED, _SCSC_GRADE, _SCSC_AG = (
    BUILDERS["SCSC"].slot(name) for name in ("local_course_id", "course_section_id",
                                             "credits_earned", "final_grade",
                                             "uc_csu_admission_code"))


@cache
def d8(d: date | None) -> str:
    """CCYYMMDD, the CALPADS date form."""
    return "" if d is None else f"{d.year:04d}{d.month:02d}{d.day:02d}"


_LANGUAGE = {  # CALPADS primary language codes by heritage group (00 = English)
    "hispanic": "01", "vietnamese": "02", "chinese": "03", "korean": "04", "filipino": "05",
    "armenian": "11", "south_asian": "99", "white": "99", "black": "99", "other": "99",
}
_ELA_CODES = ("EO", "EL", "RFEP", "IFEP", "TBD")
_ELA_MIX = {  # (EO, EL, RFEP, IFEP, TBD) weights by group
    key: Weighted(_ELA_CODES, weights) for key, weights in {
        "hispanic": (35, 18, 37, 7, 3), "vietnamese": (25, 15, 40, 18, 2),
        "chinese": (30, 14, 36, 18, 2), "korean": (35, 12, 33, 18, 2),
        "filipino": (60, 6, 20, 13, 1), "armenian": (40, 12, 33, 13, 2),
        "south_asian": (40, 10, 30, 19, 1),
    }.items()
}
_ELA_DEFAULT = Weighted(_ELA_CODES, (92, 3, 2, 3, 0))
COURSE_GRADES = Weighted(GRADES, GRADE_WEIGHTS)
_BIRTH_COUNTRY = {
    "hispanic": ("MX", "SV", "GT"), "vietnamese": ("VN",), "chinese": ("CN", "TW", "HK"),
    "korean": ("KR",), "filipino": ("PH",), "armenian": ("AM",), "south_asian": ("IN",),
    "black": ("NG", "ET"), "white": ("CA", "RU"), "other": ("WS", "TO"),
}
_STREETS = ("Main St", "Oak Ave", "Mission Blvd", "Chavez Ave", "Pine St", "Olive Ave",
            "Whittier Blvd", "E 14th St", "Foothill Blvd", "Broadway", "Valley Rd", "Cedar Ln",
            "Avenida del Sol", "Peña Ct", "Jacaranda Way", "Magnolia Ave")


ALIAS_RATE = 0.05  # students with a preferred first name recorded as SENR alias
# Guardians recorded in SINF. Assumed rates (no published figures): guardian 1 is the mother
# as often as the first-name draw says (60%), a second guardian (the other parent) is listed
# for half the students, and one guardian in ten is not a parent (grandparent, foster
# parent, step-parent: an unrelated surname). A mother's own surname is the student's
# second surname in a two-surname family; elsewhere she shares the family surname mostly.
SECOND_GUARDIAN_RATE = 0.5
UNRELATED_GUARDIAN_RATE = 0.1
MOTHER_SHARES_SURNAME = 0.8


@dataclass(frozen=True)
class Guardian:
    first: str
    last: str


def _guardian_surname(person: Person, female: bool, rng: random.Random) -> str:
    truth = person.truth
    if rng.random() < UNRELATED_GUARDIAN_RATE:
        return person.group.pick_surname(rng)
    if not female:
        return truth.surname1
    if truth.surname2:
        return truth.surname2
    return truth.surname1 if rng.random() < MOTHER_SHARES_SURNAME else (
        person.group.pick_surname(rng))


def _guardians(
    person: Person, first_female: bool, first_name: str, rng: random.Random
) -> tuple[Guardian, ...]:
    """Guardian 1 (and sometimes 2, the other parent) as SINF records them."""
    found = [Guardian(first_name, _guardian_surname(person, first_female, rng))]
    if rng.random() < SECOND_GUARDIAN_RATE:
        other = (person.group.male if first_female else person.group.female).pick(rng)
        found.append(Guardian(other, _guardian_surname(person, not first_female, rng)))
    return tuple(found)


def _alias(person: Person, rng: random.Random) -> str:
    if rng.random() >= ALIAS_RATE:
        return ""
    options = nicknames_for(person.truth.first)
    return rng.choice(options) if options else ""


def _guardian_fields(guardians: tuple[Guardian, ...]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for number, guardian in enumerate(guardians, start=1):
        fields[f"guardian_{number}_first_name"] = guardian.first
        fields[f"guardian_{number}_last_name"] = guardian.last
    return fields


@dataclass(slots=True)
class Profile:
    """Stable K-12 attributes of a student (programs, language, CTE, birthplace)."""

    meal: str  # "181", "182" or ""
    homeless: str  # dwelling type code or ""
    gate: bool
    plan504: bool
    ela: str
    reclassify_year: int | None
    language: str
    birth_city: str
    birth_state: str
    birth_country: str
    us_entry: date | None
    parent_ed: str
    guardians: tuple[Guardian, ...]
    elective: Course
    alias: str  # preferred first name the school also records (SENR alias), "" mostly
    cte_pathway: Pathway | None = None
    cte_start: int = 0
    cte_done: bool = False
    local_ids: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, tuple[str, str]] = field(default_factory=dict)


class CalpadsWriter:
    """Owns the CALPADS side: per-person profiles, per-LEA identities, files and truth rows."""

    def __init__(
        self, out: Path, years: list[int], seed: int | str, rates: NoiseRates,
        truth: TruthRecorder,
        defects: Defects | None = None, world: World = SMALL_WORLD,
    ) -> None:
        self.out = out
        self.world = world
        self.defects = defects if defects is not None and defects.calpads else None
        self.years = years
        self.rates = rates
        self.truth = truth
        self.rng = random.Random(f"{seed}:calpads")
        self.noise_rng = random.Random(f"{seed}:noise:calpads")
        # own stream: guardians drawn here leave every other generated value unchanged
        self.guardian_rng = random.Random(f"{seed}:guardians:calpads")
        self.profiles: dict[int, Profile] = {}
        self.identities: dict[tuple[int, str], tuple[RecordedIdentity, int]] = {}
        self.local_counter: dict[str, int] = {}
        self.local_id_base = 0  # a chunk of a larger run numbers from its own range
        self.blob: Blob | None = None  # a chunk of a larger run writes here (synth.chunks)
        self.files_written = 0
        self.bytes_written = 0
        # A run in chunks (synth.generator) appends each chunk's rows to the LEA-year files
        # and writes CRSC once at the end, from the sections every chunk's students used.
        self.lines_in: dict[str, int] = {}  # file -> lines written so far
        self.folders: set[Path] = set()
        self.chunked = False
        self.sections: dict[tuple[int, int], dict[tuple[str, str, str], tuple[Course, str]]] = {}

    def profile(self, person: Person, lea_pos: int) -> Profile:
        found = self.profiles.get(person.index)
        if found is not None:
            return found
        rng = self.rng
        key = person.group.key
        sed_rate = 0.62 if person.group.race_ethnicity in ("hispanic", "black") else 0.35
        r = rng.random()
        meal = "181" if r < sed_rate else ("182" if r < sed_rate + 0.08 else "")
        homeless = rng.choice(("100", "110", "110", "120", "130")) if rng.random() < 0.03 else ""
        ela_mix = _ELA_MIX.get(key, _ELA_DEFAULT)
        ela = ela_mix.pick(rng)
        reclass = rng.randrange(len(self.years)) if ela == "EL" and rng.random() < 0.35 else None
        foreign = rng.random() < (0.22 if key not in ("white", "black") else 0.04)
        birth_country = rng.choice(_BIRTH_COUNTRY[key]) if foreign else "US"
        us_entry = None
        if foreign:
            us_entry = min(person.truth.birth + timedelta(days=365 * rng.randrange(5, 15)),
                           date(self.years[person.entry_year], 8, 1))  # before first enrolment
        lea = self.world.leas[lea_pos]
        offered = pathways_offered(lea_pos)
        cte = rng.choice(offered) if rng.random() < 0.28 else None
        prof = Profile(
            meal=meal, homeless=homeless, gate=rng.random() < 0.06,
            plan504=rng.random() < 0.04, ela=ela, reclassify_year=reclass,
            language="00" if ela in ("EO",) else _LANGUAGE[key],
            birth_city="" if foreign else lea.city, birth_state="" if foreign else "CA",
            birth_country=birth_country, us_entry=us_entry,
            parent_ed=rng.choice(("10", "11", "12", "12", "13", "13", "14", "14", "15")),
            guardians=self._guardians(person),
            elective=rng.choice(ELECTIVES), alias=_alias(person, rng), cte_pathway=cte,
            cte_start=rng.choice((10, 10, 11)),
        )
        self.profiles[person.index] = prof
        return prof

    def _guardians(self, person: Person) -> tuple[Guardian, ...]:
        # Guardian 1's sex and first name come from the main stream (as they always have), the
        # rest from the guardian stream, so no other generated value moves.
        female = self.rng.random() < 0.6
        first_name = (person.group.female if female else person.group.male).pick(self.rng)
        return _guardians(person, female, first_name, self.guardian_rng)

    def identity(self, person: Person, lea: Lea) -> tuple[RecordedIdentity, int]:
        key = (person.index, lea.code)
        found = self.identities.get(key)
        if found is None:
            ident = record(person.truth, self.rates, self.noise_rng)
            found = (ident, self.truth.noises(ident.noise))
            self.identities[key] = found
        return found

    def local_id(self, prof: Profile, lea_pos: int) -> str:
        lea = self.world.leas[lea_pos]
        found = prof.local_ids.get(lea.code)
        if found is None:
            n = self.local_counter.get(lea.code, 0) + 1
            self.local_counter[lea.code] = n
            found = prof.local_ids[lea.code] = f"{lea_pos:02d}{self.local_id_base + n:07d}"
        return found

    def address(self, prof: Profile, lea: Lea) -> tuple[str, str]:
        found = prof.addresses.get(lea.code)
        if found is None:
            rng = self.rng
            found = (f"{rng.randrange(100, 19999)} {rng.choice(_STREETS)}",
                     rng.choice(lea.zip_codes))
            prof.addresses[lea.code] = found
        return found

    # -- files ---------------------------------------------------------------------------
    def write_lea_year(self, y: int, lea_pos: int, stints: list[Stint]) -> None:
        """Write the seven files for one LEA and year (a file type without records is skipped)."""
        lea = self.world.leas[lea_pos]
        start_year = self.years[y]
        ayid = academic_year_id(f"{start_year}-{str(start_year + 1)[-2:]}")
        label = short_year(ayid)
        folder = self.out / "calpads" / lea.code / label
        if self.blob is None and folder not in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            self.folders.add(folder)
        extract_day = year_end(lea, start_year) + timedelta(days=30)
        lines: dict[str, list[str]] = {ft: [] for ft in CURRENT_LAYOUT}
        owners: dict[str, list[tuple[int, str, int]]] = {ft: [] for ft in CURRENT_LAYOUT}
        sections: dict[tuple[str, str, str], tuple[Course, str]] = (
            self.sections.setdefault((y, lea_pos), {}) if self.chunked else {})
        seen: set[tuple[int, str]] = set()
        for stint in stints:
            self._stint_rows(stint, lea_pos, ayid, extract_day, lines, owners, sections, seen)
        if not self.chunked:
            self._crsc_lines(lea, ayid, extract_day, sections, lines["CRSC"])
        tags = self.defects.calpads_lea_year(lea, y, lines, owners) if self.defects else {}
        for ft in CURRENT_LAYOUT:
            rel = f"calpads/{lea.code}/{label}/{ft} {label}.txt"
            self._write(rel, lines[ft], owners[ft], lea.code, tags.get(ft))

    def _crsc_lines(self, lea: Lea, ayid: str, extract_day: date,
                    sections: dict[tuple[str, str, str], tuple[Course, str]],
                    out: list[str]) -> None:
        for (school, _local, section_id), (course, seid) in sorted(sections.items()):
            out.append(self._crsc(lea, school, ayid, course, section_id, seid, extract_day))

    def finish(self) -> None:
        """A chunked run: write every LEA-year's CRSC from the sections its chunks used."""
        for (y, lea_pos), sections in sorted(self.sections.items()):
            lea = self.world.leas[lea_pos]
            start_year = self.years[y]
            ayid = academic_year_id(f"{start_year}-{str(start_year + 1)[-2:]}")
            label = short_year(ayid)
            lines: list[str] = []
            self._crsc_lines(lea, ayid, year_end(lea, start_year) + timedelta(days=30),
                             sections, lines)
            self._write(f"calpads/{lea.code}/{label}/CRSC {label}.txt", lines, [], lea.code)
        self.sections.clear()

    def _write(self, rel: str, lines: list[str], owners: list[tuple[int, str, int]],
               partner: str, defects: list[str] | None = None) -> None:
        if not lines:
            return  # nothing to report (tiny runs only): an LEA uploads no empty file
        data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        before = self.lines_in.get(rel)
        if self.blob is not None:  # a chunk of a larger run: into its one staging file
            self.blob.add(rel, data, header=0)
        elif before is None:
            (self.out / rel).write_bytes(data)
            self.files_written += 1
        else:  # a later chunk's rows for the same LEA-year
            with (self.out / rel).open("ab") as fh:
                fh.write(data)
        self.lines_in[rel] = (before or 0) + len(lines)
        self.bytes_written += len(data)
        self.truth.add_file(CALPADS, partner, rel, owners, first_line=(before or 0) + 1,
                            defects=defects)

    def _stint_rows(
        self, stint: Stint, lea_pos: int, ayid: str, extract_day: date,
        lines: dict[str, list[str]], owners: dict[str, list[tuple[int, str, int]]],
        sections: dict[tuple[str, str, str], tuple[Course, str]], seen: set[tuple[int, str]],
    ) -> None:
        person, lea, school = stint.person, stint.lea, stint.school
        prof = self.profile(person, lea_pos)
        ident, noise = self.identity(person, lea)
        owner = (person.index, stint.ssid, noise)
        grade = f"{stint.grade:02d}"
        base = {
            "reporting_lea": lea.code, "school_of_attendance": school.code,
            "academic_year_id": ayid, "ssid": stint.ssid,
            "local_student_id": self.local_id(prof, lea_pos),
            "first_name": ident.first, "last_name": ident.last,
            "birth_date": ident.birth, "gender": ident.gender,
        }
        uploaded = d8(stint.start + timedelta(days=3))
        graduate = stint.exit_reason == "E230" and stint.completion == "100"
        rng = self.rng
        lines["SENR"].append(BUILDERS["SENR"].line({
            **base, "middle_name": ident.middle, "birth_city": prof.birth_city,
            "birth_state_province_code": prof.birth_state,
            "birth_country_code": prof.birth_country,
            "enrollment_start_date": d8(stint.start), "enrollment_status_code": "10",
            "grade_level_code": grade, "enrollment_exit_date": d8(stint.exit),
            "exit_reason_code": stint.exit_reason, "completion_status_code": stint.completion,
            "alias_first_name": prof.alias,
            "met_uc_csu_requirements": ("Y" if rng.random() < 0.5 else "N") if graduate else "",
            "district_of_residence": lea.cd_code,
            "golden_state_seal": ("Y" if rng.random() < 0.2 else "N") if graduate else "",
            "seal_of_biliteracy": ("Y" if rng.random() < 0.12 else "N") if graduate else "",
            "upload_date": uploaded, "last_date_updated": d8(min(stint.exit + timedelta(days=2),
                                                                extract_day)),
        }))
        owners["SENR"].append(owner)
        # One SINF/SPRG/SELA set per student and LEA-year, even with two stints in the LEA.
        if (person.index, lea.code) in seen:
            return
        seen.add((person.index, lea.code))
        street, zip_code = self.address(prof, lea)
        group = person.group
        race = group.race_codes[person.index % len(group.race_codes)]
        lines["SINF"].append(BUILDERS["SINF"].line({
            **base, "middle_name": ident.middle, "effective_start_date": d8(stint.start),
            "birth_city": prof.birth_city, "birth_state_province_code": prof.birth_state,
            "birth_country_code": prof.birth_country,
            "hispanic_indicator": "Y" if group.hispanic else "N",
            "ethnicity_missing_indicator": "N", "race_1": race, "race_missing_indicator": "N",
            "address_line_1": street, "address_city": lea.city, "address_state": "CA",
            "address_zip": zip_code, "initial_us_enrollment_date": d8(prof.us_entry),
            "us_school_under_three_years": "N" if prof.us_entry is None else "Y"
            if (stint.start - prof.us_entry).days < 3 * 365 else "N",
            "parent_education_level": prof.parent_ed,
            **_guardian_fields(prof.guardians),
            "upload_date": uploaded, "last_date_updated": uploaded,
        }))
        owners["SINF"].append(owner)
        self._programs(stint, prof, base, uploaded, lines, owners, owner)
        ela = prof.ela
        ela_start = d8(date(self.years[0] - 3, 9, 15))
        if prof.reclassify_year is not None and stint.year >= prof.reclassify_year:
            ela = "RFEP"
            ela_start = d8(date(self.years[prof.reclassify_year], 10, 15))
        lines["SELA"].append(BUILDERS["SELA"].line({
            **base, "ela_status_code": ela, "ela_status_start_date": ela_start,
            "primary_language_code": prof.language,
            "upload_date": uploaded, "last_date_updated": uploaded,
        }))
        owners["SELA"].append(owner)
        if stint.full_year:
            self._courses(stint, lea_pos, prof, base, ayid, extract_day, lines, owners, owner,
                          sections)

    def _programs(
        self, stint: Stint, prof: Profile, base: dict[str, str], uploaded: str,
        lines: dict[str, list[str]], owners: dict[str, list[tuple[int, str, int]]],
        owner: tuple[int, str, int],
    ) -> None:
        start_year = self.years[stint.year]
        ident = {k: base[k] for k in ("reporting_lea", "school_of_attendance",
                                       "academic_year_id", "ssid", "local_student_id",
                                       "first_name", "last_name", "birth_date", "gender")}
        programs: list[tuple[str, str, dict[str, str]]] = []
        if prof.meal:
            programs.append((prof.meal, "1", {}))
        if prof.homeless:
            programs.append(("191", "1", {"homeless_dwelling_type_code": prof.homeless,
                                          "unaccompanied_youth": "N", "runaway_youth": "N"}))
        if prof.gate:
            programs.append(("127", "1", {}))
        if prof.plan504:
            programs.append(("101", "1", {}))
        if prof.ela == "EL" and prof.reclassify_year is None:
            programs.append(("300", "1", {}))
        for code, membership, extra in programs:
            lines["SPRG"].append(BUILDERS["SPRG"].line({
                **ident, "education_program_code": code, "program_membership_code": membership,
                "program_start_date": d8(max(stint.start, date(start_year, 7, 1))),
                "program_end_date": "" if stint.full_year else d8(stint.exit),
                **extra, "upload_date": uploaded, "last_date_updated": uploaded,
            }))
            owners["SPRG"].append(owner)

    def _courses(
        self, stint: Stint, lea_pos: int, prof: Profile, base: dict[str, str], ayid: str,
        extract_day: date, lines: dict[str, list[str]],
        owners: dict[str, list[tuple[int, str, int]]], owner: tuple[int, str, int],
        sections: dict[tuple[str, str, str], tuple[Course, str]],
    ) -> None:
        rng = self.rng
        courses = list(CORE[stint.grade])
        cte_course: Course | None = None
        pathway = prof.cte_pathway
        if (pathway is not None and not prof.cte_done and stint.grade >= prof.cte_start
                and pathway in pathways_offered(lea_pos)):
            cte_course = pathway.intro if stint.grade == prof.cte_start else pathway.capstone
            courses.append(cte_course)
        elif stint.grade >= 9:
            courses.append(prof.elective)
        school = stint.school.code
        n_sections = 1 + int(stint.lea.weight * 20)
        ident = {
            "reporting_lea": base["reporting_lea"], "school_of_course_delivery": school,
            "academic_year_id": ayid, "ssid": base["ssid"],
            "local_student_id": base["local_student_id"], "first_name": base["first_name"],
            "last_name": base["last_name"], "birth_date": base["birth_date"],
            "gender": base["gender"],
        }
        updated = d8(extract_day - timedelta(days=20))
        cte_grade = ""
        stint_row = BUILDERS["SCSC"].row({
            **ident, "academic_term_code": "FY", "credits_attempted": "10.00",
            "marking_period_code": "FY", "upload_date": updated, "last_date_updated": updated,
        })
        scsc_lines, scsc_owners = lines["SCSC"], owners["SCSC"]
        for course in courses:
            section_id = f"{course.local_id}-{int(rng.random() * n_sections) + 1:02d}"
            key = (school, course.local_id, section_id)
            if key not in sections:
                sections[key] = (course, f"{rng.randrange(10**9, 10**10)}")
            grade = COURSE_GRADES.pick(rng)
            if course is cte_course:
                cte_grade = grade
            row = stint_row.copy()
            row[_SCSC_COURSE] = course.local_id
            row[_SCSC_SECTION] = section_id
            row[_SCSC_EARNED] = "0.00" if grade == "F" else "10.00"
            row[_SCSC_GRADE] = grade
            row[_SCSC_AG] = course.a_g
            scsc_lines.append("^".join(row))
            scsc_owners.append(owner)
        if cte_course is not None and pathway is not None:
            completed = cte_course is pathway.capstone and cte_grade in PASSING_CTE
            if completed:
                prof.cte_done = True
            lines["SCTE"].append(BUILDERS["SCTE"].line({
                "reporting_lea": base["reporting_lea"],
                "school_of_attendance": base["school_of_attendance"],
                "academic_year_id": ayid, "ssid": base["ssid"],
                "local_student_id": base["local_student_id"], "first_name": base["first_name"],
                "last_name": base["last_name"], "birth_date": base["birth_date"],
                "gender": base["gender"], "cte_pathway_code": pathway.code,
                "cte_pathway_completion_year": ayid if completed else "",
                "upload_date": updated, "last_date_updated": updated,
            }))
            owners["SCTE"].append(owner)

    def _crsc(self, lea: Lea, school: str, ayid: str, course: Course, section_id: str,
              seid: str, extract_day: date) -> str:
        cte = bool(course.pathway)
        updated = d8(extract_day - timedelta(days=25))
        return BUILDERS["CRSC"].line({
            "reporting_lea": lea.code, "school_of_course_delivery": school,
            "academic_year_id": ayid, "state_course_code": course.state_code,
            "local_course_id": course.local_id, "course_name": course.name,
            "cte_articulated_indicator": ("Y" if course.state_code.startswith("8") else "N")
            if cte else "",
            "uc_csu_approved_indicator": "Y" if course.a_g else "N",
            "course_section_id": section_id, "academic_term_code": "FY", "seid": seid,
            "local_staff_id": f"T{seid[-5:]}", "independent_study_indicator": "N",
            "distance_learning_indicator": "N",
            "cte_provider_code": "2" if cte else "",
            "high_quality_cte_indicator": ("Y" if cte else ""),
            "upload_date": updated, "last_date_updated": updated,
        })


def write_all(
    writer: CalpadsWriter, stints: Iterable[Stint], progress: Callable[[int], None] | None = None
) -> None:
    """Group stints by (year, LEA) and write every LEA-year's seven files."""
    buckets: dict[tuple[int, int], list[Stint]] = {}
    leas = writer.world.leas
    lea_pos = writer.world.lea_index
    for stint in stints:
        buckets.setdefault((stint.year, lea_pos[stint.lea.code]), []).append(stint)
    for y in range(len(writer.years)):
        for pos in range(len(leas)):
            bucket = buckets.pop((y, pos), [])
            writer.write_lea_year(y, pos, bucket)
            if progress:
                progress(len(bucket))
