"""The enrolment rule: two SSIDs primarily enrolled at the same time are two students.

A student has one primary enrolment (CALPADS SENR, enrolment status 10) at a time. Two
CALPADS units (reporting LEA, SSID) with *different* SSIDs whose primary enrolments overlap
by more than ``OVERLAP_TOLERANCE_DAYS`` therefore cannot be one student, however alike their
names and birth dates are: that is what separates two students called MARIA GARCIA born on
the same day (enrolled side by side) from one student who moved to another LEA and was given
a second SSID there (exit at one LEA, start at the next: sequential, not overlapping).

The tolerance absorbs the usual reporting lag (the old LEA records the exit a few weeks
late). SSIDs one keying error apart (Damerau-Levenshtein 1) are exempt: a mistyped SSID
makes a phantom unit that carries a copy of the real enrolment. A missing exit date means
the enrolment is still open. Units without SENR dates (older layouts, partner records)
give no constraint.

Only pairs that the confident edges could put in one cluster are checked (both units in the
same connected component at the match threshold), so the cost follows the clusters, not
the square of the population. The pairs become cannot-links for the clustering, like twins.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from core import tables
from core.duck import columns_of, table_exists
from linkage.clustering import components
from linkage.schema import IdentityColumns

# A reporting lag of up to a month between one LEA's exit and the next LEA's start is normal.
OVERLAP_TOLERANCE_DAYS = 30
# An exit and the next start this close (either order) read as a move between LEAs.
MOVE_DAYS = 30

_NEEDED = {"reporting_lea", "ssid", "enrollment_status_code", "enrollment_start_date",
           "enrollment_exit_date"}


def _has_enrolment_dates(con: duckdb.DuckDBPyConnection) -> bool:
    senr = tables.calpads_staging("SENR")
    if not table_exists(con, senr):
        return False
    cols = columns_of(con, senr)
    return cols >= _NEEDED


def enrolment_span_columns(con: duckdb.DuckDBPyConnection) -> IdentityColumns:
    """``enrol_start`` / ``enrol_end``: the first primary enrolment start and last exit
    (open = NULL exit -> far future) of each CALPADS unit, NULL for the others. The model
    compares them: one unit's exit close to the other's start (a move between LEAs) is
    evidence for one student holding two SSIDs."""
    columns = {"enrol_start": "DATE", "enrol_end": "DATE"}
    if not _has_enrolment_dates(con):
        return IdentityColumns(columns, None)
    return IdentityColumns(columns, f"""
        SELECT 'calpads' AS source_system, trim(reporting_lea) AS partner_org,
               trim(ssid) AS source_person_id, min(enrollment_start_date) AS enrol_start,
               max(coalesce(enrollment_exit_date, DATE '9999-12-31')) AS enrol_end
        FROM {tables.calpads_staging("SENR")}
        WHERE enrollment_status_code = '10' AND enrollment_start_date IS NOT NULL
        GROUP BY ALL""")


def enrolment_conflicts(
    con: duckdb.DuckDBPyConnection,
    max_unit_id: int,
    edges: pa.Table,
    threshold: float,
    *,
    tolerance_days: int = OVERLAP_TOLERANCE_DAYS,
) -> list[tuple[int, int]]:
    """Cannot-link pairs of CALPADS units with different SSIDs and overlapping primary
    enrolments, among the units the edges at or above ``threshold`` connect."""
    if not _has_enrolment_dates(con):
        return []
    prob = edges.column("match_probability").to_numpy()
    keep = prob >= threshold
    left = edges.column("unit_id_l").to_numpy().astype(np.int64)[keep]
    right = edges.column("unit_id_r").to_numpy().astype(np.int64)[keep]
    if len(left) == 0:
        return []
    labels = components(max_unit_id + 1, left, right)
    nodes = np.unique(np.concatenate([left, right]))
    con.register("_link_enrol_nodes", pa.table({"unit_id": nodes, "label": labels[nodes]}))
    try:
        rows = con.execute(f"""
            WITH u AS (
                SELECT n.unit_id, n.label, i.partner_org AS lea, i.source_person_id AS ssid
                FROM _link_enrol_nodes n JOIN {tables.IDENTITIES} i USING (unit_id)
                WHERE i.source_system = 'calpads'
            ), pairs AS (
                SELECT a.unit_id AS ua, b.unit_id AS ub, a.lea AS la, a.ssid AS sa,
                       b.lea AS lb, b.ssid AS sb
                FROM u a JOIN u b ON a.label = b.label AND a.unit_id < b.unit_id
                WHERE a.ssid <> b.ssid AND damerau_levenshtein(a.ssid, b.ssid) > 1
            ), iv AS (
                SELECT reporting_lea AS lea, ssid, enrollment_start_date AS s,
                       coalesce(enrollment_exit_date, DATE '9999-12-31') AS e
                FROM {tables.calpads_staging("SENR")}
                WHERE enrollment_status_code = '10' AND enrollment_start_date IS NOT NULL
                  AND ssid IN (SELECT sa FROM pairs UNION SELECT sb FROM pairs)
            )
            SELECT DISTINCT p.ua, p.ub
            FROM pairs p
            JOIN iv x ON x.lea = p.la AND x.ssid = p.sa
            JOIN iv y ON y.lea = p.lb AND y.ssid = p.sb
            WHERE least(x.e, y.e) - greatest(x.s, y.s) > ?
        """, [tolerance_days]).fetchall()
    finally:
        con.unregister("_link_enrol_nodes")
    return [(int(a), int(b)) for a, b in rows]
