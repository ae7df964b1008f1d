"""Last-line check before anything is packaged: no column may look like a direct identifier.

The extract builder only reads catalog variables, so a finding here means a bug or a bad input
table upstream; the extract is refused (``IdentifierFound``, an ``InternalError``) rather than
cleaned. Two kinds of evidence:

- column names that name an identifier (``first_name``, ``dob``, ``ssid``, ``address``, ...);
- values: SSIDs (10 digits), SSNs, full dates (ISO, US, CALPADS ``CCYYMMDD``), street
  addresses and PO boxes, ZIP codes, e-mail addresses, phone numbers, and personal names
  (a column whose distinct values are mostly name-shaped and often hold known given names or
  surnames).

Value checks run on the *distinct* values of a column (vectorised with pyarrow's RE2 regexes).
Findings carry counts, never the values themselves: the values would be the identifiers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InternalError

# Column names that name a direct identifier (matched on the lower-cased name).
_NAME_HINTS: tuple[tuple[str, str], ...] = (
    (
        "name",
        r"(^|_)(first|last|middle|given|family|sur|full|student|legal|preferred)_?names?($|_)",
    ),
    ("name", r"^(name|names)$"),
    ("dob", r"(^|_)(dob|birth_?date|date_?of_?birth|birthday)($|_)"),
    ("ssid", r"(^|_)(ssid|statewide_student_id)($|_)"),
    ("ssn", r"(^|_)(ssn|social_security)"),
    ("address", r"(^|_)(address|addr|street|zip|zipcode|zip_code|postal)"),
    ("contact", r"(^|_)(phone|email|e_mail)($|_)"),
    ("local_id", r"(^|_)local_(student_)?id($|_)|^(student|person)_id$"),
)

# Value patterns (RE2 syntax, applied to the whole value after trimming). Any match flags.
_VALUE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("ssid", r"^\d{10}$"),
    ("ssn", r"^\d{3}-\d{2}-\d{4}$|^\d{9}$"),
    ("dob", r"^(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([ T].*)?$"),
    ("dob", r"^(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(\d\d|\d{4})$"),
    ("dob", r"^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$"),
    (
        "address",
        r"(?i)^\d{1,6}\s+([a-z0-9.'-]+\s+){0,4}(st|street|ave|avenue|rd|road|blvd|boulevard|"
        r"dr|drive|ln|lane|way|ct|court|pl|place|ter|terrace|hwy|highway|cir|circle|pkwy|"
        r"parkway)\b",
    ),
    ("address", r"(?i)\bp\.?\s*o\.?\s*box\s+\d+"),
    ("zip", r"^\d{5}(-\d{4})?$"),
    ("contact", r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    ("contact", r"^\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}$"),
)

# One to four alphabetic tokens ("Maria", "GARCIA, MARIA", "Mary Ann O'Neil").
_NAME_SHAPE = r"^[A-Za-z][A-Za-z'.-]{1,24}(,?\s[A-Za-z][A-Za-z'.-]{0,24}){0,3}$"
_NAME_SHAPED_SHARE = 0.5  # of distinct values
_KNOWN_NAME_SHARE = 0.1  # of distinct values hold a known given name or surname ...
_KNOWN_NAME_MIN = 3  # ... and at least this many of them
_MANY_DISTINCT = 200  # or: this many distinct name-shaped values is free text about people

# Common given names and surnames of a California school population that the English
# nickname list misses (the list is only a lexicon for the heuristic; no person is described).
_EXTRA_NAMES = """
jose juan luis carlos jesus miguel alejandro angel diego adrian francisco eduardo fernando
javier ricardo sergio oscar alonso mateo santiago emiliano guadalupe lupita ana sofia camila
valeria ximena fernanda daniela gabriela mariana alejandra andrea adriana veronica yesenia
rosa carmen elena lucia isabella leticia marisol araceli itzel jimena nayeli yaretzi
minh anh thanh linh huong tuan hung duc quang trang mai lan ngoc bao khanh phuong
wei jing li ming hui yan xin yu jun hao jie lei fang ying mei ling
ji-hoon min-jun seo-yeon ji-woo hye-jin sung jae
aram narek gor tigran ani anush lilit mane hayk davit
arjun priya rohan ananya aditya kavya vikram deepa rahul neha ravi sanjay
mohammed muhammad ahmed ali omar fatima aisha yusuf hassan
garcia rodriguez martinez hernandez lopez gonzalez perez sanchez ramirez torres flores
rivera gomez diaz reyes morales cruz ortiz gutierrez chavez ramos ruiz alvarez mendoza
castillo jimenez vasquez romero herrera medina aguilar vargas guzman castro
nguyen tran le pham huynh hoang phan vu vo dang bui do ho ngo duong ly
wang zhang liu chen yang huang zhao wu zhou xu sun zhu hu guo lin
kim lee park choi jung kang cho yoon jang lim
sargsyan petrosyan hakobyan harutyunyan grigoryan khachatryan
patel singh shah kumar sharma gupta reddy
smith johnson williams brown jones miller davis wilson anderson thomas taylor moore
jackson martin thompson harris clark lewis robinson walker young allen king wright
scott green baker adams nelson hill campbell mitchell roberts carter phillips evans turner
"""


class IdentifierFound(InternalError):
    """An extract about to be packaged holds something that looks like a direct identifier."""

    code = "identifier_found"


@dataclass(frozen=True)
class Finding:
    """One suspicious column; counts only, never values."""

    column: str
    kind: str  # name, ssid, ssn, dob, address, zip, contact, local_id
    evidence: str  # "column name" or "values"
    matches: int  # distinct values matching (0 for a column-name finding)
    distinct: int  # distinct non-null values scanned

    def describe(self) -> str:
        if self.evidence == "column name":
            return f"column {self.column!r}: its name suggests {self.kind}"
        return (
            f"column {self.column!r}: {self.matches} of {self.distinct} distinct values "
            f"look like {self.kind}"
        )


@cache
def _known_names() -> frozenset[str]:
    """Given names from the ``nicknames`` package's list, plus the extra names above."""
    names: set[str] = set(_EXTRA_NAMES.split())
    text = resources.files("nicknames").joinpath("names.csv").read_text(encoding="utf-8")
    for row in csv.reader(text.splitlines()[1:]):
        for cell in (row[0], row[-1]) if row else ():
            names.add(cell.strip().lower())
    return frozenset(n for n in names if len(n) >= 2)


