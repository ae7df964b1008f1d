"""Generalisation ladder and the k-anonymity search (docs/deidentify.md, "Generalisation ladder").

Each quasi-identifier has a ladder of ever coarser SQL expressions over the rows of
``analytics.student_year``; the top rung is ``'*'`` (the value withheld). An equivalence class
is a set of rows with the same generalised quasi-identifiers; its size is the number of
*distinct persons* in it (not rows: one person has a row per year and LEA), so k-anonymity
here means every released combination describes at least k people.

The search is Datafly (Sweeney 2002): while the rows in classes smaller than k exceed the
suppression budget, raise one rung on the quasi-identifier with the most distinct values at
its current rung. Then the rows still in small classes are suppressed (dropped) and counted.
It is deterministic, so rebuilding a request gives the same output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

# Catalog quasi-identifiers plus the demographics a "reasonable person in the school community"
# knows about a student (34 CFR 99.3): gender and race/ethnicity count as quasi-identifiers here.
DEMOGRAPHIC_QUASI_IDENTIFIERS = ("gender", "race_ethnicity")

_GRADE_BAND = """CASE
    WHEN grade_level IS NULL THEN NULL
    WHEN grade_level IN ('IN', 'TD', 'PS') THEN 'PS'
    WHEN grade_level IN ('TK', 'KN', '01', '02') THEN 'TK-2'
    WHEN grade_level IN ('03', '04', '05') THEN '3-5'
    WHEN grade_level IN ('06', '07', '08') THEN '6-8'
    WHEN grade_level IN ('09', '10', '11', '12') THEN '9-12'
    ELSE 'other' END"""
_GRADE_SPAN = """CASE
    WHEN grade_level IS NULL THEN NULL
    WHEN grade_level IN ('IN', 'TD', 'PS') THEN 'PS'
    WHEN grade_level IN ('TK', 'KN', '01', '02', '03', '04', '05', '06', '07', '08') THEN 'TK-8'
    WHEN grade_level IN ('09', '10', '11', '12') THEN '9-12'
    ELSE 'other' END"""


def _year_band(width: int) -> str:
    start = f"(birth_year - (birth_year % {width}))"
    return f"CAST({start} AS VARCHAR) || '-' || CAST({start} + {width - 1} AS VARCHAR)"


@dataclass(frozen=True)
class Rung:
    name: str
    sql: str  # expression over the columns of analytics.student_year
    needs: tuple[str, ...] = ()  # extra source columns the expression reads


WITHHELD = Rung("withheld", "'*'")

# The ladder, finest rung first. Rung 0 is the value as stored (birth year is already a year).
LADDERS: dict[str, tuple[Rung, ...]] = {
    "birth_year": (
        Rung("birth_year", "birth_year"),
        Rung("2-year band", _year_band(2)),
        Rung("5-year band", _year_band(5)),
        WITHHELD,
    ),
    "school_code": (
        Rung("school", "school_code"),
        Rung("reporting_lea", "reporting_lea", ("reporting_lea",)),
        Rung("county_code", "county_code", ("county_code",)),
        WITHHELD,
    ),
    "reporting_lea": (
        Rung("reporting_lea", "reporting_lea"),
        Rung("county_code", "county_code", ("county_code",)),
        WITHHELD,
    ),
    "county_code": (Rung("county_code", "county_code"), WITHHELD),
    "grade_level": (
        Rung("grade_level", "grade_level"),
        Rung("grade band", _GRADE_BAND),
        Rung("grade span", _GRADE_SPAN),
        WITHHELD,
    ),
    "academic_year": (Rung("academic_year", "academic_year"), WITHHELD),
    "gender": (Rung("gender", "gender"), WITHHELD),
    "race_ethnicity": (Rung("race_ethnicity", "race_ethnicity"), WITHHELD),
}


def quasi_identifiers_in(variables: list[str]) -> list[str]:
    """The requested variables that k-anonymity is computed over, in request order."""
    return [v for v in variables if v in LADDERS]


def source_columns_for(quasi_identifiers: list[str]) -> set[str]:
    """Columns the ladders of these quasi-identifiers may read beyond the variables themselves."""
    return {need for q in quasi_identifiers for rung in LADDERS[q] for need in rung.needs}


def expression(column: str, level: int) -> str:
    """SQL for ``column`` at ``level``; rung 0 keeps the stored type, coarser rungs are text."""
    if level == 0:
        return f'"{column}"'
    return f"CAST({LADDERS[column][level].sql} AS VARCHAR)"


@dataclass(frozen=True)
class Step:
    """One rung raised during the search, with the rows at risk before it: in row classes
    smaller than k, or (``rule`` = ``cross-extract``) suppressed by the per-person rules."""

    column: str
    to: str
    rows_at_risk_before: int
    rule: str = "row classes"


@dataclass
class Plan:
    """Chosen rungs and what they leave to suppress."""

    k: int
    quasi_identifiers: list[str]
    levels: dict[str, int]
    rows: int
    persons: int
    suppressed_rows: int
    classes: int  # equivalence classes released (size >= k)
    smallest_class: int | None  # distinct persons in the smallest released class
    max_suppression: float
    steps: list[Step] = field(default_factory=list)

    def rung_names(self) -> dict[str, str]:
        return {q: LADDERS[q][self.levels[q]].name for q in self.quasi_identifiers}

    def expressions(self) -> dict[str, str]:
        return {q: expression(q, self.levels[q]) for q in self.quasi_identifiers}


@dataclass(frozen=True)
class _Evaluation:
    rows_at_risk: int
    classes_ok: int
    smallest_ok: int | None


def _evaluate(
    con: duckdb.DuckDBPyConnection, table: str, exprs: list[str], k: int
) -> _Evaluation:
    group = f"GROUP BY {', '.join(exprs)}" if exprs else ""
    row = con.execute(
        f"""
        SELECT coalesce(sum(n_rows) FILTER (WHERE n_persons < $k), 0),
               count(*) FILTER (WHERE n_persons >= $k),
               min(n_persons) FILTER (WHERE n_persons >= $k)
        FROM (SELECT count(*) AS n_rows, count(DISTINCT person_id) AS n_persons
              FROM {table} {group})
        """,
        {"k": k},
    ).fetchone()
    assert row is not None
    return _Evaluation(int(row[0]), int(row[1]), None if row[2] is None else int(row[2]))


def _next_rung(con: duckdb.DuckDBPyConnection, table: str, quasi_identifiers: list[str],
               levels: dict[str, int]) -> str | None:
    """The quasi-identifier to raise one rung (Datafly), or None when all are at the top."""
    raisable = [q for q in quasi_identifiers if levels[q] + 1 < len(LADDERS[q])]
    if not raisable:
        return None
    distinct_sql = ", ".join(f"count(DISTINCT {expression(q, levels[q])})" for q in raisable)
    distinct = con.execute(f"SELECT {distinct_sql} FROM {table}").fetchone()
    assert distinct is not None
    # Most distinct values first; ties go to the earlier column in the request.
    return max(zip(raisable, distinct, strict=True), key=lambda pair: pair[1])[0]


def _plan(con: duckdb.DuckDBPyConnection, table: str, quasi_identifiers: list[str], *, k: int,
          max_suppression: float, levels: dict[str, int], steps: list[Step], rows: int,
          persons: int) -> Plan:
    """Datafly from ``levels``: raise rungs while the rows in small classes exceed the budget."""
    budget = int(max_suppression * rows)
    while True:
        exprs = [expression(q, levels[q]) for q in quasi_identifiers]
        evaluation = _evaluate(con, table, exprs, k)
        if evaluation.rows_at_risk <= budget:
            break
        chosen = _next_rung(con, table, quasi_identifiers, levels)
        if chosen is None:
            break
        levels[chosen] += 1
        steps.append(Step(chosen, LADDERS[chosen][levels[chosen]].name, evaluation.rows_at_risk))
    return Plan(
        k=k,
        quasi_identifiers=list(quasi_identifiers),
        levels=levels,
        rows=rows,
        persons=persons,
        suppressed_rows=evaluation.rows_at_risk,
        classes=evaluation.classes_ok,
        smallest_class=evaluation.smallest_ok,
        max_suppression=max_suppression,
        steps=steps,
    )


def plan_generalisation(
    con: duckdb.DuckDBPyConnection,
    table: str,
    quasi_identifiers: list[str],
    *,
    k: int,
    max_suppression: float,
) -> Plan:
    """Choose rungs for ``quasi_identifiers`` over ``table`` (which has ``person_id``)."""
    counts = con.execute(f"SELECT count(*), count(DISTINCT person_id) FROM {table}").fetchone()
    assert counts is not None
    return _plan(con, table, quasi_identifiers, k=k, max_suppression=max_suppression,
                 levels=dict.fromkeys(quasi_identifiers, 0), steps=[], rows=int(counts[0]),
                 persons=int(counts[1]))


def coarsen(con: duckdb.DuckDBPyConnection, table: str, plan: Plan, rows_at_risk: int,
            rule: str) -> Plan | None:
    """``plan`` with one more rung raised (the same Datafly choice), because a later rule
    (``rule``) still suppresses ``rows_at_risk`` rows; the row-level search then continues
    from there. None when every quasi-identifier is already at the top."""
    chosen = _next_rung(con, table, plan.quasi_identifiers, plan.levels)
    if chosen is None:
        return None
    levels = dict(plan.levels)
    levels[chosen] += 1
    steps = [*plan.steps, Step(chosen, LADDERS[chosen][levels[chosen]].name, rows_at_risk, rule)]
    return _plan(con, table, plan.quasi_identifiers, k=plan.k,
                 max_suppression=plan.max_suppression, levels=levels, steps=steps,
                 rows=plan.rows, persons=plan.persons)
