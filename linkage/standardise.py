"""Build ``mdm.identities``: one standardised identity per crosswalk unit.

Crosswalk unit = (source_system, partner_org, source_person_id):
CALPADS (reporting LEA, SSID), college (college code, student id), CCGI ("CCGI", account id).

Representative values: a unit usually has many staging rows (one per enrolment, program,
course ...). Its identity is the most frequent (first, middle, last, birth date, gender)
combination among its rows, preferring the record types that are *about* the person
(SINF student information, then SENR enrolment, then the rest), ties broken by the latest
file / line. ZIP is the most frequent non-empty value. ``n_rows`` keeps the support.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from core import tables
from core.calpads import FILE_TYPES
from core.duck import columns_of, table_exists
from linkage import names
from linkage.schema import IdentityColumns

# CALPADS record types with student identity fields, by preference (1 = most authoritative).
_CALPADS_PRIORITY = {"SINF": 1, "SENR": 2}


def _col(cols: set[str], name: str) -> str:
    """The column if the staging table has it, else NULL (older layouts lack some fields)."""
    return name if name in cols else "NULL::VARCHAR"


def _date(cols: set[str]) -> str:
    return "birth_date" if "birth_date" in cols else "NULL::DATE"


def _calpads_selects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """One SELECT per CALPADS record type with identity fields.

    The person records (SINF, SENR) are read whole. The others (course enrolments, programs,
    ...: millions of rows, pri 3) only matter for a unit with no person record, so they are
    anti-joined to the person records' units first (5M -> ~0 rows to group at 200k students).
    """
    usable = []
    for file_type in FILE_TYPES:
        table = tables.calpads_staging(file_type)
        if not table_exists(con, table):
            continue
        cols = columns_of(con, table)
        if not {"reporting_lea", "ssid", "last_name", "birth_date"} <= cols:
            continue  # CRSC (courses) carries no student identity
        usable.append((file_type, table, cols))
    person = [t for f, t, _ in usable if f in _CALPADS_PRIORITY]
    con.execute("CREATE OR REPLACE TEMP TABLE _link_person_units AS " + (
        " UNION ".join(f"SELECT DISTINCT reporting_lea, ssid FROM {t}" for t in person)
        if person else "SELECT NULL::VARCHAR AS reporting_lea, NULL::VARCHAR AS ssid LIMIT 0"))
    selects = []
    for file_type, table, cols in usable:
        source = table if file_type in _CALPADS_PRIORITY else (
            f"(SELECT * FROM {table} t ANTI JOIN _link_person_units k "
            f"ON k.reporting_lea = t.reporting_lea AND k.ssid = t.ssid)")
        selects.append(
            f"""SELECT 'calpads' AS source_system, reporting_lea AS partner_org,
                ssid AS source_person_id, ssid, {_col(cols, "first_name")} AS first_name,
                {_col(cols, "middle_name")} AS middle_name, last_name, birth_date,
                {_col(cols, "gender")} AS gender, {_col(cols, "address_zip")} AS zip,
                {_col(cols, "address_line_1")} AS address, {_col(cols, "address_city")} AS city,
                {_CALPADS_PRIORITY.get(file_type, 3)} AS pri,
                CAST(file_id AS VARCHAR) AS file_key, line_no
            FROM {source}"""
        )
    return selects


def _partner_selects(con: duckdb.DuckDBPyConnection) -> list[str]:
    selects = []
    college = tables.csv_staging("college_students")
    if table_exists(con, college):
        c = columns_of(con, college)
        selects.append(
            f"""SELECT 'college' AS source_system, college_code AS partner_org,
                student_id AS source_person_id, {_col(c, "ssid")} AS ssid,
                {_col(c, "first_name")} AS first_name, {_col(c, "middle_name")} AS middle_name,
                last_name, {_date(c)} AS birth_date, {_col(c, "gender")} AS gender,
                {_col(c, "zip_code")} AS zip, {_col(c, "address_line_1")} AS address,
                {_col(c, "address_city")} AS city, 1 AS pri, CAST(file_id AS VARCHAR) AS file_key,
                line_no
            FROM {college}"""
        )
    ccgi = tables.csv_staging("ccgi_activity")
    if table_exists(con, ccgi):
        c = columns_of(con, ccgi)
        selects.append(
            f"""SELECT 'ccgi' AS source_system, 'CCGI' AS partner_org,
                ccgi_account_id AS source_person_id, {_col(c, "ssid")} AS ssid,
                {_col(c, "first_name")} AS first_name, NULL::VARCHAR AS middle_name,
                {_col(c, "last_name")} AS last_name, {_date(c)} AS birth_date,
                {_col(c, "gender")} AS gender, NULL::VARCHAR AS zip, NULL::VARCHAR AS address,
                NULL::VARCHAR AS city, 1 AS pri,
                CAST(file_id AS VARCHAR) AS file_key, line_no
            FROM {ccgi}"""
        )
    return selects


@dataclass(frozen=True)
class Vocabulary:
    """Name counts of identities standardised before, added to the run's own: what lets a
    build over a few new records (linkage/provisional.py) read their names against the same
    vocabulary as a build over everything (first-name slips, joined and split surnames)."""

    first_names: Counter[str] = field(default_factory=Counter)  # first token -> identities
    surname_tokens: Counter[str] = field(default_factory=Counter)  # token -> identities
    joined_surnames: frozenset[str] = frozenset()  # surnames, spaces removed


def vocabulary_of(con: duckdb.DuckDBPyConnection, identities_sql: str) -> Vocabulary:
    """The vocabulary of built identities (rows of ``identities_sql``: ``target`` columns).

    ``first_name`` is the first token of the cleaned raw name, and the surname functions give
    the same tokens and joined form from ``last_name`` (standardised) as from the raw value,
    so the counts are the ones a build over their staging would take. One exception: a
    surname a build read back from the middle-name field counts in its joined form, not as
    the last-name field held it (rare: ``_join_split_surnames``)."""
    firsts = con.execute(f"SELECT first_name, count(*) FROM ({identities_sql}) "
                         "WHERE first_name IS NOT NULL GROUP BY 1").fetchall()
    token_units: Counter[str] = Counter()
    joined: set[str] = set()
    for last, units in con.execute(f"SELECT last_name, count(*) FROM ({identities_sql}) "
                                   "WHERE last_name IS NOT NULL GROUP BY 1").fetchall():
        for token in set(names.surname_tokens(last)):
            token_units[token] += units
        whole = names.joined_surname(last)
        if whole:
            joined.add(whole)
    return Vocabulary(Counter({str(f): int(n) for f, n in firsts}), token_units,
                      frozenset(joined))


def _name_lookup(con: duckdb.DuckDBPyConnection, vocabulary: Vocabulary) -> None:
    """Standardise each distinct raw name once in Python; join back in SQL."""
    firsts = [r[0] for r in con.execute(
        "SELECT DISTINCT first_name FROM _link_rep WHERE first_name IS NOT NULL "
        "UNION SELECT DISTINCT middle_name FROM _link_rep WHERE middle_name IS NOT NULL"
    ).fetchall()]
    last_rows = con.execute(
        "SELECT last_name, count(*) FROM _link_rep WHERE last_name IS NOT NULL GROUP BY 1"
    ).fetchall()
    lasts = [r[0] for r in last_rows]
    given_clean = [names.clean(v) for v in firsts]
    given_first = [c.split(" ")[0] if c else None for c in given_clean]
    # a rare first name one keystroke from a common one also takes the common name's
    # nickname forms (MCIHAEL meets MICK, KAYY meets KATHERINE): evidence the nickname level
    # weighs, and the twin rule then leaves the pair to the model
    first_counts: Counter[str] = Counter()
    token_of = dict(zip(firsts, given_first, strict=True))
    for raw, units in con.execute(
            "SELECT first_name, count(*) FROM _link_rep WHERE first_name IS NOT NULL "
            "GROUP BY 1").fetchall():
        token = token_of.get(raw)
        if token:
            first_counts[token] += units
    first_counts.update(vocabulary.first_names)
    slips = names.slip_corrections(first_counts)
    given = pa.table({
        "raw": pa.array(firsts, pa.string()),
        "std": pa.array(given_clean, pa.string()),
        "first_token": pa.array(given_first, pa.string()),
        "nick": pa.array([names.nickname_forms(t, slips.get(t or "")) for t in given_first],
                         pa.list_(pa.string())),
    })
    tokens = [names.surname_tokens(v) for v in lasts]
    token_units: Counter[str] = Counter()
    for found, (_, units) in zip(tokens, last_rows, strict=True):
        for token in set(found):
            token_units[token] += units
    token_units.update(vocabulary.surname_tokens)
    tokens = [names.split_joined(found, token_units) for found in tokens]
    surname = pa.table({
        "raw": pa.array(lasts, pa.string()),
        "std": pa.array([names.standard_surname(v) for v in lasts], pa.string()),
        "tokens": pa.array(tokens, pa.list_(pa.string())),
    })
    con.register("_link_given_arrow", given)
    con.register("_link_surname_arrow", surname)
    con.execute("CREATE OR REPLACE TEMP TABLE _link_given AS FROM _link_given_arrow")
    con.execute("CREATE OR REPLACE TEMP TABLE _link_surname AS FROM _link_surname_arrow")
    con.unregister("_link_given_arrow")
    con.unregister("_link_surname_arrow")


def _join_split_surnames(con: duckdb.DuckDBPyConnection, vocabulary: Vocabulary) -> None:
    """A compound surname typed across the middle- and last-name fields (middle DE, last
    LA CRUZ; middle TORRES, last LEAL) is read back as one surname, middle emptied.

    A form with one surname field makes applicants put the first surname where the middle
    name goes. The middle field is read as surname when it holds only particles (DE, DEL
    ...: never a given name alone), or when middle + last, written together, is a surname
    some other identity of this run carries (the data is the vocabulary, as for joined
    compounds in ``names.split_joined``). A real middle name meets neither test and stays.
    """
    pairs = con.execute(
        "SELECT DISTINCT middle_name, last_name FROM _link_rep "
        "WHERE middle_name IS NOT NULL AND last_name IS NOT NULL").fetchall()
    if not pairs:
        return
    known = {r[0] for r in con.execute(
        "SELECT DISTINCT last_name FROM _link_rep WHERE last_name IS NOT NULL").fetchall()}
    surnames = {j for j in (names.joined_surname(v) for v in known) if j}
    surnames |= vocabulary.joined_surnames
    moved = [(m, last) for m, last in pairs if names.surname_split_across(m, last, surnames)]
    if not moved:
        return
    con.register("_link_moved_arrow", pa.table({
        "middle_name": pa.array([m for m, _ in moved], pa.string()),
        "last_name": pa.array([last for _, last in moved], pa.string())}))
    try:
        con.execute("""
            UPDATE _link_rep r SET last_name = r.middle_name || ' ' || r.last_name,
                                   middle_name = NULL
            FROM _link_moved_arrow m
            WHERE m.middle_name = r.middle_name AND m.last_name = r.last_name""")
    finally:
        con.unregister("_link_moved_arrow")


def _extra_tables(con: duckdb.DuckDBPyConnection,
                  extras: Sequence[IdentityColumns]) -> list[str]:
    """Each extra's keyed select as the temp table ``_link_x<index>``; returns their names."""
    made = []
    for index, extra in enumerate(extras):
        if extra.keyed_select:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _link_x{index} AS {extra.keyed_select}")
            made.append(f"_link_x{index}")
    return made


