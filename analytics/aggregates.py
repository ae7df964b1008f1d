"""True (unreleased) counts by academic year x LEA x subgroup x metric, with cell keys.

Every cell of the full domain is produced (zeros too) for every LEA present in a year, plus
``STATE`` (over LEAs) and ``all`` (over each subgroup's values). The unit is the
student-year-LEA row: a student enrolled in two LEAs in one year counts once in each, and
twice in STATE. Each count comes with the sum of the record keys of its rows (the cell key
before ``mod 4096``, see ``analytics.disclosure``).

Everything runs in DuckDB in one scan of ``analytics.student_year`` to the finest cells, so the
statewide tables (2,300 LEAs, three years, millions of rows) take seconds, not hours.
"""

from __future__ import annotations

import duckdb

from analytics.disclosure import RECORD_KEYS, Cell, ensure_record_keys
from analytics.metrics import ALL, METRICS, POPULATIONS, STATE, SUBGROUP_DOMAINS
from core import catalog
from core.errors import InternalError

TRUE_CELLS = "_true_cells"  # temp table: one row per published cell, true counts and key sums
_PACK = 2**32
_MAX_FINEST_ROWS = 2**20  # 2^20 rows x record keys < 4096 stay under 2^32


def _subgroup_value_sql(subgroup: str) -> str:
    dtype = catalog.VARIABLE_BY_NAME[subgroup].dtype
    if dtype == "BOOLEAN":
        return f"CASE WHEN s.{subgroup} THEN 'true' ELSE 'false' END"
    return f"CAST(s.{subgroup} AS VARCHAR)"


