"""Provisional person ids between annual runs: new records scored against the current MDM.

CCGI sends every week and colleges every term; the annual link runs once a year. Between runs,
``link_provisional`` gives every crosswalk unit that the last annual run did not see a
**provisional** person id, without changing any existing id:

1. the units in staging that ``mdm.crosswalk`` does not hold are the new ones (looked for in
   the rows of the files just loaded when the caller names them, else in all staging: one
   pass over key columns); only **their** staging rows are standardised, by the annual run's
   own code and identity columns (``build_identities``, ``identity_extras``), with the names
   of the MDM's identities (``mdm.identities``, the last annual run's) counted in as the
   vocabulary, so a new record comes out as a build over all staging makes it; the existing
   units are not standardised again: their identities are the annual run's;
2. the last annual run's saved model (``model.json``: same comparisons, same trained m and u,
   same blocking rules) scores new records against the MDM (Splink's ``predict_between``)
   and against each other (``predict_within``). The MDM side is only the units the model's
   blocking rules pair with a new record (one DuckDB join per rule of ``mdm.identities``
   with the new records), which makes the same pairs as the whole MDM would; term
   frequencies are the whole MDM's;
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

Missing evidence: with no annual run yet (no crosswalk, no saved model, or its identities
gone) there is nothing to score against and the call is refused (``NotFound``), never
guessed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from splink import DuckDBAPI, Linker
from splink.internals.blocking import ExplodingBlockingRule

from core import tables
from core.calpads import FILE_TYPES
from core.duck import columns_of, memory_only, table_exists
from core.errors import NotFound
from linkage.identity_extras import identity_extras
from linkage.model import MODEL_COLUMNS
from linkage.standardise import build_identities, vocabulary_of
from linkage.training import TrainingReport, captured_splink_messages

PROVISIONAL_IDENTITIES = f"{tables.MDM}.provisional_identities"
PROVISIONAL_LINKS = f"{tables.MDM}.provisional_links"
_KEYS = "source_system, partner_org, source_person_id"
_TF_COLUMNS = ("first_name", "last_name")
_NEW_KEYS = "_prov_new_keys"  # temp: the units the last annual run did not see
_NEW = "_prov_new"  # registered: their standardised identities
_MDM = (f"(SELECT i.* FROM {tables.IDENTITIES} i ANTI JOIN {_NEW_KEYS} k "
        "ON k.source_system = i.source_system AND k.partner_org = i.partner_org "
        "AND k.source_person_id = i.source_person_id)")
# CALPADS record types that give a unit an identity (as linkage/standardise.py reads them)
_IDENTITY_FIELDS = {"reporting_lea", "ssid", "last_name", "birth_date"}


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
    mdm_candidates: int = 0  # MDM units sharing a blocking key with a new unit (scored)

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
    if not table_exists(con, tables.IDENTITIES):
        raise NotFound(f"the standardised identities of the annual run ({tables.IDENTITIES}) "
                       "are missing: run `c2c link` again")
    return str(row[0]), path


def _unit_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, bool]]:
    """Staging tables keyed by crosswalk unit: (table, source system, partner SQL, person id
    SQL, whether its rows give a unit an identity). Standardisation and its identity columns
    read these only, so the rows of a set of units are all it needs to build their
    identities (a test compares the result with a build over all staging)."""
    found: list[tuple[str, str, str, str, bool]] = []
    for file_type in FILE_TYPES:
        table = tables.calpads_staging(file_type)
        cols = columns_of(con, table)
        if {"reporting_lea", "ssid"} <= cols:
            found.append((table, "calpads", "reporting_lea", "ssid", cols >= _IDENTITY_FIELDS))
    college = tables.csv_staging("college_students")
    if table_exists(con, college):
        found.append((college, "college", "college_code", "student_id", True))
    ccgi = tables.csv_staging("ccgi_activity")
    if table_exists(con, ccgi):
        found.append((ccgi, "ccgi", "'CCGI'", "ccgi_account_id", True))
    return found


def _key_expr(partner: str) -> str:
    return partner if partner.startswith("'") else f"trim(CAST(t.{partner} AS VARCHAR))"


def _keys_of(source: str, partner: str) -> str:
    """The new keys of one source, a constant partner (CCGI) filtered here: a join condition
    that is only ``k.partner_org = 'CCGI'`` makes DuckDB join block by block, not by hash
    (1,393 new accounts against 1M MDM units: a minute)."""
    where = f" AND partner_org = {partner}" if partner.startswith("'") else ""
    return (f"(SELECT partner_org, source_person_id FROM {_NEW_KEYS} "
            f"WHERE source_system = '{source}'{where})")


def _key_match(partner: str, person: str) -> str:
    match = f"k.source_person_id = trim(CAST(t.{person} AS VARCHAR))"
    return match if partner.startswith("'") else f"{match} AND k.partner_org = {_key_expr(partner)}"


def _unit_key(source: str, partner: str, person: str) -> str:
    return (f"'{source}' AS source_system, {_key_expr(partner)} AS partner_org, "
            f"trim(CAST(t.{person} AS VARCHAR)) AS source_person_id")


def _find_new_units(con: duckdb.DuckDBPyConnection,
                    units: list[tuple[str, str, str, str, bool]],
                    files: Sequence[str] | None) -> None:
    """``_prov_new_keys``: the units in staging (in the rows of ``files`` when given) that the
    crosswalk does not hold. One pass over key columns; nothing is standardised."""
    where = ""
    if files is not None:
        where = " WHERE t.file_id IN ({})".format(
            ", ".join("'" + f.replace("'", "''") + "'" for f in files) or "NULL")
    selects = [f"SELECT DISTINCT {_unit_key(source, partner, person)} FROM {table} t{where}"
               for table, source, partner, person, identity in units if identity]
    body = " UNION ".join(selects) if selects else (
        "SELECT NULL::VARCHAR AS source_system, NULL::VARCHAR AS partner_org, "
        "NULL::VARCHAR AS source_person_id LIMIT 0")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {_NEW_KEYS} AS
        SELECT s.* FROM ({body}) s ANTI JOIN {tables.CROSSWALK} x USING ({_KEYS})
        WHERE nullif(s.source_person_id, '') IS NOT NULL AND s.partner_org IS NOT NULL""")


