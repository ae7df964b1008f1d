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
from core.gate import shown_floor
from core.identifiers import (
    ANALYTICS_ALLOWED_COLUMNS,
    BY_COLUMN_NAME,
    BY_COLUMN_TYPE,
    BY_STAGING_VALUES,
    BY_VALUES,
    DOB,
    LOCAL_ID,
    NAME,
    STAGING_ID_COLUMN,
    STAGING_ID_MIN_LENGTH,
    STAGING_NAME_COLUMN,
    STAGING_NAME_MIN_LENGTH,
    VALUE_RULES,
    Finding,
    column_name_kind,
)
from core.protection import MIN_CELL, ROUNDING_BASE

__all__ = ["CheckResult", "Finding", "no_identifiers", "scan_for_identifiers",
           "suppression_applied"]

TEXT_TYPES = ("VARCHAR",)
NUMBER_TYPES = ("BIGINT", "HUGEINT", "INTEGER", "UBIGINT", "UINTEGER", "DECIMAL")
DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS")


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
            "WHERE table_schema = ? AND table_catalog = current_database() "
            "ORDER BY table_name, ordinal_position",
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
        if re.search(STAGING_NAME_COLUMN, col):
            kind, min_len = NAME, STAGING_NAME_MIN_LENGTH
        elif re.search(STAGING_ID_COLUMN, col):
            kind, min_len = LOCAL_ID, STAGING_ID_MIN_LENGTH
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


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan_for_identifiers(
    con: duckdb.DuckDBPyConnection, schema: str = tables.ANALYTICS
) -> list[Finding]:
    """Every column of ``schema``: the shared rules of ``core.identifiers`` on column names and
    values, plus names and ids seen in staging. Counts rows; never returns a value."""
    findings: list[Finding] = []
    have_staging = _build_staging_values(con)
    categories = ", ".join(f"'{v}'" for v in sorted(CATEGORY_VALUES))
    for table, column, dtype in _columns(con, schema):
        qualified = f'{schema}."{table}"'
        where = f"{schema}.{table}"
        kind = column_name_kind(column, ANALYTICS_ALLOWED_COLUMNS)
        if kind is not None:
            findings.append(Finding(column, kind, BY_COLUMN_NAME, table=where))
        base = dtype.split("(")[0]
        if base in DATE_TYPES:
            findings.append(Finding(column, DOB, BY_COLUMN_TYPE, table=where))
            continue
        if base not in TEXT_TYPES and base not in NUMBER_TYPES:
            continue
        text = f'trim(CAST("{column}" AS VARCHAR))'
        checks = [
            ((rule.kind, BY_VALUES),
             f"count(*) FILTER (WHERE regexp_matches({text}, {_sql_literal(rule.pattern)}))")
            for rule in VALUE_RULES
            if base in TEXT_TYPES or rule.numbers
        ]
        if have_staging and base in TEXT_TYPES:
            for staged in (NAME, LOCAL_ID):
                checks.append((
                    (staged, BY_STAGING_VALUES),
                    f"count(*) FILTER (WHERE upper({text}) NOT IN ({categories}) AND upper("
                    f"{text}) IN (SELECT value FROM _staging_identifier_values "
                    f"WHERE kind = '{staged}'))",
                ))
        row = con.execute(
            f"SELECT {', '.join(sql for _, sql in checks)} FROM {qualified}"
        ).fetchone()
        for ((rule_kind, evidence), _), count in zip(checks, row or (), strict=False):
            if count:
                findings.append(Finding(column, rule_kind, evidence, int(count), table=where))
    return findings


def no_identifiers(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """Dagster asset check: ``analytics.*`` holds no identifier."""
    findings = scan_for_identifiers(con, tables.ANALYTICS)
    return CheckResult(
        passed=not findings,
        description="no names, birth dates, SSIDs, SSNs, addresses or local ids in analytics",
        metadata={"findings": [f.describe() for f in findings], "count": len(findings)},
    )


def audit_quality(con: duckdb.DuckDBPyConnection, min_cell: int) -> int:
    """Rows of the snapshot's ``linkage_quality`` that break the standard: a shown count of
    pairs below the floor or not a multiple of 5, or a figure on a suppressed domain (0 for a
    snapshot without the table)."""
    try:
        row = con.execute(f"""SELECT count(*) FROM linkage_quality WHERE
            (linked_pairs IS NOT NULL AND (linked_pairs % {ROUNDING_BASE} <> 0
                                           OR linked_pairs < {shown_floor(min_cell)}))
            OR (reviewed_pairs IS NOT NULL AND (reviewed_pairs % {ROUNDING_BASE} <> 0
                                                OR reviewed_pairs < {shown_floor(min_cell)}))
            OR (suppressed AND (linked_pairs IS NOT NULL OR precision IS NOT NULL
                                OR recall IS NOT NULL))""").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row else 0


def suppression_applied(serving_path: Path) -> CheckResult:
    """Dagster asset check on the serving snapshot: every row obeys the disclosure standard.

    The whole table is audited in SQL (``analytics.disclosure.audit_snapshot``), not a
    sample: a statewide snapshot of millions of rows takes seconds.
    """
    from analytics.disclosure import audit_snapshot  # local: avoids an import cycle

    con = duckdb.connect(str(serving_path), read_only=True)
    try:
        info = con.execute("SELECT min_cell FROM snapshot_info").fetchone()
        # a snapshot without its info row is checked against the policy's threshold
        min_cell = int(info[0]) if info else MIN_CELL
        found = audit_snapshot(con, "published_aggregates", min_cell)
        found["linkage_quality_bad"] = audit_quality(con, min_cell)
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
