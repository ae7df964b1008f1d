"""Last-line check before anything is packaged: no column may look like a direct identifier.

The extract builder only reads catalog variables, so a finding here means a bug or a bad input
table upstream; the extract is refused (``IdentifierFound``, an ``InternalError``) rather than
cleaned. The rules (column names and value patterns) are ``core.identifiers``, shared with the
analytics scanner; this module applies them to an extract's distinct values and adds the
name-shape heuristic, which needs only the values. Evidence:

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
from collections.abc import Mapping
from functools import cache
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

from core.errors import IdentifierFound
from core.identifiers import (
    BY_COLUMN_NAME,
    BY_COLUMN_TYPE,
    BY_VALUES,
    DOB,
    NAME,
    VALUE_RULES,
    Finding,
    column_name_kind,
    require_clean,
)

__all__ = ["Finding", "IdentifierFound", "require_clean", "scan_column", "scan_columns",
           "scan_table"]

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
    values = pc.unique(pc.drop_null(array))  # an Array, also for a ChunkedArray
    return pc.unique(pc.utf8_trim_whitespace(values))


def _count(values: pa.Array, pattern: str) -> int:
    return int(pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0)


def _name_finding(column: str, values: pa.Array) -> Finding | None:
    distinct = len(values)  # never 0: scan_column returns before for an empty column
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
        return Finding(column, NAME, BY_VALUES, max(with_known, len(shaped)), distinct)
    return None


def scan_column(column: str, array: pa.Array | pa.ChunkedArray) -> list[Finding]:
    """Findings for one column (name hints, then value patterns)."""
    findings: list[Finding] = []
    kind = column_name_kind(column)
    if kind is not None:
        findings.append(Finding(column, kind, BY_COLUMN_NAME))
    if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
        distinct = len(pc.unique(pc.drop_null(array)))
        if distinct:
            findings.append(Finding(column, DOB, BY_COLUMN_TYPE, distinct, distinct))
        return findings
    values = _string_values(array)
    if values is None or len(values) == 0:
        return findings
    is_integer = pa.types.is_integer(array.type)
    for rule in VALUE_RULES:
        if is_integer and not rule.numbers:
            continue  # counts and years are integers; only id- and date-shaped ones are suspect
        matches = _count(values, rule.pattern)
        if matches:
            findings.append(Finding(column, rule.kind, BY_VALUES, matches, len(values)))
    if not is_integer:
        name = _name_finding(column, values)
        if name is not None:
            findings.append(name)
    return findings


def scan_columns(columns: Mapping[str, pa.Array | pa.ChunkedArray]) -> list[Finding]:
    """Findings over named columns (each may already be its distinct values)."""
    return [finding for name, array in columns.items() for finding in scan_column(name, array)]


def scan_table(table: pa.Table) -> list[Finding]:
    """Every finding in ``table``; an empty list means it may be packaged."""
    return scan_columns({name: table.column(name) for name in table.column_names})
