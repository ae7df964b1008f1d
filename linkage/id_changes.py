"""The change log of person ids: what each annual run did to earlier ids, record by record, and why.

``linkage.stable_ids`` logs id-level events in ``mdm.person_lineage`` (create, merge, split,
retire). This module adds, inside the same transaction:

- a **reason** on every lineage row of the run;
- ``mdm.id_changes``: one row per crosswalk unit (a partner's record of a person) whose
  person id this run changed, with the old and new id, the event and the reason. Units
  whose id did not change, and records new this run, have no row.

Unit events: ``merged`` (its id was retired into a survivor and it carries the survivor),
``split`` (it left its old id for an id minted this run), ``moved`` (it left its old id for
another existing id, the old id living on elsewhere) and ``withdrawn`` (its records are gone:
a superseded or withdrawn file; its id, if no record is left, is retired).

Reasons, first that holds:

1. ``clerical_non_match``: a reviewer said *non-match* for a pair between the unit's new
   person and its old id (decisions made since the previous run);
2. ``clerical_match``: a reviewer said *match* for a pair inside the new person whose two
   records had different old ids;
3. ``new_records``: the new person holds records this run saw first (new data bridged or
   pulled them apart);
4. ``model_or_constraints``: none of the above: the same records scored or constrained
   differently by this run's trained model and cannot-link rules.

``withdrawn`` is always ``records_withdrawn``; a ``create`` is ``new_records``. Lineage written
before reasons were recorded reads ``not_recorded``: absence is not reported as any reason.

Reads: ``operator_log`` (exact counts, for the operator's own CLI), ``partner_counts`` (the
units of one partner's records by event and reason: raw counts that the caller gates before
they leave) and ``cohort_counts`` (per earlier extract, how many of its people's ids changed,
from ``mdm.extract_persons``, which the extract build fills).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from core import tables
from core.duck import table_exists

ID_CHANGES = f"{tables.MDM}.id_changes"
EXTRACT_PERSONS = f"{tables.MDM}.extract_persons"
UNIT_EVENTS = ("merged", "split", "moved", "withdrawn")
REASONS = ("clerical_non_match", "clerical_match", "new_records", "model_or_constraints",
           "records_withdrawn")
NOT_RECORDED = "not_recorded"

ID_CHANGES_DDL = f"""CREATE TABLE IF NOT EXISTS {ID_CHANGES} (
        run_id VARCHAR NOT NULL,
        source_system VARCHAR NOT NULL,
        partner_org VARCHAR NOT NULL,
        source_person_id VARCHAR NOT NULL,
        old_person_id VARCHAR NOT NULL,
        new_person_id VARCHAR,           -- NULL: withdrawn
        event VARCHAR NOT NULL,          -- merged | split | moved | withdrawn
        reason VARCHAR NOT NULL
    )"""
EXTRACT_PERSONS_DDL = f"""CREATE TABLE IF NOT EXISTS {EXTRACT_PERSONS} (
        request_id VARCHAR NOT NULL,     -- the data request whose extract released the person
        person_id VARCHAR NOT NULL,      -- the id at build time
        recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    )"""
DDL = (ID_CHANGES_DDL, EXTRACT_PERSONS_DDL,
       f"ALTER TABLE {tables.PERSON_LINEAGE} ADD COLUMN IF NOT EXISTS reason VARCHAR")
# The reasons an id-level event has without looking at its units
CREATE_REASON = "new_records"
RETIRE_REASON = "records_withdrawn"


_KEYS = "source_system, partner_org, source_person_id"


def _reason_sql(cluster: str, old: str) -> str:
    """The reason for a change of ``old`` id into person ``cluster`` (module doc order)."""
    return f"""CASE
        WHEN EXISTS (SELECT 1 FROM _chg_decisions d WHERE d.decision = 'non_match' AND (
                (d.cl = {cluster} AND d.ol_r = {old}) OR (d.cr = {cluster} AND d.ol_l = {old})))
            THEN 'clerical_non_match'
        WHEN EXISTS (SELECT 1 FROM _chg_decisions d WHERE d.decision = 'match'
                AND d.cl = {cluster} AND d.cr = {cluster}
                AND d.ol_l IS DISTINCT FROM d.ol_r) THEN 'clerical_match'
        WHEN {cluster} IN (SELECT cluster_id FROM _chg_fresh) THEN 'new_records'
        ELSE 'model_or_constraints' END"""


def record_changes(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Write this run's ``mdm.id_changes`` and lineage reasons.

    Called by ``stable_ids.assign_person_ids`` after its lineage rows and before the old
    crosswalk is replaced: reads its temp tables (``_link_clusters``, ``_link_assigned``,
    ``_link_carried``, ``_link_survivor``, ``_link_minted``) and the old ``mdm.crosswalk``.
    """
    if not con.execute(f"SELECT 1 FROM {tables.CROSSWALK} LIMIT 1").fetchone():
        return  # no earlier ids, so no change to log (the joins took 10 s at 8M to find none)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _chg_units AS
        SELECT c.source_system, c.partner_org, c.source_person_id, c.cluster_id,
               x.person_id AS old_person_id, a.person_id AS new_person_id
        FROM _link_clusters c JOIN _link_assigned a USING (cluster_id)
        LEFT JOIN {tables.CROSSWALK} x USING ({_KEYS})""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _chg_fresh AS
        SELECT DISTINCT cluster_id FROM _chg_units WHERE old_person_id IS NULL""")
    # Decisions made since the run the old crosswalk came from (all of them when that run's
    # start is unknown: an older decision then may be named as a reason, never hidden).
    since = con.execute(f"""SELECT min(r.started_at) FROM {tables.LINK_RUNS} r
        WHERE r.run_id IN (SELECT DISTINCT run_id FROM {tables.CROSSWALK})""").fetchone()
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _chg_decisions AS
        SELECT d.decision, ul.cluster_id AS cl, ur.cluster_id AS cr,
               ul.old_person_id AS ol_l, ur.old_person_id AS ol_r
        FROM {tables.REVIEW_DECISIONS} d
        JOIN _chg_units ul ON ul.source_system = d.source_system_l
             AND ul.partner_org = d.partner_org_l AND ul.source_person_id = d.source_person_id_l
        JOIN _chg_units ur ON ur.source_system = d.source_system_r
             AND ur.partner_org = d.partner_org_r AND ur.source_person_id = d.source_person_id_r
        WHERE ?::TIMESTAMP IS NULL OR d.decided_at >= ?::TIMESTAMP""",
                [since[0] if since else None, since[0] if since else None])
    con.execute(f"""INSERT INTO {ID_CHANGES}
        WITH retired AS (  -- old ids merged into a survivor this run
            SELECT c.person_id AS old_id, s.person_id AS survivor
            FROM _link_carried c JOIN _link_survivor s USING (cluster_id)
            WHERE c.person_id <> s.person_id),
        changed AS (
            SELECT u.*, CASE
                WHEN r.survivor = u.new_person_id THEN 'merged'
                WHEN u.new_person_id IN (SELECT person_id FROM _link_assigned a
                     WHERE a.cluster_id IN (SELECT cluster_id FROM _link_minted)) THEN 'split'
                ELSE 'moved' END AS event
            FROM _chg_units u LEFT JOIN retired r ON r.old_id = u.old_person_id
            WHERE u.old_person_id IS NOT NULL AND u.old_person_id <> u.new_person_id)
        SELECT ?, source_system, partner_org, source_person_id, old_person_id, new_person_id,
               event, {_reason_sql('cluster_id', 'old_person_id')}
        FROM changed
        UNION ALL
        SELECT ?, x.source_system, x.partner_org, x.source_person_id, x.person_id, NULL,
               'withdrawn', 'records_withdrawn'
        FROM {tables.CROSSWALK} x ANTI JOIN _link_clusters c USING ({_KEYS})""",
                [run_id, run_id])
    # id-level reasons: a merge or split takes the reason of its units' change (a create or
    # retire was written with its reason: updating millions of rows of a first run took 2.3 s
    # at 2M records)
    con.execute(f"""UPDATE {tables.PERSON_LINEAGE} l SET reason = CASE l.event
            WHEN 'merge' THEN (SELECT any_value(reason) FROM {ID_CHANGES} c
                               WHERE c.run_id = l.run_id AND c.event = 'merged'
                               AND c.old_person_id = l.person_id)
            WHEN 'split' THEN (SELECT any_value(reason) FROM {ID_CHANGES} c
                               WHERE c.run_id = l.run_id AND c.event = 'split'
                               AND c.new_person_id = l.person_id) END
        WHERE l.run_id = ? AND l.event IN ('merge', 'split')""", [run_id])
    for temp in ("_chg_units", "_chg_fresh", "_chg_decisions"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")


# ------------------------------------------------------------------ reading


@dataclass
class ChangeLog:
    """One run's changes, exact (the operator's own view)."""

    run_id: str
    ids: dict[str, dict[str, int]] = field(default_factory=dict)  # event -> reason -> ids
    units: dict[str, dict[str, int]] = field(default_factory=dict)  # event -> reason -> units
    # partner -> event -> units of that partner's records
    by_partner: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def latest_run(con: duckdb.DuckDBPyConnection) -> str | None:
    """The last succeeded annual run, or None before the first one."""
    if not table_exists(con, tables.LINK_RUNS):
        return None
    row = con.execute(f"SELECT run_id FROM {tables.LINK_RUNS} WHERE status = 'succeeded' "
                      "ORDER BY finished_at DESC LIMIT 1").fetchone()
    return str(row[0]) if row else None


def _nested(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for outer, inner, n in rows:
        out.setdefault(str(outer), {})[str(inner)] = int(n)
    return out


def operator_log(con: duckdb.DuckDBPyConnection, run_id: str) -> ChangeLog:
    """Exact counts of one run's id events and unit changes, by reason and by partner."""
    log = ChangeLog(run_id=run_id)
    if not table_exists(con, ID_CHANGES):  # no run since the change log began
        return log
    log.ids = _nested(con.execute(
        f"SELECT event, coalesce(reason, '{NOT_RECORDED}'), count(*) FROM "
        f"{tables.PERSON_LINEAGE} WHERE run_id = ? GROUP BY ALL ORDER BY ALL",
        [run_id]).fetchall())
    log.units = _nested(con.execute(
        f"SELECT event, reason, count(*) FROM {ID_CHANGES} WHERE run_id = ? "
        "GROUP BY ALL ORDER BY ALL", [run_id]).fetchall())
    log.by_partner = _nested(con.execute(
        f"SELECT partner_org, event, count(*) FROM {ID_CHANGES} WHERE run_id = ? "
        "GROUP BY ALL ORDER BY ALL", [run_id]).fetchall())
    return log


def partner_counts(con: duckdb.DuckDBPyConnection, run_id: str, org: str
                   ) -> list[tuple[str, str, int]]:
    """(event, reason, units) for the records ``org`` sent whose person id this run changed.
    Every event and reason is listed (zero where none) so what is absent says nothing
    different from a small count once gated. Raw counts: the caller gates them."""
    found = {} if not table_exists(con, ID_CHANGES) else {
        (e, r): int(n) for e, r, n in con.execute(
            f"SELECT event, reason, count(*) FROM {ID_CHANGES} WHERE run_id = ? "
            "AND partner_org = ? GROUP BY ALL", [run_id, org]).fetchall()}
    pairs = [(e, r) for e in UNIT_EVENTS for r in REASONS
             if (e == "withdrawn") == (r == "records_withdrawn")]
    return [(e, r, found.get((e, r), 0)) for e, r in pairs]


def record_extract_persons(con: duckdb.DuckDBPyConnection, request_id: str,
                           persons_sql: str) -> None:
    """Remember which person ids an extract released (``persons_sql`` yields ``person_id``),
    so a later run can tell its holder how many of them changed (never which)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.MDM}")
    con.execute(EXTRACT_PERSONS_DDL)
    con.execute(f"DELETE FROM {EXTRACT_PERSONS} WHERE request_id = ?", [request_id])
    con.execute(f"INSERT INTO {EXTRACT_PERSONS} (request_id, person_id) "
                f"SELECT DISTINCT ?, person_id FROM ({persons_sql})", [request_id])


@dataclass(frozen=True)
class CohortChange:
    request_id: str
    persons: int  # people the extract released
    merged: int  # of them, ids retired into another id this run
    split: int  # ids some of whose records now carry another id
    retired: int  # ids whose records are all gone


def cohort_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> list[CohortChange]:
    """Per recorded extract, how many of its people's ids this run merged, split or retired
    (an id is counted once, under the first of merge, retire, split that applies)."""
    if not (table_exists(con, EXTRACT_PERSONS) and table_exists(con, ID_CHANGES)):
        return []
    rows = con.execute(f"""
        WITH ev AS (SELECT person_id, CASE
                    WHEN bool_or(event = 'merge') THEN 'merge'
                    WHEN bool_or(event = 'retire') THEN 'retire' END AS gone
                    FROM {tables.PERSON_LINEAGE} WHERE run_id = ? GROUP BY 1),
             torn AS (SELECT DISTINCT old_person_id AS person_id FROM {ID_CHANGES}
                      WHERE run_id = ? AND event IN ('split', 'moved'))
        SELECT e.request_id, count(*),
               count(*) FILTER (WHERE ev.gone = 'merge'),
               count(*) FILTER (WHERE ev.gone IS NULL AND t.person_id IS NOT NULL),
               count(*) FILTER (WHERE ev.gone = 'retire')
        FROM {EXTRACT_PERSONS} e LEFT JOIN ev USING (person_id)
        LEFT JOIN torn t USING (person_id)
        GROUP BY 1 ORDER BY 1""", [run_id, run_id]).fetchall()
    return [CohortChange(str(r), int(p), int(m), int(s), int(t)) for r, p, m, s, t in rows]
