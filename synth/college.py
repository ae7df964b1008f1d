"""Community-college files per college and term: students (identity), enrollments, awards.

Who appears: K-12 graduates who go on (fall after graduating), a few non-completers, high-school
students taking a dual-enrollment course, and adults who never attended K-12 here.
"""

from __future__ import annotations

import csv
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from core.partner_formats import COLLEGE_AWARDS, COLLEGE_ENROLLMENTS, COLLEGE_STUDENTS
from synth.blob import Blob
from synth.defects import Defects
from synth.k12 import Stint
from synth.noise import (
    NoiseRates,
    RecordedIdentity,
    record,
    self_reported,
    transpose_digits,
    with_tag,
)
from synth.orgs import College, Lea
from synth.population import Person
from synth.truth import TruthRecorder
from synth.weighted import Weighted
from synth.world import SMALL_WORLD, World

COLLEGE = 1  # index in truth.SOURCE_SYSTEMS

GOING_RATE = 0.55  # graduates who enrol the fall after graduating
NONCOMPLETER_RATE = 0.10  # drop-outs / non-diploma completers who enrol later
DUAL_ENROLLMENT_RATE = 0.06  # grade 11-12 students taking a college course that year
SSN_ID_RATE = 0.55  # student_id is an SSN (status S); else a college id (C)
SSID_POPULATED_RATE = 0.35  # college record carries the K-12 SSID (CCCApply SSID lookup)
CCCID_RATE = 0.9  # college record carries the CCC Apply id
DUPLICATE_CCCID_RATE = 0.05  # a student's record at another college carries a new CCC id
SECOND_COLLEGE_RATE = 0.08  # students who later also enrol at another college
CONTINUE_RATE = 0.8  # chance to enrol again next term
AWARD_RATE = 0.15  # students with three or more terms who earn an award in a spring term
# The high school last attended, as the applicant picks it in CCCApply (its CDS code; the
# application's high-school fields). Self-reported, so: left blank or "not listed", an
# earlier school of a student who moved, now and then another school of the list. No
# published rates: assumptions, and the model learns its own m from the data.
HIGH_SCHOOL_BLANK_RATE = 0.15
HIGH_SCHOOL_EARLIER_RATE = 0.3  # of those who attended more than one high school
HIGH_SCHOOL_WRONG_RATE = 0.02  # another high school of the world
ADULT_HIGH_SCHOOL_RATE = 0.3  # adults (no K-12 record here) naming a school from before

# (course id, TOP code, SAM code, vocational award TOP?)
_COURSES: tuple[tuple[str, str, str], ...] = (
    ("ENGL 101", "150100", "E"), ("MATH 120", "170100", "E"), ("HIST 110", "220500", "E"),
    ("PSYC 101", "200100", "E"), ("BIOL 110", "040100", "E"), ("SPAN 101", "110500", "E"),
    ("NURS 100", "123010", "C"), ("CIS 110", "070200", "C"), ("CS 111", "070700", "C"),
    ("AUTO 101", "094800", "B"), ("ACCT 101", "050200", "C"), ("ADJU 100", "210500", "C"),
    ("CULN 110", "130630", "B"), ("WELD 101", "095650", "A"), ("ECE 101", "130500", "D"),
)
_GRADES = ("A", "B", "C", "D", "F", "W", "P")
_GRADE_PICK = Weighted(_GRADES, (25, 25, 18, 6, 8, 14, 4))
_AWARDS = (("A", 30), ("S", 25), ("B", 15), ("L", 10), ("T", 8), ("F", 4), ("N", 5), ("M", 3))


def term_ids(years: list[int]) -> list[str]:
    """COMIS GI03 term ids (YYT; 7 = fall, 3 = spring) in time order: fall then spring."""
    out = []
    for y in years:
        out.append(f"{y % 100:02d}7")
        out.append(f"{(y + 1) % 100:02d}3")
    return out


def iso(ccyymmdd: str) -> str:
    """Project CSV date form YYYY-MM-DD (empty stays empty)."""
    return f"{ccyymmdd[:4]}-{ccyymmdd[4:6]}-{ccyymmdd[6:]}" if ccyymmdd else ""


