"""Operator export of the crosswalk (CSV or Parquet, chosen by the file suffix).

The crosswalk holds partner ids (SSIDs, student ids): the file is for the operator's secure
area, not for research; the CLI says so.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from core import tables
from core.duck import table_exists
from core.errors import InputRejected, NotFound

FORMATS = {".csv": "(FORMAT csv, HEADER true)", ".parquet": "(FORMAT parquet)"}


def export_crosswalk(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """Write ``mdm.crosswalk`` to ``out``; returns the number of rows written."""
    options = FORMATS.get(out.suffix.lower())
    if options is None:
        raise InputRejected(f"{out}: use a .csv or .parquet file name")
    if not table_exists(con, tables.CROSSWALK):
        raise NotFound("no crosswalk yet: run `c2c link` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT source_system, partner_org, source_person_id, person_id, run_id "
        f"FROM {tables.CROSSWALK} ORDER BY 1, 2, 3) TO ? {options}",
        [str(out)],
    )
    row = con.execute(f"SELECT count(*) FROM {tables.CROSSWALK}").fetchone()
    return int(row[0]) if row else 0