def _new_identities(con: duckdb.DuckDBPyConnection, run_id: str,
                    files: Sequence[str] | None) -> pa.Table:
    """The new units' identities, standardised by the annual run's code over their own staging
    rows only, with the MDM's names as the vocabulary (``build_identities`` with a
    ``Vocabulary``): the existing units' rows are neither read nor standardised again."""
    units = _unit_tables(con)
    _find_new_units(con, units, files)
    sources = {r[0] for r in con.execute(f"SELECT DISTINCT source_system FROM {_NEW_KEYS}"
                                         ).fetchall()}
    mem = memory_only()
    try:
        mem.execute(f"CREATE SCHEMA {tables.STAGING}")
        for table, source, partner, person, _ in units:
            # a table of a source with no new unit: its columns only (the build reads them)
            rows = con.execute(
                f"SELECT * FROM {table} LIMIT 0" if source not in sources else
                f"SELECT t.* FROM {table} t SEMI JOIN {_keys_of(source, partner)} k "
                f"ON {_key_match(partner, person)}"
            ).fetch_arrow_table()
            mem.register("_prov_rows", rows)
            mem.execute(f"CREATE TABLE {table} AS FROM _prov_rows")
            mem.unregister("_prov_rows")
        vocabulary = vocabulary_of(con, _MDM)
        build_identities(mem, run_id, extras=identity_extras(mem),
                         target=PROVISIONAL_IDENTITIES, vocabulary=vocabulary)
        return mem.execute(f"SELECT * FROM {PROVISIONAL_IDENTITIES} ORDER BY unit_id"
                           ).fetch_arrow_table()
    finally:
        mem.close()


def _frame(table: pa.Table) -> pa.Table:
    return table.select(list(MODEL_COLUMNS)).rename_columns(["unique_id", *MODEL_COLUMNS[1:]])


def _candidates(con: duckdb.DuckDBPyConnection, rules: list[Any]) -> pa.Table:
    """The MDM units the model's blocking rules pair with a new unit, with their person ids:
    one join per rule of the MDM's identities with the new units' blocking keys (the MDM as
    ``l``, as ``predict_between`` puts it). Splink's blocking of these against the new units
    makes the same pairs as against the whole MDM, since every pair has its MDM unit here."""
    if any(isinstance(rule, ExplodingBlockingRule) for rule in rules):
        joins = f"SELECT unit_id FROM {tables.IDENTITIES}"  # no key to join on: all of them
    else:
        joins = "\nUNION\n".join(
            f"SELECT l.unit_id FROM {tables.IDENTITIES} l JOIN {_NEW} r "
            f"ON ({rule.blocking_rule_sql})" for rule in rules)
    cols = ", ".join(f"i.{c}" for c in MODEL_COLUMNS)
    return con.execute(f"""
        WITH c AS ({joins})
        SELECT {cols}, x.person_id FROM {tables.IDENTITIES} i SEMI JOIN c USING (unit_id)
        JOIN {tables.CROSSWALK} x USING ({_KEYS})  -- never a new unit: it has no person
        ORDER BY i.unit_id""").fetch_arrow_table()


