"""What a file is, from its name and folder: source system, kind, period, partner, split part.

Naming conventions (docs/ingest.md):
- CALPADS: ``SENR 2022-23.txt`` or ``2022-23 SENR.txt`` (space, underscore or hyphen between).
- College: ``college_students_<term>.csv``, ``college_enrollments_<term>.csv``,
  ``college_awards_<term>.csv``; CCGI: ``ccgi_activity_<date>.csv``.
- A 7-digit folder in the path names the LEA (``calpads/0112345/2022-23/SENR 2022-23.txt``),
  a 3-digit folder the college (``college/111/college_students_231.csv``).
- Split parts: ``<name>.part<N>of<M><ext>``, e.g. ``SENR 2022-23.part1of3.txt``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from core.calpads import FILE_TYPES, academic_year_id
from core.partner_formats import CSV_FORMATS

_TYPES = "|".join(FILE_TYPES)
_YEAR = r"(?P<{}>\d{{4}}-\d{{2}})"
_SEP = r"[ _-]+"
CALPADS_NAME = re.compile(
    rf"^(?:(?P<t1>{_TYPES}){_SEP}{_YEAR.format('y1')}|{_YEAR.format('y2')}{_SEP}(?P<t2>{_TYPES}))"
    r"\.(?:txt|dat|csv)$",
    re.IGNORECASE,
)
CSV_NAME = re.compile(
    r"^(?P<kind>" + "|".join(CSV_FORMATS) + r")_(?P<period>[A-Za-z0-9-]+)\.csv$", re.IGNORECASE
)
PART_NAME = re.compile(r"^(?P<base>.+)\.part(?P<n>\d+)of(?P<m>\d+)(?P<ext>\.[A-Za-z0-9]+)?$",
                       re.IGNORECASE)
LEA_FOLDER = re.compile(r"^\d{7}$")
COLLEGE_FOLDER = re.compile(r"^\d{3}$")


@dataclass(frozen=True)
class NameInfo:
    """What the name and folders say. ``None`` where they say nothing."""

    source_system: str | None  # calpads | college | ccgi
    kind: str | None  # SENR..SPRG, or a core.partner_formats kind
    period: str | None  # CALPADS short year 2022-23, college term, CCGI date
    partner_org: str | None


@dataclass(frozen=True)
class PartInfo:
    logical_name: str
    number: int
    total: int


def parse_part(name: str) -> PartInfo | None:
    match = PART_NAME.match(name)
    if not match:
        return None
    return PartInfo(match["base"] + (match["ext"] or ""), int(match["n"]), int(match["m"]))


def year_is_consistent(short: str) -> bool:
    """``2022-23`` must name consecutive years."""
    return (int(short[:4]) + 1) % 100 == int(short[-2:])


def identify_name(path: str) -> NameInfo:
    """Read the file name and its folders (``path`` may be relative; only its parts are used)."""
    pure = PurePath(path.replace("\\", "/"))
    name = pure.name
    folders = pure.parts[:-1]
    match = CALPADS_NAME.match(name)
    if match:
        kind = (match["t1"] or match["t2"]).upper()
        year = match["y1"] or match["y2"]
        lea = next((p for p in reversed(folders) if LEA_FOLDER.match(p)), None)
        return NameInfo("calpads", kind, year, lea)
    match = CSV_NAME.match(name)
    if match:
        kind = match["kind"].lower()
        fmt = CSV_FORMATS[kind]
        if fmt.source_system == "ccgi":
            return NameInfo("ccgi", kind, match["period"], "CCGI")
        college = next((p for p in reversed(folders) if COLLEGE_FOLDER.match(p)), None)
        return NameInfo(fmt.source_system, kind, match["period"], college)
    lea = next((p for p in reversed(folders) if LEA_FOLDER.match(p)), None)
    return NameInfo(None, None, None, lea)


def short_to_year_id(short: str) -> str:
    return academic_year_id(short)
