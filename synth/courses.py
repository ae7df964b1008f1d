"""Course catalogue for CRSC/SCSC and CTE pathways for SCTE (synthetic, shaped like CALPADS)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Course:
    state_code: str  # 4-digit CALPADS state course code (7000/8000 series = CTE)
    local_id: str
    name: str
    a_g: str  # UC/CSU a-g subject letter, "" when not a-g
    pathway: str = ""  # CTE pathway code for CTE courses


# Core courses by grade: English, mathematics, science, history/social science.
CORE: dict[int, tuple[Course, ...]] = {
    7: (Course("2100", "MSELA7", "English Language Arts 7", ""),
        Course("2400", "MSMATH7", "Mathematics 7", ""),
        Course("2600", "MSSCI7", "Science 7", ""),
        Course("2800", "MSHIST7", "World History 7", "")),
    8: (Course("2101", "MSELA8", "English Language Arts 8", ""),
        Course("2401", "MSMATH8", "Mathematics 8", ""),
        Course("2601", "MSSCI8", "Science 8", ""),
        Course("2801", "MSHIST8", "US History 8", "")),
    9: (Course("2131", "ENG9", "English 9", "B"), Course("2403", "ALG1", "Algebra I", "C"),
        Course("2625", "BIO", "Biology", "D"), Course("2802", "WGEO", "World Geography", "G")),
    10: (Course("2132", "ENG10", "English 10", "B"), Course("2413", "GEOM", "Geometry", "C"),
         Course("2626", "CHEM", "Chemistry", "D"), Course("2804", "WHIST", "World History", "A")),
    11: (Course("2133", "ENG11", "American Literature", "B"),
         Course("2404", "ALG2", "Algebra II", "C"), Course("2627", "PHYS", "Physics", "D"),
         Course("2807", "USHIST", "United States History", "A")),
    12: (Course("2134", "ENG12", "Expository Reading and Writing", "B"),
         Course("2414", "PRECALC", "Precalculus", "C"),
         Course("2628", "ENVSCI", "Environmental Science", "D"),
         Course("2811", "GOVECON", "American Government and Economics", "A")),
}

ELECTIVES: tuple[Course, ...] = (
    Course("2110", "SPAN1", "Spanish 1", "E"), Course("2111", "SPAN2", "Spanish 2", "E"),
    Course("2901", "PE", "Physical Education", ""), Course("1020", "ART1", "Visual Art", "F"),
    Course("2120", "ELD", "English Language Development", ""),
    Course("1050", "MUSIC", "Instrumental Music", "F"),
)


@dataclass(frozen=True)
class Pathway:
    code: str  # CALPADS CTE pathway code (SCTE 11.13)
    intro: Course  # 7000-series introductory / concentrator course
    capstone: Course  # 8000-series capstone course


def _pw(code: str, intro: tuple[str, str, str], capstone: tuple[str, str, str]) -> Pathway:
    return Pathway(code, Course(*intro, "G", pathway=code), Course(*capstone, "G", pathway=code))


PATHWAYS: tuple[Pathway, ...] = (
    _pw("197", ("7400", "HLTINTRO", "Introduction to Health Science"),
        ("8400", "HLTCAP", "Patient Care Capstone")),
    _pw("175", ("7220", "CSINTRO", "Computer Science Essentials"),
        ("8220", "CSCAP", "Software Development Capstone")),
    _pw("112", ("7120", "DESIGN1", "Design, Visual and Media Arts"),
        ("8120", "DESIGNCAP", "Digital Media Production")),
    _pw("221", ("7600", "AUTO1", "Automotive Technology I"),
        ("8600", "AUTOCAP", "Automotive Service Capstone")),
    _pw("160", ("7300", "CULIN1", "Culinary Arts I"),
        ("8300", "CULINCAP", "Food Service and Hospitality")),
    _pw("152", ("7500", "ENGR1", "Introduction to Engineering Design"),
        ("8500", "ENGRCAP", "Engineering Design and Development")),
    _pw("231", ("7700", "PUBSAF1", "Public Safety I"),
        ("8700", "PUBSAFCAP", "Emergency Response Capstone")),
    _pw("101", ("7010", "AGSCI", "Agriscience"),
        ("8010", "AGCAP", "Agricultural Biology Capstone")),
)


@cache  # asked for every stint: the answer depends on the LEA's position alone
def pathways_offered(lea_position: int) -> tuple[Pathway, ...]:
    """Each LEA offers five of the eight pathways (a fixed, LEA-specific subset)."""
    return tuple(PATHWAYS[(lea_position * 3 + k) % len(PATHWAYS)] for k in range(5))


GRADES = ("A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D", "F")
GRADE_WEIGHTS = (12, 8, 9, 12, 9, 9, 12, 8, 9, 6)
PASSING_CTE = frozenset({"A", "A-", "B+", "B", "B-", "C+", "C", "C-"})
