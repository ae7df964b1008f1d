"""Provisional person ids between annual runs: new records scored against the current MDM.

CCGI sends every week and colleges every term; the annual link runs once a year. Between runs,
``link_provisional`` gives every crosswalk unit that the last annual run did not see a
**provisional** person id, without changing any existing id:

1. all staging is standardised exactly as the annual run does (same code, same extras) into
   ``mdm.provisional_identities``; the units already in ``mdm.crosswalk`` are the MDM side,
   the others are new;
2. the last annual run's saved model (``model.json``: same comparisons, same trained m and u,
   same blocking rules) scores new records against the MDM (Splink's ``predict_between``)
   and against each other (``predict_within``), term frequencies taken from the MDM;
3. a new record joins the existing person of its most probable pair at or above the link
   threshold; new records linked to no existing person are grouped by their own pairs at or
   above it and get a provisional id ``T...`` (never a registered person id).

``mdm.provisional_links`` holds the result (replaced by each provisional run). The next
annual run links everything from scratch; ``provisional_agreement`` then says, per
provisional unit, whether the annual run **confirmed** it (same existing person; or a
provisional group that became one new person of its own), **merged** it (a provisional new
person that the annual run put with an existing person or with another group) or **split**
it (a unit that went to another person than provisionally given). Anything built on a
provisional link must say so: the table's ``provisional`` column is always true, and the
rows are separate from ``mdm.crosswalk``, which only annual runs write.

Missing evidence: with no annual run yet (no crosswalk, or no saved model) there is nothing
to score against and the call is refused (``NotFound``), never guessed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from core import tables
from core.errors import NotFound
from linkage.identity_extras import identity_extras
from linkage.model import MODEL_COLUMNS
from linkage.standardise import build_identities
from linkage.training import TrainingReport, captured_splink_messages

PROVISIONAL_IDENTITIES = f"{tables.MDM}.provisional_identities"
PROVISIONAL_LINKS = f"{tables.MDM}.provisional_links"
_KEYS = "source_system, partner_org, source_person_id"
_TF_COLUMNS = ("first_name", "last_name")


@dataclass
class ProvisionalSummary:
    run_id: str
    model_run_id: str  # the annual run whose model and crosswalk the new records met
    mdm_units: int
    new_units: int
    linked_to_existing: int  # new units given an existing person id
    new_persons: int  # provisional ids minted for new units linked to no existing person
    pairs_scored: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _latest_model(con: duckdb.DuckDBPyConnection, runs_dir: Path) -> tuple[str, Path]:
    row = None
    if con.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = 'mdm' "
                   "AND table_name = 'link_runs'").fetchone():
        row = con.execute(f"SELECT run_id FROM {tables.LINK_RUNS} WHERE status = 'succeeded' "
                          "ORDER BY finished_at DESC LIMIT 1").fetchone()
    if row is None:
        raise NotFound("no finished annual link run: run `c2c link` before provisional links")
    path = runs_dir / str(row[0]) / "model.json"
    if not path.exists():
        raise NotFound(f"the model of annual run {row[0]} is missing ({path})")
    return str(row[0]), path


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    table = con.execute(sql).fetch_arrow_table()
    return table.rename_columns(["unique_id", *MODEL_COLUMNS[1:]])


def link_provisional(
    con: duckdb.DuckDBPyConnection, *, runs_dir: Path, run_id: str, threshold: float
) -> ProvisionalSummary:
    """Give every unit the last annual run did not see a provisional person id (module doc)."""
    began = time.perf_counter()
    model_run, model_path = _latest_model(con, runs_dir)
    build_identities(con, run_id, extras=identity_extras(con), target=PROVISIONAL_IDENTITIES)
    cols = ", ".join(f"i.{c}" for c in MODEL_COLUMNS)
    old = _frame(con, f"SELECT {cols} FROM {PROVISIONAL_IDENTITIES} i SEMI JOIN "
                      f"{tables.CROSSWALK} x USING ({_KEYS}) ORDER BY i.unit_id")
    new = _frame(con, f"SELECT {cols} FROM {PROVISIONAL_IDENTITIES} i ANTI JOIN "
                      f"{tables.CROSSWALK} x USING ({_KEYS}) ORDER BY i.unit_id")
    between: list[tuple[int, int, float]] = []
    within: list[tuple[int, int, float]] = []
    if new.num_rows:
        mem = duckdb.connect()
        try:
            db_api = DuckDBAPI(mem)
            old_df = db_api.register(old, dataset_display_name="mdm_units")
            new_df = db_api.register(new, dataset_display_name="new_units")
            with captured_splink_messages(TrainingReport()):
                linker = Linker(old_df, json.loads(model_path.read_text(encoding="utf-8")),
                                log_level=logging.WARNING)
                for column in _TF_COLUMNS:  # term frequencies of the MDM
                    linker.table_management.compute_tf_table(column)
                scored = linker.inference.predict_between(
                    old_df, new_df, threshold_match_probability=threshold)
                between = _edges(scored)
                within = _edges(linker.inference.predict_within(
                    new_df, threshold_match_probability=threshold))
        finally:
            mem.close()
    rows = _assign(con, new, between, within, run_id)
    con.execute(f"DROP TABLE IF EXISTS {PROVISIONAL_IDENTITIES}")
    return ProvisionalSummary(
        run_id=run_id, model_run_id=model_run, mdm_units=old.num_rows, new_units=new.num_rows,
        linked_to_existing=sum(1 for r in rows if not r["new_person"]),
        new_persons=len({r["person_id"] for r in rows if r["new_person"]}),
        pairs_scored=len(between) + len(within),
        seconds=round(time.perf_counter() - began, 2))


def _edges(scored: Any) -> list[tuple[int, int, float]]:
    table = scored.as_pyarrow_table()
    return list(zip(table.column("unique_id_l").to_pylist(),
                    table.column("unique_id_r").to_pylist(),
                    table.column("match_probability").to_pylist(), strict=True))


def _assign(con: duckdb.DuckDBPyConnection, new: pa.Table, between: list[tuple[int, int, float]],
            within: list[tuple[int, int, float]], run_id: str) -> list[dict[str, Any]]:
    """Write ``mdm.provisional_links``: each new unit's person (existing or provisional)."""
    new_ids = set(new.column("unique_id").to_pylist())
    person_of_unit = dict(con.execute(
        f"SELECT i.unit_id, x.person_id FROM {PROVISIONAL_IDENTITIES} i "
        f"JOIN {tables.CROSSWALK} x USING ({_KEYS})").fetchall())
    best: dict[int, tuple[float, str]] = {}  # new unit -> (probability, existing person)
    for a, b, p in between:
        unit, other = (a, b) if a in new_ids else (b, a)
        if unit in new_ids and other in person_of_unit and (
                unit not in best or (p, person_of_unit[other]) > best[unit]):
            best[unit] = (p, person_of_unit[other])
    # new units grouped by their pairs among themselves; a group with an existing person
    # follows its most probable link, the others get one provisional id per group
    parent = {u: u for u in new_ids}

    def root(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a, b, _ in within:
        if a in new_ids and b in new_ids:
            parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for u in sorted(new_ids):
        groups.setdefault(root(u), []).append(u)
    rows: list[dict[str, Any]] = []
    minted = 0
    for members in groups.values():
        linked = [best[u] for u in members if u in best]
        if linked:
            probability, person = max(linked)
            new_person = False
        else:
            minted += 1
            person, probability, new_person = f"T{run_id}-{minted:06d}", 1.0, True
        for u in members:
            own = best.get(u)
            rows.append({"unit_id": u, "person_id": person, "new_person": new_person,
                         "match_probability": own[0] if own else probability})
    con.execute(f"""CREATE OR REPLACE TABLE {PROVISIONAL_LINKS} (
        source_system VARCHAR NOT NULL, partner_org VARCHAR NOT NULL,
        source_person_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL,
        new_person BOOLEAN NOT NULL,      -- a provisional id, not a registered person id
        match_probability DOUBLE NOT NULL,
        provisional BOOLEAN NOT NULL,     -- always true: outcomes built on it must say so
        run_id VARCHAR NOT NULL)""")
    if rows:
        con.register("_prov_rows", pa.Table.from_pylist(rows))
        try:
            con.execute(f"""INSERT INTO {PROVISIONAL_LINKS}
                SELECT i.source_system, i.partner_org, i.source_person_id, r.person_id,
                       r.new_person, r.match_probability, true, '{run_id}'
                FROM _prov_rows r JOIN {PROVISIONAL_IDENTITIES} i ON i.unit_id = r.unit_id""")
        finally:
            con.unregister("_prov_rows")
    return rows


@dataclass
class Agreement:
    units: int  # provisional units the annual run linked
    confirmed: int
    merged: int  # a provisional new person the annual run joined to another person
    split: int  # given another person than the provisional one
    agreement: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def provisional_agreement(con: duckdb.DuckDBPyConnection) -> Agreement:
    """Provisional links against the crosswalk of the annual run that followed them.

    A unit provisionally given an existing person is confirmed when the annual run gives it
    that person. A provisional group (new person) is confirmed when the annual run puts all
    its units in one person that holds nothing else the provisional run knew (no existing
    unit, no other group): else its units count as merged. A unit given another existing
    person than provisionally, or torn from its group, counts as split.
    """
    if not con.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = 'mdm' "
                       "AND table_name = 'provisional_links'").fetchone():
        raise NotFound("no provisional links: run `c2c link-provisional` first")
    row = con.execute(f"""
        WITH p AS (SELECT p.*, x.person_id AS annual FROM {PROVISIONAL_LINKS} p
                   JOIN {tables.CROSSWALK} x USING ({_KEYS})),
             -- annual persons that hold units the provisional run did not treat as new
             held AS (SELECT x.person_id AS annual, count(*) AS others
                      FROM {tables.CROSSWALK} x ANTI JOIN {PROVISIONAL_LINKS} p USING ({_KEYS})
                      GROUP BY 1),
             grp AS (SELECT person_id, count(DISTINCT annual) AS annuals, any_value(annual) AS a
                     FROM p WHERE new_person GROUP BY 1),
             shared AS (SELECT annual, count(DISTINCT person_id) AS groups FROM p
                        GROUP BY 1),
             judged AS (
                SELECT CASE
                    WHEN NOT p.new_person AND p.annual = p.person_id THEN 'confirmed'
                    WHEN NOT p.new_person THEN 'split'
                    WHEN g.annuals > 1 THEN 'split'
                    WHEN coalesce(h.others, 0) = 0 AND s.groups = 1 THEN 'confirmed'
                    ELSE 'merged' END AS verdict
                FROM p LEFT JOIN grp g ON g.person_id = p.person_id
                LEFT JOIN held h ON h.annual = p.annual
                LEFT JOIN shared s ON s.annual = p.annual)
        SELECT count(*), count(*) FILTER (WHERE verdict = 'confirmed'),
               count(*) FILTER (WHERE verdict = 'merged'),
               count(*) FILTER (WHERE verdict = 'split')
        FROM judged""").fetchone()
    units, confirmed, merged, split = (int(v) for v in row) if row else (0, 0, 0, 0)
    return Agreement(units, confirmed, merged, split, confirmed / units if units else None)
