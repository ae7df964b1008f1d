"""Disclosure control for every released count: the one place the protection rule lives.

Standard (docs/metrics.md, "Disclosure control"): threshold suppression plus cell-key
perturbation, as in the ONS ``cell-key-perturbation`` package's default "10-5" p-table and ABS
TableBuilder, with C2C's minimum cell size (NCES SLDS Technical Brief 3 / El Emam: 11).

1. **Threshold.** A denominator under ``min_cell`` hides the whole cell
   (``denominator_below_min``). A numerator under ``min_cell``, or a complement
   (denominator - numerator) under ``min_cell``, hides numerator and rate
   (``count_below_min``: one reason for both, so the public cannot tell "almost nobody" from
   "almost everybody"). Zeros are small.
2. **Cell-key rounding.** Every shown count is rounded to a multiple of ``ROUNDING_BASE`` (5),
   up or down, unbiased: a count ``5q + r`` goes up with probability ``r / 5``. The coin is
   the **cell key**: the sum of the record keys (a fixed random number 0..4095 per person,
   ``RECORD_KEYS``) of the rows counted, mod 4096. The same rows give the same key and so
   the same published number in every table, request and snapshot: repeating or re-slicing
   a query cannot average the noise away, and differencing two released counts leaves an
   error of up to +-8 instead of an exact value. A count is hidden when the true count or
   its rounded value is under ``min_cell``, so a shown count is never below ``min_cell``
   and the threshold itself is blurred (11..14 is hidden or shown by its cell key).
3. Released counts no longer add up exactly (a total and the sum of its rounded parts differ
   by a few); that is the price of protecting against differencing, and it is why no
   complementary suppression is needed.

Everything here is a pure function of (true count, key sum); ``publish`` runs the same rule
in SQL (``rounded_sql``) and a test proves both agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import duckdb

from analytics.metrics import METRIC_BY_NAME
from core.errors import InternalError
from core.gate import (
    LEGACY_REASONS,
    PUBLIC_REASONS,
    REASON_COUNT,
    REASON_DENOMINATOR,
    RECORD_KEY_RANGE,
    ROUNDING_BASE,
    effective_min_cell,
    gate_cell,
    public_reason,
    rounded,
    shown_floor,
)
from core.protection import MIN_CELL

__all__ = ["LEGACY_REASONS", "PUBLIC_REASONS", "REASON_COUNT", "REASON_DENOMINATOR",
           "RECORD_KEY_RANGE", "ROUNDING_BASE", "effective_min_cell", "public_reason",
           "rounded", "shown_floor"]

RECORD_KEYS = "disclosure.record_keys"  # person_id -> record_key; inside the encrypted warehouse
_SALT_TABLE = "disclosure.record_key_salt"


@dataclass(frozen=True)
class Released:
    """What may be shown of one (numerator, denominator) cell, as plain values (tables)."""

    numerator: int | None
    denominator: int | None
    rate: float | None
    suppressed: bool
    suppression_reason: str | None


def release(n: int, n_key: int, d: int, d_key: int, min_cell: int) -> Released:
    """The egress gate's rule for one cell (``core.gate.gate_cell``) as plain values, for
    tables that leave as files (request tables, the snapshot's Python twin)."""
    cell = gate_cell(n, n_key, d, d_key, min_cell)
    return Released(cell.numerator.value, cell.denominator.value, cell.rate, cell.suppressed,
                    cell.suppression_reason)


def rounded_sql(count: str, key_sum: str, base: int = ROUNDING_BASE) -> str:
    """``core.gate.rounded`` as a DuckDB expression over two integer SQL expressions."""
    return (
        f"(({count}) - ({count}) % {base} + CASE WHEN ((({key_sum}) % {RECORD_KEY_RANGE}) "
        f"* {base}) < (({count}) % {base}) * {RECORD_KEY_RANGE} THEN {base} ELSE 0 END)"
    )


def release_select(source: str, min_cell: int, extra: str = "") -> str:
    """``release`` in SQL over ``source`` (columns n, n_key, d, d_key and the cell's key
    columns); selects the source's other columns plus numerator, denominator, rate,
    suppressed, suppression_reason. Rounded values and flags are computed once per row in
    steps (one nested expression per output column took seconds on 70,000 rows)."""
    m = effective_min_cell(min_cell)
    return f"""
        WITH _a AS (
            SELECT * REPLACE (CAST(n AS BIGINT) AS n, CAST(d AS BIGINT) AS d,
                              CAST(n_key % {RECORD_KEY_RANGE} AS BIGINT) AS n_key,
                              CAST(d_key % {RECORD_KEY_RANGE} AS BIGINT) AS d_key)
            FROM {source}),
        _b AS (
            SELECT *, {rounded_sql('n', 'n_key')} AS _rn, {rounded_sql('d', 'd_key')} AS _rd,
                   {rounded_sql('d - n', 'd_key - n_key + ' + str(RECORD_KEY_RANGE))} AS _rc
            FROM _a),
        _c AS (
            SELECT *, (d < {m} OR _rd < {m}) AS _small_d,
                   (n < {m} OR _rn < {m} OR d - n < {m} OR _rc < {m}) AS _small_n
            FROM _b)
        SELECT * EXCLUDE (n, n_key, d, d_key, _rn, _rd, _rc, _small_d, _small_n),
               CAST(CASE WHEN _small_d OR _small_n THEN NULL ELSE _rn END AS INTEGER)
                   AS numerator,
               CAST(CASE WHEN _small_d THEN NULL ELSE _rd END AS INTEGER) AS denominator,
               CASE WHEN _small_d OR _small_n THEN NULL ELSE round(_rn / _rd, 4) END AS rate,
               (_small_d OR _small_n) AS suppressed,
               CASE WHEN _small_d THEN '{REASON_DENOMINATOR}'
                    WHEN _small_n THEN '{REASON_COUNT}' END AS suppression_reason{extra}
        FROM _c"""


# ------------------------------------------------------------------ record keys


def ensure_record_keys(con: duckdb.DuckDBPyConnection, people: str, *,
                       salt: str | None = None) -> None:
    """Give every person in ``people`` (a query with a ``person_id`` column) a record key.

    A key, once given, never changes (later snapshots and request tables reuse it: that is
    what makes the noise consistent). New keys are a hash of the person id under a random
    salt kept in the encrypted warehouse; ``salt`` fixes it (tests). The hash is only ever
    computed for new persons, so a change of hash function between DuckDB versions cannot
    change an existing key.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS disclosure")
    con.execute(f"CREATE TABLE IF NOT EXISTS {_SALT_TABLE} (salt VARCHAR)")
    con.execute(f"CREATE TABLE IF NOT EXISTS {RECORD_KEYS} "
                "(person_id VARCHAR, record_key SMALLINT)")
    row = con.execute(f"SELECT salt FROM {_SALT_TABLE}").fetchone()
    if row is None:
        row = (salt or con.execute("SELECT md5(gen_random_uuid()::VARCHAR || "
                                   "gen_random_uuid()::VARCHAR)").fetchone()[0],)  # type: ignore[index]
        con.execute(f"INSERT INTO {_SALT_TABLE} VALUES (?)", [row[0]])
    con.execute(
        f"""INSERT INTO {RECORD_KEYS}
            SELECT p.person_id, CAST(hash(? || p.person_id) % {RECORD_KEY_RANGE} AS SMALLINT)
            FROM (SELECT DISTINCT CAST(person_id AS VARCHAR) AS person_id FROM ({people})) p
            ANTI JOIN {RECORD_KEYS} k ON k.person_id = p.person_id""",
        [str(row[0])],
    )


# ------------------------------------------------------------------ cell objects


@dataclass(frozen=True)
class Cell:
    academic_year: str
    reporting_lea: str
    subgroup: str
    subgroup_value: str
    metric: str
    numerator: int | None
    denominator: int | None
    rate: float | None = None
    suppressed: bool = False
    suppression_reason: str | None = None
    population: str | None = None
    numerator_key: int = 0  # sum of the record keys of the rows counted (not published)
    denominator_key: int = 0


def suppress(cells: Sequence[Cell], min_cell: int = MIN_CELL) -> list[Cell]:
    """Apply ``release`` to cells holding true counts and key sums (see module docstring)."""
    out: list[Cell] = []
    for c in cells:
        if c.numerator is None or c.denominator is None:
            raise InternalError("suppress() needs true counts in every cell")
        r = release(c.numerator, c.numerator_key, c.denominator, c.denominator_key, min_cell)
        out.append(replace(c, numerator=r.numerator, denominator=r.denominator, rate=r.rate,
                           suppressed=r.suppressed, suppression_reason=r.suppression_reason))
    return out


# ------------------------------------------------------------------ audit of a snapshot


def audit_snapshot(con: duckdb.DuckDBPyConnection, table: str, min_cell: int) -> dict[str, int]:
    """Rows of a published table that break the standard, by rule (all zero when it holds).

    Every row is checked, in SQL (a statewide snapshot of millions of rows takes seconds):
    shown counts at least the shown floor and multiples of ``ROUNDING_BASE``; hidden counts
    NULL with a public reason; rate equal to the shown numerator over the shown denominator;
    one denominator per (year, LEA, subgroup value, population) across its metrics (the same
    rows, so the same rounded number; two would let an attacker average).
    """
    base, floor = ROUNDING_BASE, shown_floor(min_cell)
    populations = " ".join(f"WHEN '{m.name}' THEN '{m.population}'"
                           for m in METRIC_BY_NAME.values())
    reasons = ", ".join(f"'{r}'" for r in PUBLIC_REASONS)
    row = con.execute(
        f"""SELECT
              count(*) FILTER (WHERE (numerator IS NOT NULL AND (numerator < {floor}
                   OR numerator % {base} <> 0)) OR (denominator IS NOT NULL AND
                   (denominator < {floor} OR denominator % {base} <> 0))) AS unrounded_or_small,
              count(*) FILTER (WHERE NOT suppressed AND (numerator IS NULL OR denominator IS NULL
                   OR rate IS NULL OR abs(rate - round(numerator / denominator, 4)) > 1e-9))
                   AS shown_incomplete,
              count(*) FILTER (WHERE suppressed AND (numerator IS NOT NULL OR rate IS NOT NULL
                   OR suppression_reason IS NULL OR suppression_reason NOT IN ({reasons})
                   OR (suppression_reason = '{REASON_DENOMINATOR}') <> (denominator IS NULL)))
                   AS hidden_badly,
              count(*) FILTER (WHERE NOT suppressed AND suppression_reason IS NOT NULL)
                   AS reason_on_shown
            FROM {table}"""
    ).fetchone()
    mixed = con.execute(
        f"""SELECT count(*) FROM (
              SELECT 1 FROM {table}
              GROUP BY academic_year, reporting_lea, subgroup, subgroup_value,
                       CASE metric {populations} ELSE metric END
              HAVING count(DISTINCT coalesce(denominator, -1)) > 1)"""
    ).fetchone()
    names = ("unrounded_or_small", "shown_incomplete", "hidden_badly", "reason_on_shown")
    found = {name: int(v or 0) for name, v in zip(names, row or (0, 0, 0, 0), strict=True)}
    found["denominator_differs_across_metrics"] = int(mixed[0]) if mixed else 0
    return found
