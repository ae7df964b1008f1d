"""Checks that analytics holds no identifiers and that published cells are suppressed.

The same functions back the unit tests and the Dagster asset checks. Findings never carry
the offending value itself (it may be an identifier); they name table, column, rule and count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from analytics.metrics import CATEGORY_VALUES
from core import tables

ALLOWED_COLUMNS = frozenset({"person_id", "birth_year", "county_code"})

# Column-name rules: (rule, regex on the lower-case column name).
NAME_RULES: tuple[tuple[str, str], ...] = (
    ("name", r"name"),
    ("birth_date", r"(^|_)dob($|_)|birth_?date|date_?of_?birth|birthday"),
    ("ssid", r"ssid|state_?student_?id|statewide_?student"),
    ("ssn", r"ssn|social_?security|(^|_)tin($|_)"),
    ("address", r"address|street|(^|_)city($|_)|residence"),
    ("zip", r"zip|postal"),
    ("contact", r"phone|e_?mail"),
    ("local_id", r"local_?(student_?|record_?)?id|student_?id|ccc_?id|account_?id|seid|staff_?id"),
)

# Value rules: (rule, DuckDB regular expression matched against the whole trimmed value).
VALUE_RULES: tuple[tuple[str, str], ...] = (
    ("ssid_like", r"\d{10}"),
    ("ssn_like", r"\d{3}-\d{2}-\d{4}|\d{9}"),
    ("date_ccyymmdd", r"(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"),
    ("date_iso", r"(19|20)\d\d[-/](0[1-9]|1[0-2])[-/](0[1-9]|[12]\d|3[01]).*"),
)
TEXT_TYPES = ("VARCHAR",)
NUMBER_TYPES = ("BIGINT", "HUGEINT", "INTEGER", "UBIGINT", "UINTEGER", "DECIMAL")
DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS")
NAME_MIN_LENGTH = 3  # shorter staging names ("Al", "Bo") would flag codes such as "M"
ID_MIN_LENGTH = 8  # shorter local ids collide with 7-digit LEA / school codes


@dataclass(frozen=True)
class Finding:
    table: str
    column: str
    rule: str
    rows: int  # rows affected (0 for a column-name finding)

    def describe(self) -> str:
        where = f"{self.table}.{self.column}"
        return f"{where}: {self.rule}" + (f" in {self.rows} rows" if self.rows else "")


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _columns(con: duckdb.DuckDBPyConnection, schema: str) -> list[tuple[str, str, str]]:
    return [
        (str(t), str(c), str(d).upper())
        for t, c, d in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? ORDER BY table_name, ordinal_position",
            [schema],
        ).fetchall()
    ]


def _build_staging_values(con: duckdb.DuckDBPyConnection) -> bool:
    """Temp table of person names and long ids seen in staging (upper case); False if none."""
    parts: list[str] = []
    for table, column, dtype in _columns(con, tables.STAGING):
        if not dtype.startswith("VARCHAR"):
            continue
        col = column.lower()
        if re.search(r"(first|middle|last)_name$", col):
            kind, min_len = "staging_name", NAME_MIN_LENGTH
        elif re.search(r"^(ssid|local_student_id|student_id|ccc_id|ccgi_account_id)$", col):
            kind, min_len = "staging_id", ID_MIN_LENGTH
        else:
            continue
        parts.append(
            f"SELECT DISTINCT upper(trim({column})) AS value, '{kind}' AS kind "
            f"FROM {tables.STAGING}.{table} WHERE length(trim({column})) >= {min_len}"
        )
    if not parts:
        return False
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _staging_identifier_values AS "
        + " UNION ".join(parts)
    )
    return True


def scan_for_identifiers(
    con: duckdb.DuckDBPyConnection, schema: str = tables.ANALYTICS
) -> list[Finding]:
    """Every column of ``schema``: identifier-like names, value patterns, staging names/ids."""
    findings: list[Finding] = []
    have_staging = _build_staging_values(con)
    categories = ", ".join(f"'{v}'" for v in sorted(CATEGORY_VALUES))
    for table, column, dtype in _columns(con, schema):
        qualified = f'{schema}."{table}"'
        col = column.lower()
        if col not in ALLOWED_COLUMNS:
            for rule, pattern in NAME_RULES:
                if re.search(pattern, col):
                    findings.append(Finding(f"{schema}.{table}", column, f"column_{rule}", 0))
                    break
        base = dtype.split("(")[0]
        if base in DATE_TYPES:
            findings.append(Finding(f"{schema}.{table}", column, "full_date_column", 0))
            continue
        if base not in TEXT_TYPES and base not in NUMBER_TYPES:
            continue
        text = f'trim(CAST("{column}" AS VARCHAR))'
        checks = [
            (rule, f"count(*) FILTER (WHERE regexp_full_match({text}, '{pattern}'))")
            for rule, pattern in VALUE_RULES
        ]
        if have_staging and base in TEXT_TYPES:
            for kind in ("staging_name", "staging_id"):
                checks.append((
                    f"value_{kind}",
                    f"count(*) FILTER (WHERE upper({text}) NOT IN ({categories}) AND upper("
                    f"{text}) IN (SELECT value FROM _staging_identifier_values "
                    f"WHERE kind = '{kind}'))",
                ))
        row = con.execute(
            f"SELECT {', '.join(sql for _, sql in checks)} FROM {qualified}"
        ).fetchone()
        for (rule, _), count in zip(checks, row or (), strict=False):
            if count:
                findings.append(Finding(f"{schema}.{table}", column, rule, int(count)))
    return findings


def no_identifiers(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """Dagster asset check: ``analytics.*`` holds no identifier."""
    findings = scan_for_identifiers(con, tables.ANALYTICS)
    return CheckResult(
        passed=not findings,
        description="no names, birth dates, SSIDs, SSNs, addresses or local ids in analytics",
        metadata={"findings": [f.describe() for f in findings], "count": len(findings)},
    )


def suppression_applied(serving_path: Path) -> CheckResult:
    """Dagster asset check on the serving snapshot: every row obeys the disclosure standard.

    The whole table is audited in SQL (``analytics.disclosure.audit_snapshot``), not a
    sample: a statewide snapshot of millions of rows takes seconds.
    """
    from analytics.disclosure import audit_snapshot  # local: avoids an import cycle

    con = duckdb.connect(str(serving_path), read_only=True)
    try:
        info = con.execute("SELECT min_cell FROM snapshot_info").fetchone()
        min_cell = int(info[0]) if info else 11
        found = audit_snapshot(con, "published_aggregates", min_cell)
        rows = con.execute("SELECT count(*) FROM published_aggregates").fetchone()
    finally:
        con.close()
    bad = sum(found.values())
    return CheckResult(
        passed=bad == 0,
        description=f"every shown count is at least {min_cell} and cell-key rounded to a "
        "multiple of 5, every hidden count is NULL with a public reason, and each "
        "denominator is one number across the metrics of its population",
        metadata={"bad_rows": bad, **found, "rows": int(rows[0]) if rows else 0},
    )
