"""Shared helpers for the linkage evidence tests: stage rows, read an identity back, and find
which comparison level a pair of identities falls in (no training needed)."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from linkage.model import comparisons


def stage_table(con: duckdb.DuckDBPyConnection, name: str, rows: dict[str, Any]) -> None:
    con.register("_rows", pa.table(rows))
    con.execute(f"CREATE OR REPLACE TABLE staging.{name} AS FROM _rows")
    con.unregister("_rows")


def identity_of(con: duckdb.DuckDBPyConnection, system: str, person_id: str) -> dict[str, Any]:
    cursor = con.execute("SELECT * FROM mdm.identities WHERE source_system = ? "
                         "AND source_person_id = ?", [system, person_id])
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def level_of(con: duckdb.DuckDBPyConnection, comparison: str, left: dict[str, Any],
             right: dict[str, Any], types: dict[str, pa.DataType] | None = None) -> str:
    """Label of the first level of ``comparison`` whose condition holds for the pair;
    ``types``: Arrow types of columns (by name without _l/_r) a bare None cannot imply."""
    found = next(c for c in comparisons() if c.get_comparison("duckdb").output_column_name
                 == comparison).get_comparison("duckdb")
    typed = types or {}
    columns = {f"{k}_{side}": pa.array([v], typed.get(k))
               for side, record in (("l", left), ("r", right)) for k, v in record.items()}
    con.register("_pair", pa.table(columns))
    try:
        for level in found.comparison_levels:
            if level.sql_condition == "ELSE":
                return str(level.label_for_charts)
            hit = con.execute(f"SELECT coalesce(({level.sql_condition}), false) "
                              "FROM _pair").fetchone()
            if hit and hit[0]:
                return str(level.label_for_charts)
    finally:
        con.unregister("_pair")
    raise AssertionError("no level matched")