@dataclass(slots=True)
class Enrolment:
    """A person's span of terms at one college."""

    person: Person
    college: College
    first_term: int
    last_term: int
    dual: bool


class CollegeWriter:
    def __init__(self, out: Path, years: list[int], seed: int | str, rates: NoiseRates,
                 truth: TruthRecorder, defects: Defects | None = None,
                 world: World = SMALL_WORLD) -> None:
        self.out = out
        self.world = world
        # precomputed: the state world has 116 colleges and 2,400 LEAs
        self.college_weights = list(itertools.accumulate(c.weight for c in world.colleges))
        self.near_leas: dict[str, list[Lea]] = {}
        for lea in world.leas:
            self.near_leas.setdefault(world.nearest_college[lea.code], []).append(lea)
        self.defects = defects
        self.years = years
        self.terms = term_ids(years)
        self.rates = rates
        self.truth = truth
        self.rng = random.Random(f"{seed}:college")
        self.noise_rng = random.Random(f"{seed}:noise:college")
        # the applicant's own typing (CCCApply): a stream of its own, so adding it moved no
        # other generated value
        self.typed_rng = random.Random(f"{seed}:noise:college:self-reported")
        self.files_written = 0
        self.bytes_written = 0
        self.ssn: dict[int, str] = {}
        self.cccid: dict[int, str] = {}
        # (student id, id status, CCC id, SSID, identity, noise code, high school named)
        self.ids: dict[tuple[int, str],
                       tuple[str, str, str, str, RecordedIdentity, int, str]] = {}
        self.counters: dict[str, int] = {}
        self.id_base = 0  # a chunk of a larger run numbers from its own range
        self.blob: Blob | None = None  # a chunk of a larger run writes here (synth.chunks)
        self.zips: dict[int, str] = {}
        # high schools attended (CDS codes, oldest first) of the planned K-12 students; the
        # one a college record names is drawn from its own stream, so no other value moved
        self.high_schools: dict[int, list[str]] = {}
        self.school_rng = random.Random(f"{seed}:noise:college:high-school")
        self.all_high_schools = [lea.cd_code + school.code for lea in world.leas
                                 for school in lea.schools if school.level == "HS"]
        self.lines_in: dict[str, int] = {}  # file -> data lines so far (a chunked run appends)

    def plan(self, k12: list[Person], stints: list[Stint], adults: list[Person]) -> list[Enrolment]:
        """Decide who enrols where and when."""
        rng = self.rng
        n_terms = len(self.terms)
        colleges = self.world.colleges
        nearest = self.world.nearest_college
        default = colleges[0].code
        by_code = {c.code: c for c in colleges}
        last_lea: dict[int, str] = {}
        dual_years: dict[int, list[int]] = {}
        for s in stints:
            last_lea[s.person.index] = s.lea.code
            if s.school.level == "HS":
                attended = self.high_schools.setdefault(s.person.index, [])
                cds = s.lea.cd_code + s.school.code
                if cds in attended:
                    attended.remove(cds)
                attended.append(cds)
            if s.grade >= 11 and s.full_year:
                dual_years.setdefault(s.person.index, []).append(s.year)
        plans: list[Enrolment] = []

        def span(person: Person, college: College, first: int, dual: bool = False) -> None:
            last = first
            while not dual and last + 1 < n_terms and rng.random() < CONTINUE_RATE:
                last += 1
            plans.append(Enrolment(person, college, first, last, dual))
            if not dual and last + 1 < n_terms and rng.random() < SECOND_COLLEGE_RATE:
                other = rng.choice([c for c in colleges if c is not college])
                span(person, other, last + 1)

        for person in k12:
            home = by_code[nearest.get(last_lea.get(person.index, ""), default)]
            for y in dual_years.get(person.index, []):
                if rng.random() < DUAL_ENROLLMENT_RATE:
                    span(person, home, 2 * y + rng.randrange(2), dual=True)
            college = home if rng.random() < 0.8 else rng.choice(colleges)
            if person.graduated_year is not None:
                first = 2 * (person.graduated_year + 1)
                if first < n_terms and rng.random() < GOING_RATE:
                    span(person, college, first)
            elif person.dropped_year is not None:
                first = 2 * person.dropped_year + 1 + rng.randrange(3)
                if first < n_terms and rng.random() < NONCOMPLETER_RATE:
                    span(person, college, first)
        for person in adults:
            college = rng.choices(colleges, cum_weights=self.college_weights)[0]
            span(person, college, rng.randrange(n_terms))
        return plans

    def _student(self, person: Person, college: College) -> tuple[str, str, str, str,
                                                                    RecordedIdentity, int, str]:
        key = (person.index, college.code)
        found = self.ids.get(key)
        if found is not None:
            return found
        rng = self.rng
        if rng.random() < SSN_ID_RATE:
            if person.index not in self.ssn:
                area = rng.randrange(1, 900)
                area = 665 if area == 666 else area
                self.ssn[person.index] = f"{area:03d}{rng.randrange(1, 100):02d}" \
                    f"{rng.randrange(1, 10000):04d}"
            student_id, status = self.ssn[person.index], "S"
        else:
            n = self.counters.get(college.code, 0) + 1
            self.counters[college.code] = n
            n += self.id_base
            student_id, status = f"{college.id_prefix}{n + 1000000 * (person.index % 7):08d}", "C"
        if person.index not in self.cccid or rng.random() < DUPLICATE_CCCID_RATE:
            # a second OpenCCC account (duplicate CCCID) shows up at the next college
            letters = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3))
            self.cccid[person.index] = f"{letters}{rng.randrange(10000):04d}"
        ccc_id = self.cccid[person.index] if rng.random() < CCCID_RATE else ""
        ssid = ""
        if person.ssid and rng.random() < SSID_POPULATED_RATE:
            ssid = person.ssid2 if person.ssid2 and rng.random() < 0.5 else person.ssid
        ident = record(person.truth, self.rates, self.noise_rng, upper=college.upper_case)
        ident = self_reported(person.truth, ident, self.rates, self.typed_rng,
                              upper=college.upper_case)
        noise = ident.noise
        if ssid and self.noise_rng.random() < self.rates.ssid_typo:
            ssid, noise = transpose_digits(ssid, self.noise_rng), with_tag(noise, "ssid_typo")
        high_school, school_tag = self._high_school(person)
        if school_tag:
            noise = with_tag(noise, school_tag)
        found = (student_id, status, ccc_id, ssid, ident, self.truth.noises(noise), high_school)
        self.ids[key] = found
        return found

    def _high_school(self, person: Person) -> tuple[str, str]:
        """The CDS code of the high school a new college record names ("" for none), and its
        noise tag (called once per student and college: :meth:`_student` caches it)."""
        rng = self.school_rng
        attended = self.high_schools.get(person.index)
        school, tag = "", ""
        if not attended:
            if rng.random() < ADULT_HIGH_SCHOOL_RATE and self.all_high_schools:
                school = rng.choice(self.all_high_schools)
        elif rng.random() >= HIGH_SCHOOL_BLANK_RATE:
            school = attended[-1]
            if len(attended) > 1 and rng.random() < HIGH_SCHOOL_EARLIER_RATE:
                school, tag = rng.choice(attended[:-1]), "high_school_earlier"
            elif rng.random() < HIGH_SCHOOL_WRONG_RATE and self.all_high_schools:
                school, tag = rng.choice(self.all_high_schools), "high_school_wrong"
        return school, tag

    def _zip(self, person: Person, college: College) -> str:
        found = self.zips.get(person.index)
        if found is None:
            near = self.near_leas.get(college.code) or list(self.world.leas)
            found = self.zips[person.index] = self.rng.choice(self.rng.choice(near).zip_codes)
        return found

    def write(self, plans: list[Enrolment]) -> None:
        """Write the three files of every college and term (header-only when nobody enrolled)."""
        rng = self.rng
        for college in self.world.colleges:
            folder = self.out / "college" / college.code
            folder.mkdir(parents=True, exist_ok=True)
            mine = [p for p in plans if p.college is college]
            first_term: dict[int, int] = {}
            terms_done: dict[int, int] = {}
            for p in mine:
                first_term[p.person.index] = min(first_term.get(p.person.index, p.first_term),
                                                 p.first_term)
            for t, term in enumerate(self.terms):
                students: list[list[str]] = []
                s_owner: list[tuple[int, str, int]] = []
                enrolls: list[list[str]] = []
                e_owner: list[tuple[int, str, int]] = []
                awards: list[list[str]] = []
                a_owner: list[tuple[int, str, int]] = []
                seen: set[int] = set()
                for p in mine:
                    if not p.first_term <= t <= p.last_term or p.person.index in seen:
                        continue
                    person = p.person
                    seen.add(person.index)
                    student_id, status, ccc_id, ssid, ident, noise, high_school = (
                        self._student(person, college))
                    owner = (person.index, student_id, noise)
                    zip_code = self._zip(person, college)
                    students.append([college.code, student_id, status, ccc_id, ssid,
                                     ident.first, ident.middle, ident.last, iso(ident.birth),
                                     ident.gender, zip_code, self.terms[first_term[person.index]],
                                     high_school])
                    s_owner.append(owner)
                    count = 1 if p.dual else rng.randrange(2, 5)
                    for k in range(count):
                        course_id, top, sam = rng.choice(_COURSES)
                        grade = _GRADE_PICK.pick(rng)
                        units = "0.00" if grade in ("F", "W") else "3.00"
                        enrolls.append([college.code, student_id, term,
                                        f"{(t * 7919 + k * 131 + len(enrolls)) % 90000 + 10000}",
                                        course_id, top, sam, "D" if sam == "E" else "C",
                                        units, grade])
                        e_owner.append(owner)
                    done = terms_done[person.index] = terms_done.get(person.index, 0) + 1
                    if term.endswith("3") and done >= 3 and rng.random() < AWARD_RATE:
                        award = rng.choices([a for a, _ in _AWARDS],
                                            weights=[w for _, w in _AWARDS])[0]
                        _, top, _ = rng.choice([c for c in _COURSES if c[2] != "E"])
                        award_date = f"20{term[:2]}-05-{rng.randrange(15, 29):02d}"
                        awards.append([college.code, student_id, term, top, award, award_date])
                        a_owner.append(owner)
                self._csv(college.code, f"college/{college.code}/college_students_{term}.csv",
                          COLLEGE_STUDENTS.columns, students, s_owner)
                self._csv(college.code,
                          f"college/{college.code}/college_enrollments_{term}.csv",
                          COLLEGE_ENROLLMENTS.columns, enrolls, e_owner)
                self._csv(college.code, f"college/{college.code}/college_awards_{term}.csv",
                          COLLEGE_AWARDS.columns, awards, a_owner)

    def _csv(self, partner: str, rel: str, header: tuple[str, ...], rows: list[list[str]],
             owners: list[tuple[int, str, int]]) -> None:
        tags = None
        if self.defects is not None:
            kind = rel.rsplit("/", 1)[-1].rsplit("_", 1)[0]
            tags = self.defects.college_rows(partner, kind, header, rows)
        before = self.lines_in.get(rel)
        if self.blob is not None:  # a chunk of a larger run: into its one staging file
            self.blob.add_csv(rel, header, rows)
        else:
            self._append(rel, header, rows, before is None)
        self.lines_in[rel] = (before or 0) + len(rows)
        self.truth.add_file(COLLEGE, partner, rel, owners, first_line=2 + (before or 0),
                            defects=tags)

    def _append(self, rel: str, header: tuple[str, ...], rows: list[list[str]],
                new: bool) -> None:
        with (self.out / rel).open("w" if new else "a", encoding="utf-8", newline="") as fh:
            start = fh.tell()
            writer = csv.writer(fh, lineterminator="\n")
            if new:
                writer.writerow(header)
                self.files_written += 1
            writer.writerows(rows)
            self.bytes_written += fh.tell() - start
