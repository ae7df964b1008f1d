"""Match rates read from the current crosswalk: by source pair and by subgroup.

"Match rate" follows GAO-15-27: the share of a source's records connected to a person who
also appears in another source. Subgroup rates are for CALPADS records (race/ethnicity from
the SINF student information record, gender from the identity, reporting LEA), and say how
often a K-12 record is linked to a college or CCGI record: a model that links Hispanic double
surnames worse shows up here as a lower rate (and, with a truth file, as lower recall).
"""

from __future__ import annotations

import duckdb

from core import tables
from core.duck import table_exists

ETHNICITY_SQL = """CASE
    WHEN CAST(hispanic_indicator AS VARCHAR) = 'Y' THEN 'Hispanic or Latino'
    WHEN n_races > 1 THEN 'Two or more races'
    WHEN CAST(race_1 AS VARCHAR) = '100' THEN 'American Indian or Alaska Native'
    WHEN CAST(race_1 AS VARCHAR) IN ('201','202','203','204','205','206','207','208','299')
        THEN 'Asian'
    WHEN CAST(race_1 AS VARCHAR) IN ('301','302','303','304','399') THEN 'Pacific Islander'
    WHEN CAST(race_1 AS VARCHAR) = '400' THEN 'Filipino'
    WHEN CAST(race_1 AS VARCHAR) = '600' THEN 'Black or African American'
    WHEN CAST(race_1 AS VARCHAR) = '700' THEN 'White'
    ELSE 'Not reported' END"""


def source_pair_rates(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """``"a->b"``: share of a's records whose person has a b record (``a->a``: duplicates)."""
    per_person = (f"SELECT person_id, source_system, count(*) AS n "
                  f"FROM {tables.CROSSWALK} GROUP BY ALL")
    totals = dict(con.execute(
        f"SELECT source_system, sum(n) FROM ({per_person}) GROUP BY 1").fetchall())
    linked = {(a, b): int(n) for a, b, n in con.execute(f"""
        WITH pp AS ({per_person})
        SELECT a.source_system, b.source_system, sum(a.n)
        FROM pp a JOIN pp b ON a.person_id = b.person_id
        WHERE a.source_system <> b.source_system OR a.n > 1
        GROUP BY ALL""").fetchall()}
    rows = [(a, b, linked.get((a, b), 0) / int(totals[a]))
            for a in sorted(totals) for b in sorted(totals)]
    return {f"{a}->{b}": float(rate or 0.0) for a, b, rate in rows}


def ethnicity_select(con: duckdb.DuckDBPyConnection) -> str:
    """SELECT of ``partner_org, source_person_id, ethnicity`` for CALPADS units (the latest SINF
    row of each), or an empty relation of that shape before any SINF is loaded."""
    sinf = tables.calpads_staging("SINF")
    if table_exists(con, sinf):
        ethnicity = f"""SELECT reporting_lea AS partner_org, ssid AS source_person_id,
                {ETHNICITY_SQL} AS ethnicity
            FROM (SELECT *, (
                    CASE WHEN coalesce(CAST(race_1 AS VARCHAR), '') <> '' THEN 1 ELSE 0 END
                  + CASE WHEN coalesce(CAST(race_2 AS VARCHAR), '') <> '' THEN 1 ELSE 0 END
                  + CASE WHEN coalesce(CAST(race_3 AS VARCHAR), '') <> '' THEN 1 ELSE 0 END
                  + CASE WHEN coalesce(CAST(race_4 AS VARCHAR), '') <> '' THEN 1 ELSE 0 END
                  + CASE WHEN coalesce(CAST(race_5 AS VARCHAR), '') <> '' THEN 1 ELSE 0 END
                  ) AS n_races
                  FROM {sinf})
            QUALIFY row_number() OVER (PARTITION BY reporting_lea, ssid
                ORDER BY CAST(file_id AS VARCHAR) DESC, line_no DESC) = 1"""
    else:
        ethnicity = ("SELECT NULL::VARCHAR AS partner_org, NULL::VARCHAR AS source_person_id, "
                     "NULL::VARCHAR AS ethnicity WHERE false")
    return ethnicity


def subgroup_rates(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, object]]]:
    """{dimension: [{value, records, linked, rate}]} for CALPADS records."""
    ethnicity = ethnicity_select(con)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _link_k12 AS
        WITH beyond AS (
            SELECT person_id, bool_or(source_system <> 'calpads') AS linked
            FROM {tables.CROSSWALK} GROUP BY person_id
        ), eth AS ({ethnicity})
        SELECT x.partner_org AS lea, coalesce(i.gender, 'unknown') AS gender,
               coalesce(e.ethnicity, 'Not reported') AS ethnicity, b.linked
        FROM {tables.CROSSWALK} x
        JOIN beyond b USING (person_id)
        LEFT JOIN {tables.IDENTITIES} i
            USING (source_system, partner_org, source_person_id)
        LEFT JOIN eth e USING (partner_org, source_person_id)
        WHERE x.source_system = 'calpads'
    """)
    result: dict[str, list[dict[str, object]]] = {}
    for dimension in ("ethnicity", "gender", "lea"):
        rows = con.execute(f"""
            SELECT {dimension}, count(*), count(*) FILTER (WHERE linked)
            FROM _link_k12 GROUP BY 1 ORDER BY 1""").fetchall()
        result[dimension] = [
            {"value": v, "records": int(n), "linked": int(k), "rate": k / n if n else 0.0}
            for v, n, k in rows
        ]
    con.execute("DROP TABLE IF EXISTS _link_k12")
    return result
