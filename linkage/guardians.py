"""Guardian surnames: a parent's surname is one of a two-surname student's surnames.

CALPADS SINF records up to two guardians. In a two-surname family the father's surname is the
student's first surname and the mother's the second, so a record that keeps only one of the
student's surnames (GONZALEZ) still meets a record that keeps the other (ZUNIGA) through the
guardian listed with it. The tokens of every guardian surname a CALPADS unit's SINF rows carry
go to ``mdm.identities.guardian_tokens`` (NULL for other sources and for units without one);
the model compares them with the other record's surname tokens as one level of the surname
comparison, and EM weighs it (a guardian's surname is also often simply the family surname).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from core import tables
from core.duck import columns_of, table_exists
from linkage import names
from linkage.schema import IdentityColumns

GUARDIAN_SURNAME_FIELDS = ("guardian_1_last_name", "guardian_2_last_name")


def _sinf_fields(con: duckdb.DuckDBPyConnection) -> list[str]:
    cols = columns_of(con, tables.calpads_staging("SINF"))
    return [f for f in GUARDIAN_SURNAME_FIELDS if f in cols]


def guardian_columns(con: duckdb.DuckDBPyConnection) -> IdentityColumns:
    """``guardian_tokens``: sorted distinct surname tokens of the unit's guardians."""
    columns = {"guardian_tokens": "VARCHAR[]"}
    sinf = tables.calpads_staging("SINF")
    fields = _sinf_fields(con) if table_exists(con, sinf) else []
    if not fields:
        return IdentityColumns(columns, None)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _link_guardians AS "
        + " UNION ".join(
            f"SELECT DISTINCT trim(reporting_lea) AS lea, trim(ssid) AS ssid, {f} AS raw "
            f"FROM {sinf} WHERE nullif(trim({f}), '') IS NOT NULL" for f in fields))
    # each distinct raw surname is tokenised once in Python (the same rules as the students')
    raws = [r[0] for r in con.execute("SELECT DISTINCT raw FROM _link_guardians").fetchall()]
    lookup = pa.table({
        "raw": pa.array(raws, pa.string()),
        "tokens": pa.array([names.surname_tokens(v) for v in raws], pa.list_(pa.string())),
    })
    con.register("_link_guardian_arrow", lookup)
    con.execute("CREATE OR REPLACE TEMP TABLE _link_guardian_tokens AS FROM _link_guardian_arrow")
    con.unregister("_link_guardian_arrow")
    return IdentityColumns(columns, """
        SELECT 'calpads' AS source_system, lea AS partner_org, ssid AS source_person_id,
               list_sort(list(DISTINCT token)) AS guardian_tokens
        FROM (SELECT g.lea, g.ssid, unnest(t.tokens) AS token
              FROM _link_guardians g JOIN _link_guardian_tokens t USING (raw))
        GROUP BY ALL""", temp_tables=("_link_guardians", "_link_guardian_tokens"))
