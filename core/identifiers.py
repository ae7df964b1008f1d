"""What a direct identifier looks like: one set of rules for every scanner (issue 17).

Two scanners apply these rules: ``deidentify.scan`` on an extract about to be packaged (pyarrow,
on each column's distinct values) and ``analytics.warehouse_checks`` on every table of
``analytics.*`` (DuckDB SQL, counting rows). Before this module each had its own list and they
disagreed (one checked e-mail, phone and address values, the other flagged ``city``, ``tin`` and
``ccc_id``); the lists below are the union of both, so each scanner now flags what either
flagged.

Rules are data: a kind (what the column would leak) and an RE2 pattern. pyarrow
(``match_substring_regex``) and DuckDB (``regexp_matches``) both use RE2 with search
semantics, so one pattern string means the same in both; whole-value rules anchor with
``^...$``. Values are trimmed before matching.

Evidence a scanner can only have where it runs stays there: ``analytics.warehouse_checks`` also
looks up names and ids seen in ``staging.*`` (it has the warehouse); ``deidentify.scan`` also
applies the name-shape heuristic with the lexicon of common names (it sees only the extract).

Findings carry counts, never the values themselves: the values would be the identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import IdentifierFound

# What a finding says the column would leak.
NAME = "name"
DOB = "dob"
SSID = "ssid"
SSN = "ssn"
ADDRESS = "address"
ZIP = "zip"
CONTACT = "contact"
LOCAL_ID = "local_id"
KINDS = (NAME, DOB, SSID, SSN, ADDRESS, ZIP, CONTACT, LOCAL_ID)

# What a finding is based on.
BY_COLUMN_NAME = "column name"
BY_COLUMN_TYPE = "column type"  # a DATE or TIMESTAMP column: a full date, whatever it is
BY_VALUES = "values"
BY_STAGING_VALUES = "staging values"


@dataclass(frozen=True)
class Rule:
    """One pattern. ``numbers``: also applied to integer columns (cast to text)."""

    kind: str
    pattern: str
    numbers: bool = False


# Column names (matched against the lower-cased name, search semantics). First match wins.
COLUMN_NAME_RULES: tuple[Rule, ...] = (
    Rule(NAME, r"name"),  # first_name, LastName, student_name, name, ... and any other *name*
    Rule(DOB, r"(^|_)dob($|_)|birth_?date|date_?of_?birth|birthday"),
    Rule(SSID, r"ssid|state_?student_?id|statewide_?student"),
    Rule(SSN, r"ssn|social_?security|(^|_)tin($|_)"),
    Rule(ADDRESS, r"address|(^|_)addr|street|(^|_)city($|_)|residence"),
    Rule(ZIP, r"zip|postal"),
    Rule(CONTACT, r"phone|e_?mail"),
    Rule(
        LOCAL_ID,
        r"local_?(student_?|record_?)?id|student_?id|ccc_?id|account_?id|seid|staff_?id"
        r"|^person_id$",
    ),
)

# Values (trimmed). Any match flags.
VALUE_RULES: tuple[Rule, ...] = (
    Rule(SSID, r"^\d{10}$", numbers=True),
    Rule(SSN, r"^\d{3}-\d{2}-\d{4}$|^\d{9}$", numbers=True),
    # ISO (with - or /, optionally followed by a time), US m/d/y, CALPADS CCYYMMDD
    Rule(DOB, r"^(19|20)\d\d[-/](0[1-9]|1[0-2])[-/](0[1-9]|[12]\d|3[01])([ T].*)?$"),
    Rule(DOB, r"^(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(\d\d|\d{4})$"),
    Rule(DOB, r"^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$", numbers=True),
    Rule(
        ADDRESS,
        r"(?i)^\d{1,6}\s+([a-z0-9.'-]+\s+){0,4}(st|street|ave|avenue|rd|road|blvd|boulevard|"
        r"dr|drive|ln|lane|way|ct|court|pl|place|ter|terrace|hwy|highway|cir|circle|pkwy|"
        r"parkway)\b",
    ),
    Rule(ADDRESS, r"(?i)\bp\.?\s*o\.?\s*box\s+\d+"),
    Rule(ZIP, r"^\d{5}(-\d{4})?$"),
    Rule(CONTACT, r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    Rule(CONTACT, r"^\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}$"),
)

# analytics.* is keyed by person_id by design (the pseudonymous warehouse key, never released:
# an extract replaces it with a per-request pseudonym, so the extract scanner does flag it),
# and holds birth year and county, the generalised forms of birth date and address.
ANALYTICS_ALLOWED_COLUMNS = frozenset({"person_id", "birth_year", "county_code"})

# Staging columns whose values are looked up in analytics (names shorter than 3 characters
# would flag codes such as "M"; ids shorter than 8 collide with 7-digit LEA / school codes).
STAGING_NAME_COLUMN = r"(first|middle|last)_name$"
STAGING_ID_COLUMN = r"^(ssid|local_student_id|student_id|ccc_id|ccgi_account_id)$"
STAGING_NAME_MIN_LENGTH = 3
STAGING_ID_MIN_LENGTH = 8


def column_name_kind(column: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """The kind a column's name suggests, or None (``allowed`` names never flag)."""
    lowered = column.lower()
    if lowered in allowed:
        return None
    for rule in COLUMN_NAME_RULES:
        if re.search(rule.pattern, lowered):
            return rule.kind
    return None


@dataclass(frozen=True)
class Finding:
    """One suspicious column; counts only, never values.

    ``matches`` counts distinct values (``distinct`` > 0, the extract scanner) or rows
    (``distinct`` == 0, the warehouse scanner); 0 for a column-name or column-type finding.
    """

    column: str
    kind: str
    evidence: str
    matches: int = 0
    distinct: int = 0
    table: str | None = None

    def describe(self) -> str:
        where = f"{self.table}.{self.column}" if self.table else f"column {self.column!r}"
        if self.evidence == BY_COLUMN_NAME:
            return f"{where}: its name suggests {self.kind}"
        if self.evidence == BY_COLUMN_TYPE:
            return f"{where}: a full-date column ({self.kind})"
        if self.evidence == BY_STAGING_VALUES:
            return f"{where}: {self.matches} rows hold a {self.kind} seen in staging"
        if self.distinct:
            return (f"{where}: {self.matches} of {self.distinct} distinct values "
                    f"look like {self.kind}")
        return f"{where}: {self.matches} rows look like {self.kind}"


def require_clean(findings: Sequence[Finding], what: str) -> None:
    """Refuse ``what`` when a scanner found anything (``IdentifierFound``, a service fault)."""
    if findings:
        details = "; ".join(f.describe() for f in findings[:20])
        more = f" (and {len(findings) - 20} more)" if len(findings) > 20 else ""
        raise IdentifierFound(
            f"{what} refused: identifier check failed: {details}{more}", list(findings)
        )