def build_true_cells(con: duckdb.DuckDBPyConnection, *, salt: str | None = None) -> int:
    """Create temp table ``_true_cells``; returns its row count.

    Columns: academic_year, reporting_lea, subgroup, subgroup_value, metric, population,
    n, n_key, d, d_key (key = sum of record keys of the rows counted).
    """
    ensure_record_keys(con, f"SELECT person_id FROM {catalog.STUDENT_YEAR}", salt=salt)
    subgroups = list(SUBGROUP_DOMAINS)
    dims = ", ".join(f"{_subgroup_value_sql(g)} AS g_{g}" for g in subgroups)
    pops = list(POPULATIONS)
    # (count, key sum) pairs, each packed in one BIGINT sum: 2^32 * count + key sum. Half the
    # aggregates over millions of rows; exact while a finest cell has under 2^20 rows (its
    # key sum stays under 2^32), checked below.
    conditions = [(p, POPULATIONS[p]) for p in pops] + [
        (m.name, f"{POPULATIONS[m.population]} AND {m.name}") for m in METRICS
    ]
    packed = ", ".join(
        f"sum(CASE WHEN {cond} THEN k.packed ELSE 0 END) AS p_{name}"
        for name, cond in conditions
    )
    unpack = ", ".join(
        f"CAST(p_{name} // {_PACK} AS BIGINT) AS {'d' if name in POPULATIONS else 'n'}_{name}, "
        f"CAST(p_{name} % {_PACK} AS BIGINT) AS {'dk' if name in POPULATIONS else 'nk'}_{name}"
        for name, _ in conditions
    )
    sets = []
    for lea in ("academic_year, reporting_lea", "academic_year"):
        sets.append(f"({lea})")
        sets.extend(f"({lea}, g_{g})" for g in subgroups)
    which = " ".join(f"WHEN GROUPING(g_{g}) = 0 THEN '{g}'" for g in subgroups)
    value = "CASE " + " ".join(f"WHEN GROUPING(g_{g}) = 0 THEN g_{g}" for g in subgroups) \
        + f" ELSE '{ALL}' END"
    # One pass over the rows to the finest cells (year x LEA x every subgroup at once: a few
    # hundred per LEA-year), then every published grouping is a sum over those small cells.
    # Grouping the rows themselves twelve times (GROUPING SETS over millions of rows) was
    # the slow part.
    names = [f"d_{p}" for p in pops] + [f"dk_{p}" for p in pops] \
        + [f"n_{m.name}" for m in METRICS] + [f"nk_{m.name}" for m in METRICS]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _finest AS
            SELECT * EXCLUDE ({', '.join(f'p_{name}' for name, _ in conditions)}), {unpack},
                   CAST(p_students // {_PACK} AS BIGINT) AS _rows
            FROM (
                SELECT CAST(s.academic_year AS VARCHAR) AS academic_year,
                       CAST(s.reporting_lea AS VARCHAR) AS reporting_lea, {dims}, {packed}
                FROM {catalog.STUDENT_YEAR} s
                JOIN (SELECT person_id, {_PACK} + record_key AS packed FROM {RECORD_KEYS}) k
                  ON k.person_id = CAST(s.person_id AS VARCHAR)
                GROUP BY ALL)"""
    )
    biggest = con.execute("SELECT coalesce(max(_rows), 0) FROM _finest").fetchone()
    if biggest and int(biggest[0]) >= _MAX_FINEST_ROWS:
        raise InternalError("a finest aggregate cell has over 2^20 rows; packed sums would "
                            "overflow (analytics.aggregates)")
    sums = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in names)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _grouped AS
            SELECT academic_year,
                   CASE WHEN GROUPING(reporting_lea) = 1 THEN '{STATE}'
                        ELSE reporting_lea END AS reporting_lea,
                   CASE {which} ELSE '{ALL}' END AS subgroup, {value} AS subgroup_value,
                   {sums}
            FROM _finest
            GROUP BY GROUPING SETS ({', '.join(sets)})"""
    )
    con.execute("DROP TABLE _finest")
    # the full domain: every (year, LEA incl. STATE) x every subgroup value, zeros included
    domain = [(ALL, ALL)] + [(g, v) for g, values in SUBGROUP_DOMAINS.items() for v in values]
    domain_sql = ", ".join(f"('{g}', '{v}')" for g, v in domain)
    filled = ", ".join(f"coalesce(c.{col}, 0) AS {col}" for col in names)
    branches = " UNION ALL ".join(
        f"SELECT academic_year, reporting_lea, subgroup, subgroup_value, '{m.name}' AS metric, "
        f"'{m.population}' AS population, n_{m.name} AS n, nk_{m.name} AS n_key, "
        f"d_{m.population} AS d, dk_{m.population} AS d_key FROM _filled"
        for m in METRICS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _filled AS
            SELECT y.academic_year, y.reporting_lea, dom.subgroup, dom.subgroup_value, {filled}
            FROM (SELECT DISTINCT academic_year, reporting_lea FROM _grouped) y
            CROSS JOIN (VALUES {domain_sql}) dom(subgroup, subgroup_value)
            LEFT JOIN _grouped c USING (academic_year, reporting_lea, subgroup, subgroup_value)"""
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TRUE_CELLS} AS {branches}")
    con.execute("DROP TABLE _grouped")
    con.execute("DROP TABLE _filled")
    row = con.execute(f"SELECT count(*) FROM {TRUE_CELLS}").fetchone()
    return int(row[0]) if row else 0


def compute_cells(con: duckdb.DuckDBPyConnection, *, salt: str | None = None) -> list[Cell]:
    """All true cells as objects (tests and small tables; ``publish`` stays in SQL)."""
    build_true_cells(con, salt=salt)
    rows = con.execute(
        f"""SELECT academic_year, reporting_lea, subgroup, subgroup_value, metric, n, d,
                   population, n_key, d_key FROM {TRUE_CELLS}
            ORDER BY academic_year, metric, reporting_lea, subgroup, subgroup_value"""
    ).fetchall()
    return [
        Cell(str(y), str(lea), str(g), str(v), str(m), int(n), int(d), population=str(p),
             numerator_key=int(nk), denominator_key=int(dk))
        for y, lea, g, v, m, n, d, p, nk, dk in rows
    ]