def _extra_sql(extras: Sequence[IdentityColumns]) -> tuple[str, str]:
    """The select-list tail and the LEFT JOINs that bring the ``extras`` columns in (from
    ``_link_x<index>``, each extra's keyed select made a table by ``_extra_tables``)."""
    columns, joins = "", ""
    for index, extra in enumerate(extras):
        alias = f"x{index}"
        for name, sql_type in extra.columns.items():
            value = f"{alias}.{name}" if extra.keyed_select else "NULL"
            columns += f",\n               CAST({value} AS {sql_type}) AS {name}"
        if extra.keyed_select:
            joins += (f"\n        LEFT JOIN _link_{alias} {alias} "
                      f"ON {alias}.source_system = r.source_system "
                      f"AND {alias}.partner_org = r.partner_org "
                      f"AND {alias}.source_person_id = r.source_person_id")
    return columns, joins


_REP_SQL = """
        WITH tuples AS (
            SELECT source_system, partner_org, source_person_id, first_name, middle_name,
                   last_name, birth_date, gender, min(pri) AS pri, sum(n) AS n,
                   max(latest) AS latest, max(ssid) AS ssid
            FROM {raw}
            GROUP BY ALL
        ), ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY source_system, partner_org, source_person_id
                ORDER BY pri, n DESC, latest DESC) AS rk,
                sum(n) OVER (PARTITION BY source_system, partner_org, source_person_id) AS n_rows
            FROM tuples
        ), zips AS (
            SELECT source_system, partner_org, source_person_id,
                   arg_max(zip, {'n': n, 'zip': zip}) AS zip
            FROM (SELECT source_system, partner_org, source_person_id, zip, sum(n) AS n
                  FROM {raw} WHERE zip IS NOT NULL GROUP BY ALL)
            GROUP BY ALL
        ), addresses AS (
            SELECT source_system, partner_org, source_person_id,
                   arg_max(address, {'n': n, 'a': address, 'c': city}) AS address,
                   arg_max(city, {'n': n, 'a': address, 'c': city}) AS city
            FROM (SELECT source_system, partner_org, source_person_id, address, city,
                         sum(n) AS n
                  FROM {raw} WHERE address IS NOT NULL OR city IS NOT NULL GROUP BY ALL)
            GROUP BY ALL
        )
        SELECT r.source_system, r.partner_org, r.source_person_id, r.ssid, r.first_name,
               r.middle_name, r.last_name, r.birth_date, r.gender, z.zip, a.address, a.city,
               r.n_rows
        FROM ranked r LEFT JOIN zips z USING (source_system, partner_org, source_person_id)
        LEFT JOIN addresses a USING (source_system, partner_org, source_person_id)
        WHERE r.rk = 1
"""


