"""Synthetic partner organisations (fictional names, codes shaped like real ones); partners.csv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from core.swp_rounds import rounds_within


@dataclass(frozen=True)
class School:
    code: str  # 7-digit school code
    name: str
    level: str  # "HS" (grades 9-12) or "MS" (grades 6-8)


@dataclass(frozen=True)
class Lea:
    """A CALPADS reporting LEA (an independently reporting charter: its school code)."""

    code: str
    name: str
    kind: str  # "lea" | "coe"
    charter: bool
    cd_code: str  # county-district code, the first 7 digits of the 14-digit CDS code
    weight: float  # share of students enrolling here
    city: str
    zip_codes: tuple[str, ...]
    schools: tuple[School, ...]

    def schools_for(self, grade: int) -> tuple[School, ...]:
        level = "MS" if grade <= 8 else "HS"
        matching = tuple(s for s in self.schools if s.level == level)
        return matching or self.schools


@dataclass(frozen=True)
class College:
    code: str  # 3-digit COMIS college code
    name: str
    weight: float
    id_prefix: str  # first character of the college-assigned student id
    upper_case: bool  # this college's SIS stores names in capitals


LEAS: tuple[Lea, ...] = (
    Lea("0161119", "Bayview Unified School District", "lea", False, "0161119", 0.30,
        "Bayview", ("94601", "94603", "94605", "94621"),
        (School("0130015", "Bayview High", "HS"), School("0130023", "Eastshore High", "HS"),
         School("0130031", "Harbor Point High", "HS"), School("6002547", "Lakeside Middle", "MS"))),
    Lea("1964212", "Ocean Hills Unified School District", "lea", False, "1964212", 0.25,
        "Ocean Hills", ("90022", "90023", "90040", "90063"),
        (School("1931054", "Ocean Hills High", "HS"),
         School("1937812", "Garfield Heights High", "HS"),
         School("6017842", "Rosewood Middle", "MS"))),
    Lea("3367090", "Riverside Valley Joint Unified School District", "lea", False, "3367090", 0.17,
        "Jurupa Hills", ("92509", "92503", "92505"),
        (School("3330512", "Valley View High", "HS"), School("3336217", "Arroyo Seco High", "HS"),
         School("6033028", "Mission Middle", "MS"))),
    Lea("1062166", "Central Valley Unified School District", "lea", False, "1062166", 0.14,
        "Sanger Flats", ("93657", "93725", "93706"),
        (School("1030407", "Central Valley High", "HS"),
         School("6005226", "Kings River Middle", "MS"))),
    Lea("0134445", "Bayview STEM Academy", "lea", True, "0161119", 0.05,
        "Bayview", ("94601", "94606"),
        (School("0134445", "Bayview STEM Academy", "HS"),)),
    Lea("1975309", "Pacific Crest Charter High", "lea", True, "1964212", 0.06,
        "Ocean Hills", ("90022", "90033"),
        (School("1975309", "Pacific Crest Charter High", "HS"),)),
    Lea("3710371", "Mesa County Office of Education", "coe", False, "3710371", 0.03,
        "Mesa", ("92101", "92113"),
        (School("3730288", "Mesa County Community School", "HS"),)),
)

COLLEGES: tuple[College, ...] = (
    College("021", "Bayview City College", 0.35, "B", False),
    College("231", "East Hills Community College", 0.30, "E", True),
    College("441", "Riverside Valley College", 0.20, "R", False),
    College("571", "Sanger Flats College", 0.15, "S", False),
)

# LEA code -> the nearest college (students mostly go local).
NEAREST_COLLEGE: dict[str, str] = {
    "0161119": "021", "0134445": "021", "1964212": "231", "1975309": "231",
    "3367090": "441", "1062166": "571", "3710371": "441"}

# Partners in the registry that send nothing (agreement not in force): the ingest side uses them
# to test "uploads only under an executed agreement".
_SILENT_PARTNERS: tuple[tuple[str, str, str, str, str, str], ...] = (
    # org_code, name, kind, status, start, end
    ("4369369", "Redwood Grove Union High School District", "lea", "pending", "", ""),
    ("5472462", "Orchard Elementary School District", "lea", "expired", "2018-07-01",
     "2021-06-30"),
    ("951", "Foothill Ridge College", "college", "none", "", ""),
)

PARTNER_COLUMNS: tuple[str, ...] = (
    "org_code", "name", "kind", "charter", "agreement_status", "agreement_start",
    "agreement_end", "liaison_contact", "data_security_contact", "swp_rounds",
    # the data steward(s) the partner's liaison named in its agreement (governance.grants)
    "stewards",
)


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())[:24]


def steward_address(org_code: str) -> str:
    """The data steward a generated partner names in its agreement (one per partner)."""
    return f"data.steward.{org_code.lower()}@partners.example.org"


def partner_rounds(years: list[str] | None) -> tuple[str, str]:
    """Two SWP round lists for the LEAs. With the generated ``years`` given, only rounds whose
    every year was generated, so the submissions report never calls a year overdue that the
    generator never made (no round fits: LEAs are in none)."""
    if years is None:
        return "1;3", "2"
    fitting = rounds_within(years)
    return ";".join(map(str, fitting)), ";".join(map(str, fitting[-1:]))


def write_partners(
    path: Path, leas: tuple[Lea, ...] = LEAS, colleges: tuple[College, ...] = COLLEGES,
    silent: tuple[tuple[str, str, str, str, str, str], ...] = _SILENT_PARTNERS,
    years: list[str] | None = None,
) -> int:
    """Write partners.csv (the registry the governance store imports); returns the row count."""
    rows: list[list[str]] = []
    many, one = partner_rounds(years)
    for i, lea in enumerate(leas):
        rounds = many if i % 2 == 0 else (one if i % 3 else "")
        rows.append([lea.code, lea.name, lea.kind, "true" if lea.charter else "false",
                     "executed", "2021-07-01", "", f"data.liaison@{_slug(lea.name)}.example.org",
                     f"security@{_slug(lea.name)}.example.org", rounds,
                     steward_address(lea.code)])
    for college in colleges:
        rows.append([college.code, college.name, "college", "false", "executed", "2021-07-01",
                     "", f"ir.office@{_slug(college.name)}.example.edu",
                     f"iso@{_slug(college.name)}.example.edu", "", steward_address(college.code)])
    rows.append(["CCGI", "California College Guidance Initiative", "ccgi", "false", "executed",
                 "2021-07-01", "", "data@ccgi.example.org", "security@ccgi.example.org", "",
                 steward_address("CCGI")])
    for code, name, kind, status, start, end in silent:
        rows.append([code, name, kind, "false", status, start, end,
                     f"contact@{_slug(name)}.example.org", "", "", ""])
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(PARTNER_COLUMNS)
        writer.writerows(rows)
    return len(rows)