def _string_values(array: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """Distinct, non-null, trimmed values as strings; None for types that cannot hold text ids."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_integer(kind):
        array = pc.cast(array, pa.string())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    values = pc.unique(pc.drop_null(array))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.unique(pc.utf8_trim_whitespace(values))


def _count(values: pa.Array, pattern: str) -> int:
    return int(pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0)


def _name_finding(column: str, values: pa.Array) -> Finding | None:
    distinct = len(values)
    if distinct == 0:
        return None
    shaped = values.filter(pc.match_substring_regex(values, _NAME_SHAPE))
    if len(shaped) < _NAME_SHAPED_SHARE * distinct:
        return None
    known = _known_names()
    tokens_per_value = pc.split_pattern_regex(pc.utf8_lower(shaped), r"[\s,]+")
    with_known = sum(
        1 for tokens in tokens_per_value.to_pylist() if any(t in known for t in tokens or ())
    )
    if (with_known >= _KNOWN_NAME_MIN and with_known >= _KNOWN_NAME_SHARE * distinct) or len(
        shaped
    ) >= _MANY_DISTINCT:
        return Finding(column, "name", "values", max(with_known, len(shaped)), distinct)
    return None


def scan_column(column: str, array: pa.Array | pa.ChunkedArray) -> list[Finding]:
    """Findings for one column (name hints, then value patterns)."""
    findings: list[Finding] = []
    lowered = column.lower()
    for kind, pattern in _NAME_HINTS:
        if re.search(pattern, lowered):
            findings.append(Finding(column, kind, "column name", 0, 0))
            break
    if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
        distinct = len(pc.unique(pc.drop_null(array)))
        if distinct:
            findings.append(Finding(column, "dob", "values", distinct, distinct))
        return findings
    values = _string_values(array)
    if values is None or len(values) == 0:
        return findings
    is_integer = pa.types.is_integer(array.type)
    for kind, pattern in _VALUE_PATTERNS:
        if is_integer and kind not in ("ssid", "ssn"):
            continue  # counts and years are integers; only id-length integers are suspect
        matches = _count(values, pattern)
        if is_integer and matches < 0.9 * len(values):
            continue  # a few 9/10-digit totals in a column of numbers are not ids
        if matches:
            findings.append(Finding(column, kind, "values", matches, len(values)))
    if not is_integer:
        name = _name_finding(column, values)
        if name is not None:
            findings.append(name)
    return findings


def scan_columns(
    columns: Mapping[str, pa.Array | pa.ChunkedArray], *, skip: Iterable[str] = ()
) -> list[Finding]:
    """Findings over named columns (each may already be its distinct values)."""
    skipped = set(skip)
    findings: list[Finding] = []
    for name, array in columns.items():
        if name not in skipped:
            findings.extend(scan_column(name, array))
    return findings


def scan_table(table: pa.Table, *, skip: Iterable[str] = ()) -> list[Finding]:
    """Every finding in ``table``; an empty list means it may be packaged."""
    return scan_columns(
        {name: table.column(name) for name in table.column_names}, skip=skip
    )


def require_clean(findings: list[Finding], what: str) -> None:
    """Refuse to package ``what`` when the scanner found anything."""
    if findings:
        details = "; ".join(f.describe() for f in findings)
        raise IdentifierFound(f"{what} refused: possible direct identifiers: {details}")
