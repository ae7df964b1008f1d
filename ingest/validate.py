"""Validation rules as SQL over a loaded (all-VARCHAR) table: one scan, no Python loop per row.

Each :class:`Rule` is a SQL condition that is TRUE on a row that breaks it. ``find_errors``
runs all rules in one query and returns the first ``limit`` errors (by line) and the total.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from core.calpads import CODE_SETS, FieldSpec
from ingest.models import FileError

MAX_STORED_ERRORS = 1000
DATE_FORMATS_CSV = ("%Y-%m-%d", "%Y%m%d")
ODS_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y")


def q(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def in_list(values: frozenset[str]) -> str:
    return ", ".join(q(v) for v in sorted(values))


def not_one_of(column: str, values: frozenset[str]) -> str:
    """SQL TRUE when ``column`` (not NULL) is none of ``values``.

    ``list_contains`` rather than ``NOT IN (...)``: DuckDB rewrites an IN list of five or more
    constants into a join, and a join in the fast path's insert makes DuckDB drop insertion
    order, which its line numbering relies on (``ingest.load_sql``).
    """
    return f"({column} IS NOT NULL AND NOT list_contains([{in_list(values)}], {column}))"


@dataclass(frozen=True)
class Rule:
    field: str
    condition: str  # SQL, TRUE when the row breaks the rule
    rule: str
    message: str
    # SQL for the message when it names what the row holds: only for organisation codes
    # (never a student's value), e.g. which LEA a record names that the sender is not.
    message_sql: str | None = None


def date_rule(column: str, rule: str = "date_ccyymmdd") -> Rule:
    return Rule(
        column,
        f"({column} IS NOT NULL AND (NOT regexp_full_match({column}, '[0-9]{{8}}') "
        f"OR try_strptime({column}, '%Y%m%d') IS NULL))",
        rule,
        "not a valid date in CCYYMMDD form",
    )


def field_rules(spec: FieldSpec) -> list[Rule]:
    """Rules a CALPADS field spec implies (required, id shape, length, date, code set, flag)."""
    c = spec.name
    rules: list[Rule] = []
    if spec.required:
        rules.append(Rule(c, f"({c} IS NULL)", "required", "required field is empty"))
    if spec.kind == "id" and spec.length:
        rules.append(Rule(
            c, f"({c} IS NOT NULL AND NOT regexp_full_match({c}, '[0-9]{{{spec.length}}}'))",
            f"id_{spec.length}_digits",
            f"must be exactly {spec.length} digits (keep leading zeros)",
        ))
    if spec.max_length:
        rules.append(Rule(
            c, f"(length({c}) > {spec.max_length})", f"max_length_{spec.max_length}",
            f"longer than {spec.max_length} characters",
        ))
    if spec.kind == "date":
        rules.append(date_rule(c))
    if spec.kind == "flag":
        rules.append(Rule(c, not_one_of(c, frozenset({"Y", "N"})), "flag_y_n",
                          "must be Y, N or empty"))
    if spec.code_set == "academic_year":
        rules.append(Rule(
            c,
            f"({c} IS NOT NULL AND (NOT regexp_full_match({c}, '[0-9]{{4}}-[0-9]{{4}}') "
            f"OR CAST(substr({c}, 6, 4) AS INTEGER) <> CAST(substr({c}, 1, 4) AS INTEGER) + 1))",
            "academic_year_ccyy_ccyy", "must be an academic year like 2022-2023",
        ))
    elif spec.code_set and spec.code_set in CODE_SETS:
        codes = CODE_SETS[spec.code_set] - {""}
        rules.append(Rule(
            c, not_one_of(c, codes),
            f"code_set_{spec.code_set}", f"not a code of the {spec.code_set} code set",
        ))
    return rules


def find_errors(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rules: list[Rule],
    file_name: str,
    limit: int = MAX_STORED_ERRORS,
) -> tuple[list[FileError], int]:
    """All rules in one scan of ``table`` (has ``line_no``); first ``limit`` errors + total."""
    if not rules:
        return [], 0
    structs = ", ".join(
        f"CASE WHEN {r.condition} THEN {{'field': {q(r.field)}, "
        f"'value': CAST({r.field} AS VARCHAR), 'rule': {q(r.rule)}, "
        f"'message': {r.message_sql or q(r.message)}}} END"
        for r in rules
    )
    any_broken = " OR ".join(f"coalesce({r.condition}, false)" for r in rules)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ingest_errors AS
        SELECT line_no, e.field, e.value, e.rule, e.message FROM (
            SELECT line_no, unnest(list_filter([{structs}], x -> x IS NOT NULL)) AS e
            FROM {table} WHERE {any_broken}
        )"""
    )
    total_row = con.execute("SELECT count(*) FROM _ingest_errors").fetchone()
    total = int(total_row[0]) if total_row else 0
    rows = con.execute(
        f"SELECT line_no, field, value, rule, message FROM _ingest_errors "
        f"ORDER BY line_no, field LIMIT {int(limit)}"
    ).fetchall()
    con.execute("DROP TABLE _ingest_errors")
    errors = [
        FileError(file=file_name, line=line, field=field, value=value, rule=rule, message=message)
        for line, field, value, rule, message in rows
    ]
    return errors, total
