"""Primary enrolments as evidence: two SSIDs enrolled at the same time are two students.

A student has one primary enrolment (CALPADS SENR, enrolment status 10) at a time. Two
CALPADS units (reporting LEA, SSID) with *different* SSIDs that were both enrolled over the
same months are two students, however alike their names and birth dates are: that separates
two students called MARIA GARCIA born on the same day (enrolled side by side) from one
student who moved to another LEA and was given a second SSID there (exit at one LEA, start at
the next: sequential).

**What a row proves, and what it does not.** Real files often lack exit dates (LEAs do not
exit continuing students at year end) and record exits late (weeks to months after the next
LEA's start). Absence is never read as evidence:

- a row's *effective* end is its recorded exit; with no exit, the end of the academic year of
  the file it came from (30 June of ``academic_year_id``; the start date's academic year when
  the file names none): an enrolment ends no later than that unless a later file shows it;
- a row's *proven* end is its recorded exit; with no exit, the end of its academic year only
  when a later file from the same LEA shows the same SSID (the student was still there), and
  otherwise its start date (nothing proves the student stayed past it);
- an exit before the start, or more than ``EXIT_AFTER_YEAR_DAYS`` after the end of the file's
  academic year (a date the file could not yet know), is inconsistent and treated as missing;
- rows without a start date or with another enrolment status prove nothing and are skipped;
  a unit with none has no span, and the model's enrolment comparison is neutral for it.

**The veto** (a cannot-link for the clustering): two units with different SSIDs, not one
keying error apart (a mistyped SSID makes a phantom unit carrying a copy of the real
enrolment; as in the twin rule, ids differing in the last digit only are not a keying error
but consecutive ids, as twins enrolled together get), whose *proven* enrolments overlap by
more than ``OVERLAP_TOLERANCE_DAYS``, or, at the same LEA, that began within
``SIDE_BY_SIDE_START_DAYS`` of each other and overlap by more than ``MOVE_DAYS``. The tolerance
covers an exit recorded up to about three months after the next LEA's start (a late exit is
the old LEA's, so never at the same LEA as the new start). Only unit pairs that the confident
edges could put in one cluster are checked (both units in one connected component at the
match threshold), so the cost follows the clusters, not the square of the population.

**The evidence the model weighs** (``enrolment_comparison``) uses the unit's span from its
first start to its last *effective* end, and the last *proven* end, so an overlap that rests
on an inferred end is its own level: EM decides what it is worth instead of a veto.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl

from core import tables
from core.duck import columns_of, table_exists
from linkage.clustering import ConfidentGraph
from linkage.schema import IdentityColumns

# An exit recorded up to about three months after the next LEA's start is common (late
# exits); two students enrolled side by side overlap for most of a school year.
OVERLAP_TOLERANCE_DAYS = 120
# ... but two enrolments at the same LEA that began together (within this many days) and
# overlap by more than MOVE_DAYS are two students side by side however short they were (twins
# who left after three months, RIYA / PRIYA, were merged at 50k with the long tolerance
# alone). A late exit is at another LEA: the old LEA's row, possibly rolled over to the new
# year and so starting the same week as the new LEA's.
SIDE_BY_SIDE_START_DAYS = 7
# An exit and the next start this close (either order) read as a move between LEAs.
MOVE_DAYS = 30
# ... and this close, a move over the summer (an exit in June, or a year end inferred for a
# student nobody exited, and the next LEA's first day in August).
SUMMER_DAYS = 100
# A file for an academic year is extracted by the following autumn: an exit later than this
# after the year's end cannot come from it.
EXIT_AFTER_YEAR_DAYS = 183

_NEEDED = {"reporting_lea", "ssid", "enrollment_status_code", "enrollment_start_date",
           "enrollment_exit_date"}


def _senr_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    senr = tables.calpads_staging("SENR")
    if not table_exists(con, senr):
        return set()
    return columns_of(con, senr)


def _has_enrolment_dates(con: duckdb.DuckDBPyConnection) -> bool:
    return _senr_columns(con) >= _NEEDED


def _rows_sql(con: duckdb.DuckDBPyConnection, where: str = "") -> str:
    """One row per distinct primary enrolment: lea, ssid, s (start), e (effective end),
    p (proven end). See the module text for the rules."""
    start_year_end = ("make_date(year(enrollment_start_date) + "
                      "CASE WHEN month(enrollment_start_date) >= 7 THEN 1 ELSE 0 END, 6, 30)")
    if "academic_year_id" in _senr_columns(con):
        year_end = (f"coalesce(CASE WHEN regexp_full_match(trim(academic_year_id), "
                    f"'[0-9]{{4}}-[0-9]{{4}}') THEN make_date(CAST(right(trim("
                    f"academic_year_id), 4) AS INTEGER), 6, 30) END, {start_year_end})")
    else:
        year_end = start_year_end
    return f"""
        SELECT lea, ssid, s,
               coalesce(x, y) AS e,
               coalesce(x, CASE WHEN y < max(y) OVER (PARTITION BY lea, ssid) THEN y END, s)
                   AS p
        FROM (
            SELECT DISTINCT trim(reporting_lea) AS lea, trim(ssid) AS ssid,
                   enrollment_start_date AS s, {year_end} AS y,
                   CASE WHEN enrollment_exit_date >= enrollment_start_date
                         AND enrollment_exit_date <= {year_end}
                             + INTERVAL {EXIT_AFTER_YEAR_DAYS} DAY
                        THEN enrollment_exit_date END AS x
            FROM {tables.calpads_staging("SENR")}
            WHERE enrollment_status_code = '10' AND enrollment_start_date IS NOT NULL
              AND nullif(trim(ssid), '') IS NOT NULL {where}
        )"""


def enrolment_span_columns(con: duckdb.DuckDBPyConnection) -> IdentityColumns:
    """``enrol_start`` (first primary-enrolment start), ``enrol_end`` (last effective end) and
    ``enrol_proven_end`` (last proven end) of each CALPADS unit, NULL for the others."""
    columns = {"enrol_start": "DATE", "enrol_end": "DATE", "enrol_proven_end": "DATE"}
    if not _has_enrolment_dates(con):
        return IdentityColumns(columns, None)
    return IdentityColumns(columns, f"""
        SELECT 'calpads' AS source_system, lea AS partner_org, ssid AS source_person_id,
               min(s) AS enrol_start, CAST(max(e) AS DATE) AS enrol_end,
               CAST(max(p) AS DATE) AS enrol_proven_end
        FROM ({_rows_sql(con)})
        GROUP BY ALL""")


def enrolment_comparison() -> Any:
    """The Splink comparison over the units' spans (NULL outside CALPADS: neutral).

    Levels, first match wins: enrolled at the same time on proven dates (two students, and a
    veto in the clustering too); at the same time only through an end nobody recorded (EM
    weighs it; a missing exit is not proof); one starts within ``MOVE_DAYS`` of the other's end
    (a move between LEAs: how one student comes to hold a second SSID); a shorter overlap (an
    exit recorded late, or two students briefly side by side); one starts within
    ``SUMMER_DAYS`` after the other ends (a move over the summer); else.
    """
    def overlap(end: str) -> str:
        return (f'date_diff(\'day\', greatest("enrol_start_l", "enrol_start_r"), '
                f'least("{end}_l", "{end}_r")) > {OVERLAP_TOLERANCE_DAYS}')

    return cl.CustomComparison(
        output_column_name="enrolment",
        comparison_levels=[
            cll.CustomLevel('"enrol_start_l" IS NULL OR "enrol_start_r" IS NULL'
                            ).configure(is_null_level=True),
            cll.CustomLevel(overlap("enrol_proven_end"),
                            label_for_charts="enrolled at the same time (proven dates)"),
            cll.CustomLevel(overlap("enrol_end"),
                            label_for_charts="at the same time only through an unrecorded exit"),
            cll.CustomLevel(
                f'abs(date_diff(\'day\', "enrol_end_l", "enrol_start_r")) <= {MOVE_DAYS} '
                f'OR abs(date_diff(\'day\', "enrol_end_r", "enrol_start_l")) <= {MOVE_DAYS}',
                label_for_charts="one enrolment follows the other (a move)"),
            cll.CustomLevel(
                'greatest("enrol_start_l", "enrol_start_r") < least("enrol_end_l", '
                '"enrol_end_r")',
                label_for_charts="a shorter overlap (a late exit, or two students)"),
            cll.CustomLevel(
                f'date_diff(\'day\', "enrol_end_l", "enrol_start_r") BETWEEN 0 AND {SUMMER_DAYS} '
                f'OR date_diff(\'day\', "enrol_end_r", "enrol_start_l") BETWEEN 0 AND '
                f'{SUMMER_DAYS}',
                label_for_charts="one starts within a summer of the other's end"),
            cll.ElseLevel(),
        ],
    )


def enrolment_conflicts(
    con: duckdb.DuckDBPyConnection,
    graph: ConfidentGraph | None,
    *,
    tolerance_days: int = OVERLAP_TOLERANCE_DAYS,
) -> list[tuple[int, int]]:
    """Cannot-link pairs of CALPADS units with different SSIDs whose *proven* primary
    enrolments overlap by more than ``tolerance_days``, within one component of the confident
    ``graph``."""
    if graph is None or not _has_enrolment_dates(con):
        return []
    nodes = graph.nodes
    con.register("_link_enrol_nodes", pa.table({"unit_id": nodes, "label": graph.labels[nodes]}))
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
                WHERE a.ssid <> b.ssid AND NOT (damerau_levenshtein(a.ssid, b.ssid) = 1
                      AND left(a.ssid, -1) <> left(b.ssid, -1))
            ), iv AS ({_rows_sql(con, '''AND trim(ssid) IN (
                    SELECT sa FROM pairs UNION SELECT sb FROM pairs)''')})
            SELECT DISTINCT p.ua, p.ub
            FROM pairs p
            JOIN iv x ON x.lea = p.la AND x.ssid = p.sa
            JOIN iv y ON y.lea = p.lb AND y.ssid = p.sb
            WHERE date_diff('day', greatest(x.s, y.s), least(x.p, y.p)) > ?
               OR (x.lea = y.lea AND abs(date_diff('day', x.s, y.s)) <= {SIDE_BY_SIDE_START_DAYS}
                   AND date_diff('day', greatest(x.s, y.s), least(x.p, y.p)) > {MOVE_DAYS})
        """, [tolerance_days]).fetchall()
    finally:
        con.unregister("_link_enrol_nodes")
    return [(int(a), int(b)) for a, b in rows]