def _term_frequencies(con: duckdb.DuckDBPyConnection, column: str) -> pa.Table:
    """Splink's term frequency table of ``column`` over the whole MDM (its SQL: share of the
    non-null values), for the values the new units hold; the others are never looked up
    (a pair's tf is its values', and every pair has a new unit)."""
    return con.execute(f"""
        WITH m AS (SELECT {column} FROM {_MDM})
        SELECT {column}, CAST(count(*) AS DOUBLE) / (SELECT count({column}) FROM m)
               AS tf_{column}
        FROM m WHERE {column} IN (SELECT {column} FROM {_NEW})
        GROUP BY 1""").fetch_arrow_table()


def link_provisional(
    con: duckdb.DuckDBPyConnection, *, runs_dir: Path, run_id: str, threshold: float,
    files: Sequence[str] | None = None,
) -> ProvisionalSummary:
    """Give every unit the last annual run did not see a provisional person id (module doc).
    ``files``: the ids of the files just loaded (a weekly CCGI file): only their rows are
    searched for such units, instead of every staging row; all rows of a unit found are
    standardised either way."""
    began = time.perf_counter()
    model_run, model_path = _latest_model(con, runs_dir)
    identities = _new_identities(con, run_id, files)
    # unit ids clear of the MDM's: both sides meet in one id space when pairs are assigned
    top = con.execute(f"SELECT coalesce(max(unit_id), 0) FROM {tables.IDENTITIES}").fetchone()
    offset = int(top[0]) if top else 0
    identities = identities.set_column(
        identities.schema.get_field_index("unit_id"), "unit_id",
        pc.add(identities.column("unit_id"), offset))
    mdm_units = con.execute(f"SELECT count(*) FROM {tables.CROSSWALK}").fetchone()
    between: list[tuple[int, int, float]] = []
    within: list[tuple[int, int, float]] = []
    candidates = pa.table({"unit_id": pa.array([], pa.int64()),
                           "person_id": pa.array([], pa.string())})
    if identities.num_rows:
        con.register(_NEW, identities)
        mem = memory_only()
        try:
            db_api = DuckDBAPI(mem)
            new_df = db_api.register(_frame(identities), dataset_display_name="new_units")
            with captured_splink_messages(TrainingReport()):
                linker = Linker(new_df, json.loads(model_path.read_text(encoding="utf-8")),
                                log_level=logging.WARNING)
                candidates = _candidates(
                    con, list(linker._settings_obj._blocking_rules_to_generate_predictions))
                old_df = db_api.register(_frame(candidates), dataset_display_name="mdm_units")
                for column in _TF_COLUMNS:  # term frequencies of the whole MDM
                    linker.table_management.register_term_frequency_lookup(
                        db_api.register(_term_frequencies(con, column)), column)
                if candidates.num_rows:
                    between = _edges(linker.inference.predict_between(
                        old_df, new_df, threshold_match_probability=threshold))
                within = _edges(linker.inference.predict_within(
                    new_df, threshold_match_probability=threshold))
        finally:
            mem.close()
            con.unregister(_NEW)
    person_of_unit = dict(zip(candidates.column("unit_id").to_pylist(),
                              candidates.column("person_id").to_pylist(), strict=True))
    rows = _assign(con, identities, person_of_unit, between, within, run_id)
    con.execute(f"DROP TABLE IF EXISTS {_NEW_KEYS}")
    return ProvisionalSummary(
        run_id=run_id, model_run_id=model_run, mdm_units=int(mdm_units[0]) if mdm_units else 0,
        new_units=identities.num_rows,
        linked_to_existing=sum(1 for r in rows if not r["new_person"]),
        new_persons=len({r["person_id"] for r in rows if r["new_person"]}),
        pairs_scored=len(between) + len(within),
        seconds=round(time.perf_counter() - began, 2), mdm_candidates=candidates.num_rows)


def _edges(scored: Any) -> list[tuple[int, int, float]]:
    table = scored.as_pyarrow_table()
    return list(zip(table.column("unique_id_l").to_pylist(),
                    table.column("unique_id_r").to_pylist(),
                    table.column("match_probability").to_pylist(), strict=True))


def _assign(con: duckdb.DuckDBPyConnection, new: pa.Table, person_of_unit: dict[int, str],
            between: list[tuple[int, int, float]], within: list[tuple[int, int, float]],
            run_id: str) -> list[dict[str, Any]]:
    """Write ``mdm.provisional_links``: each new unit's person (existing or provisional);
    ``person_of_unit``: the scored MDM units' person ids."""
    new_ids = set(new.column("unit_id").to_pylist())
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
        con.register("_prov_units", new.select(["unit_id", *_KEYS.split(", ")]))
        try:
            con.execute(f"""INSERT INTO {PROVISIONAL_LINKS}
                SELECT i.source_system, i.partner_org, i.source_person_id, r.person_id,
                       r.new_person, r.match_probability, true, '{run_id}'
                FROM _prov_rows r JOIN _prov_units i ON i.unit_id = r.unit_id""")
        finally:
            con.unregister("_prov_rows")
            con.unregister("_prov_units")
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