def build_identities(
    con: duckdb.DuckDBPyConnection, run_id: str, extras: Sequence[IdentityColumns] = (),
    target: str = tables.IDENTITIES, vocabulary: Vocabulary | None = None,
    slice_rows: int | None = None,
) -> dict[str, int]:
    """(Re)write ``target`` (``mdm.identities``: the annual link's input) from staging, with
    the ``extras`` columns joined in (one CREATE TABLE); returns units per source system.
    ``vocabulary``: name counts of identities built before, read as if their staging were
    here too (provisional links: a few new records against the MDM). ``slice_rows``: choose
    the units' representative values in slices of about this many grouped rows (the link
    gives one from its memory limit); None: in one statement."""
    selects = _calpads_selects(con) + _partner_selects(con)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.MDM}")
    if not selects:
        con.execute(f"DROP TABLE IF EXISTS {target}")
        return {}
    union = "\nUNION ALL\n".join(selects)
    # Aggregate first, clean after: a unit repeats the same identity on many rows (one per
    # enrolment, course, CCGI week), so grouping the raw values before any string work cuts
    # 1.3M staging rows to ~0.3M tuples at 50k students. ZIP is part of the key so its mode
    # can be taken from the counts.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _link_raw AS
        WITH grouped AS (
            SELECT source_system, partner_org, source_person_id, ssid, first_name, middle_name,
                   last_name, birth_date, gender, zip, address, city, min(pri) AS pri,
                   count(*) AS n,
                   max({{'f': file_key, 'l': line_no}}) AS latest
            FROM ({union})
            GROUP BY ALL
        )
        SELECT source_system, trim(CAST(partner_org AS VARCHAR)) AS partner_org,
               trim(CAST(source_person_id AS VARCHAR)) AS source_person_id,
               nullif(trim(CAST(ssid AS VARCHAR)), '') AS ssid,
               nullif(trim(CAST(first_name AS VARCHAR)), '') AS first_name,
               nullif(trim(CAST(middle_name AS VARCHAR)), '') AS middle_name,
               nullif(trim(CAST(last_name AS VARCHAR)), '') AS last_name, birth_date,
               nullif(upper(trim(CAST(gender AS VARCHAR))), '') AS gender,
               nullif(substr(regexp_replace(CAST(zip AS VARCHAR), '[^0-9]', '', 'g'), 1, 5), '')
                   AS zip,
               -- street line and city (when a layout has them): upper-case, one space
               nullif(trim(regexp_replace(upper(CAST(address AS VARCHAR)), '[^A-Z0-9]+', ' ',
                   'g')), '') AS address,
               nullif(trim(regexp_replace(upper(CAST(city AS VARCHAR)), '[^A-Z0-9]+', ' ',
                   'g')), '') AS city,
               pri, n, latest
        FROM grouped
        WHERE nullif(trim(CAST(source_person_id AS VARCHAR)), '') IS NOT NULL
    """)
    rows_raw = con.execute("SELECT count(*) FROM _link_raw").fetchone()
    slices = 1 if not slice_rows or not rows_raw else max(1, -(-int(rows_raw[0]) // slice_rows))
    for i in range(slices):
        # each unit's rows fall in one slice (the slice is a hash of the unit's key): the
        # representative values' window and arg_max states do not spill, and at the state's
        # size (about 10M units) they ran out of memory under a 4 GB limit in one statement
        raw = ("_link_raw" if slices == 1 else
               f"(SELECT * FROM _link_raw WHERE hash(source_system, partner_org, "
               f"source_person_id) % {slices} = {i})")
        start = "CREATE OR REPLACE TEMP TABLE _link_rep AS " if i == 0 else "INSERT INTO _link_rep "
        con.execute(start + _REP_SQL.replace("{raw}", raw))
    _join_split_surnames(con, vocabulary or Vocabulary())
    _name_lookup(con, vocabulary or Vocabulary())
    extra_columns, extra_joins = _extra_sql(extras)
    # The table is left in the joins' order, not sorted by unit id: sorting its wide rows (the
    # token lists) was half of standardise at 2M identities (21.6 s against 11.8), and the
    # one reader that wants the order, Splink's input, sorts its own copy (linkage/model.py).
    # One statement at a time, each able to spill: every extra's select made a table, the
    # unit ids numbered on the keys alone, then the wide rows joined and sorted. As one
    # statement (the extras' subqueries and a window over the wide rows) it ran out of memory
    # at the state's year under a 10 GB limit.
    extra_tables = _extra_tables(con, extras)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _link_units AS
        SELECT source_system, partner_org, source_person_id,
               CAST(row_number() OVER (ORDER BY source_system, partner_org, source_person_id)
                    AS BIGINT) AS unit_id
        FROM _link_rep""")
    con.execute(f"""
        CREATE OR REPLACE TABLE {target} AS
        SELECT u.unit_id,
               r.source_system, r.partner_org, r.source_person_id,
               -- an SSID that is the unit's own key (CALPADS) or carried by a partner record
               r.ssid,
               f.first_token AS first_name,
               f.nick AS first_nick,
               -- middle name folded into first: every given-name token, for order-free overlap
               list_sort(list_filter(list_distinct(string_split(concat_ws(' ', f.std, m.std),
                   ' ')), t -> t <> '')) AS given_tokens,
               s.std AS last_name,
               s.tokens AS last_tokens,
               s.tokens[1] AS last1,
               s.tokens[-1] AS last2,
               r.birth_date AS dob,
               strftime(r.birth_date, '%Y%m%d') AS dob_str,
               CAST(year(r.birth_date) AS INTEGER) AS birth_year,
               -- the same for a date and its day/month swap: blocks swapped dates together
               strftime(r.birth_date, '%Y') || lpad(CAST(least(month(r.birth_date),
                   day(r.birth_date)) AS VARCHAR), 2, '0') || lpad(CAST(greatest(
                   month(r.birth_date), day(r.birth_date)) AS VARCHAR), 2, '0') AS dob_sym,
               CASE WHEN r.gender IN ('M', 'F', 'X') THEN r.gender END AS gender,
               r.zip,
               r.address,
               r.city,
               r.n_rows,
               '{run_id}' AS run_id{extra_columns}
        FROM _link_rep r
        JOIN _link_units u USING (source_system, partner_org, source_person_id)
        LEFT JOIN _link_given f ON f.raw = r.first_name
        LEFT JOIN _link_given m ON m.raw = r.middle_name
        LEFT JOIN _link_surname s ON s.raw = r.last_name{extra_joins}
    """)
    temps = ["_link_raw", "_link_rep", "_link_given", "_link_surname", "_link_person_units",
             "_link_units", *extra_tables]
    for extra in extras:
        temps.extend(extra.temp_tables)
    for temp in temps:
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    rows = con.execute(
        f"SELECT source_system, count(*) FROM {target} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {str(s): int(n) for s, n in rows}
