"""Load one file's rows into staging: bulk ``read_csv`` (all VARCHAR), rules in SQL, typed insert.

Runs inside the caller's transaction; inserts into staging only when no rule is broken, so
the caller commits (accepted) or rolls back (rejected) the whole file at once.

Line numbers: ``row_number() OVER ()`` would number the rows, but it makes the whole insert
pipeline (parse, typing, compression, encryption) single-threaded, about three times slower
on two cores. Instead the rows are inserted in parallel with ``line_no`` 0, and DuckDB keeps
them in file order (``preserve_insertion_order``, forced on by :func:`insertion_order_kept`);
their row ids are therefore consecutive in file order, and one ``UPDATE`` sets
``line_no = rowid - first rowid + 1`` (a fraction of a second per million rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb

from core import tables
from core.calpads import FILE_TYPES, ODS_TRAILING_FIELDS, Layout, find_layout
from core.errors import InputRejected, InternalError, Location
from core.partner_formats import CsvFormat
from ingest.models import FileError
from ingest.schema import calpads_column_types, csv_column_types
from ingest.stream import NotUtf8
from ingest.validate import (
    DATE_FORMATS_CSV,
    MAX_STORED_ERRORS,
    ODS_DATE_FORMATS,
    Rule,
    field_rules,
    find_errors,
    not_one_of,
    q,
)

LOAD_TABLE = "_ingest_load"
CANDIDATE_DELIMITERS = (",", "\t", "|", ";", "^")
ISO_OR_CCYYMMDD = "[0-9]{4}-?[0-9]{2}-?[0-9]{2}"


@dataclass
class LoadResult:
    rows: int = 0
    errors: list[FileError] = field(default_factory=list)
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CalpadsShape:
    layout: Layout
    ods: bool
    record_type: str
    columns: int


def _reject(file_name: str, message: str, line: int | None = None, fld: str | None = None,
            value: str | None = None, rule: str = "file") -> InputRejected:
    return InputRejected(message, Location(file_name, line, fld, value, rule))


def sniff_calpads(first_line: str, file_name: str) -> CalpadsShape:
    """Record type and column count of line 1 pick the layout; anything else is a rejection."""
    if "^" not in first_line:
        found = next((d for d in CANDIDATE_DELIMITERS if d in first_line), None)
        shown = {"\t": "tab"}.get(found or "", found or "none")
        raise _reject(file_name, f"wrong delimiter: CALPADS files are caret (^) delimited, "
                      f"line 1 has no caret (found {shown!r})", 1, None, shown, "delimiter_caret")
    values = first_line.split("^")
    record_type = values[0].strip().upper()
    base = record_type[:-2] if record_type.endswith("-R") else record_type
    if base not in FILE_TYPES:
        raise _reject(file_name, f"unknown record type; expected one of {', '.join(FILE_TYPES)} "
                      "(or the -R ODS form)", 1, "record_type_code", values[0], "record_type")
    found_layout = find_layout(record_type, len(values))
    if found_layout is None:
        from core.calpads import LAYOUTS

        ods = record_type.endswith("-R")
        expected = sorted({
            (lay.ods_column_count if ods else lay.upload_column_count)
            for lay in LAYOUTS if lay.file_type == base
        })
        raise _reject(
            file_name,
            f"wrong column count: {record_type} has {' or '.join(map(str, expected))} columns "
            f"in the known layouts, line 1 has {len(values)}",
            1, None, str(len(values)), "column_count",
        )
    layout, ods = found_layout
    return CalpadsShape(layout, ods, record_type, len(values))


def trimmed(col: str) -> str:
    """SQL for ``nullif(trim(col), '')`` that calls ``trim()`` only where it can change a value.

    DuckDB's ``trim()`` removes Unicode space separators (category Zs) and decodes every
    character of every value to find them, then copies the value: over the 22 columns of a
    1 GiB SCSC file that is about 13 CPU-seconds, this form about 5. A pure-ASCII value
    (``length`` = ``strlen``) that neither starts nor ends with a space, the only ASCII Zs
    character, is its own trim, so the result is the same for every value.
    """
    return (f"CASE WHEN starts_with({col}, ' ') OR ends_with({col}, ' ') "
            f"OR length({col}) <> strlen({col}) THEN nullif(trim({col}), '') "
            f"ELSE nullif({col}, '') END")


def _read_csv_sql(path: str | list[str], columns: list[str], *, delim: str, header: bool,
                  quote: str) -> str:
    cols = "{" + ", ".join(f"{q(c)}: 'VARCHAR'" for c in columns) + "}"
    source = q(path) if isinstance(path, str) else \
        "[" + ", ".join(q(p) for p in path) + "], filename = true"
    return (
        f"read_csv({source}, columns = {cols}, delim = {q(delim)}, quote = {q(quote)}, "
        f"escape = {q(quote)}, header = {str(header).lower()}, auto_detect = false, "
        "strict_mode = true, null_padding = false, all_varchar = true, "
        f"rejects_table = '_ingest_rej', rejects_scan = '_ingest_rejs', "
        f"rejects_limit = {MAX_STORED_ERRORS})"
    )


@contextmanager
def insertion_order_kept(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run a load with ``preserve_insertion_order`` on, which :func:`_number_lines` relies on.

    It is DuckDB's default; forced anyway, since a load would number its lines wrongly without
    it. The caller wraps a whole load transaction in this (a SET fails inside an aborted
    transaction); the previous value is restored on the shared connection.
    """
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    before = bool(row[0]) if row else True
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {str(before).lower()}")


def _execute_load(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Run an ``INSERT``/``CREATE ... AS`` reading the file; rows written.

    DuckDB rejects invalid UTF-8 itself, as an exception or (with a rejects table) as a
    rejected line; either way the caller retries the file as Windows-1252.
    """
    _require_ordered_append(con, sql)
    try:
        row = con.execute(sql).fetchone()
    except duckdb.InvalidInputException as exc:
        if "invalid unicode" in str(exc).lower():
            raise NotUtf8(str(exc).splitlines()[0]) from exc
        raise
    return int(row[0]) if row else 0


def _require_ordered_append(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse to run a load whose plan would not append rows in file order.

    With several threads DuckDB keeps insertion order only through its batch insert; some
    constructs (a join, e.g. a long ``IN`` list DuckDB rewrites into one) make it choose an
    unordered parallel insert, and :func:`_number_lines` would then number lines wrongly.
    A wrong line number would go unnoticed, so the plan is checked; but planning a load
    statement (hundreds of typed columns and rule conditions) costs as much as loading a small
    file, so it is checked once per statement *shape* and process (:func:`_plan_shape`), not
    once per file: the state's 17,000 small files a year share a dozen shapes (issue 13).
    """
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    thread_count = int(threads[0]) if threads is not None else 0
    if threads is not None and thread_count <= 1:
        return  # one thread appends in scan order
    shape = (thread_count, _plan_shape(sql))
    if shape in _ORDERED_SHAPES:
        return
    plan = "".join(str(row[1]) for row in con.execute(f"EXPLAIN {sql}").fetchall())
    if "BATCH_INSERT" not in plan and "BATCH_CREATE_TABLE_AS" not in plan:
        raise InternalError("ingest load plan does not keep insertion order, so line numbers "
                            "would be wrong (see ingest.load_sql._require_ordered_append)")
    if len(_ORDERED_SHAPES) >= 1024:  # bounded: column maps could make many shapes
        _ORDERED_SHAPES.clear()
    _ORDERED_SHAPES.add(shape)


# (threads, statement shape) whose plan was seen to append in file order, in this process.
_ORDERED_SHAPES: set[tuple[int, str]] = set()
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _plan_shape(sql: str) -> str:
    """``sql`` with each string literal masked, but for the scheme of a path (``c2craw://``).

    What a load's plan looks like follows from its operators, columns, expressions and
    constant lists (an ``IN`` list keeps its length), not from the file path, file id or
    pinned year and LEA it quotes, which differ per file. The scheme stays, so a load from the
    raw store and one from a FIFO never share a verdict.
    """
    def mask(literal: re.Match[str]) -> str:
        text = literal.group()
        scheme, found, _ = text.partition("://")
        return f"{scheme}://'" if found else "''"

    return _STRING_LITERAL.sub(mask, sql)


def _number_lines(con: duckdb.DuckDBPyConnection, table: str, where: str,
                  header_lines: int) -> None:
    """Set ``line_no`` of the rows one load just appended to ``table`` (``where`` picks them).

    The rows were appended by one statement in file order (:func:`insertion_order_kept`) into
    a table this transaction had not appended to before, so their row ids are consecutive.
    """
    con.execute(
        f"UPDATE {table} SET line_no = rowid - "
        f"(SELECT min(rowid) FROM {table} WHERE {where}) + {1 + header_lines} WHERE {where}"
    )


def _structural_errors(con: duckdb.DuckDBPyConnection, file_name: str) -> list[FileError]:
    """Lines ``read_csv`` rejected (column count, ...); invalid UTF-8 raises :class:`NotUtf8`."""
    rows = con.execute(
        "SELECT line, error_type, error_message FROM _ingest_rej "
        "WHERE scan_id = (SELECT max(scan_id) FROM _ingest_rejs) ORDER BY line"
    ).fetchall()
    if any(str(error_type) == "INVALID ENCODING" for _, error_type, _ in rows):
        raise NotUtf8("read_csv found bytes that are not UTF-8")
    errors: list[FileError] = []
    seen: set[tuple[int, str]] = set()
    for line, error_type, message in rows:
        rule = str(error_type).lower().replace(" ", "_")
        if rule in ("too_many_columns", "missing_columns"):
            rule = "column_count"
        if (int(line), rule) in seen:  # DuckDB reports a short line once per missing column
            continue
        seen.add((int(line), rule))
        errors.append(FileError(file=file_name, line=int(line), rule=rule, message=str(message)))
    return errors


def _bulk_load(
    con: duckdb.DuckDBPyConnection, source_sql: str, select_list: str, header_lines: int,
    file_name: str,
) -> tuple[list[FileError], int]:
    """Read the whole file into ``LOAD_TABLE`` (trimmed, empty -> NULL, with line_no)."""
    loaded = _execute_load(
        con,
        f"CREATE OR REPLACE TEMP TABLE {LOAD_TABLE} AS "
        f"SELECT {select_list}, CAST(0 AS BIGINT) AS line_no FROM {source_sql}",
    )
    structural = _structural_errors(con, file_name)
    if not structural:
        _number_lines(con, LOAD_TABLE, "true", header_lines)
    return structural, loaded


class DiagnoseNeeded(Exception):
    """The fast path met a bad value (untypable date, broken rule): reload to name every one."""


# error() text the fast path raises on a bad value; it aborts the INSERT at the first one.
BAD_VALUE_MARK = "c2c-bad-value"


def _calpads_rules(shape: CalpadsShape, year_id: str | None, partner_org: str | None,
                   *, year_sql: str | None = None, lea_sql: str | None = None) -> list[Rule]:
    """The rules of a CALPADS file; ``year_sql``/``lea_sql``: SQL giving each row's pinned
    year / LEA (a batch), instead of the one file's ``year_id``/``partner_org``."""
    rules: list[Rule] = []
    for spec in shape.layout.fields:
        rules.extend(field_rules(spec))
    rules.append(Rule(
        "record_type_code", f"(upper(record_type_code) <> {q(shape.record_type)})",
        "record_type_consistent", f"every record of this file must be {shape.record_type}",
    ))
    if year_id or year_sql:
        rules.append(Rule(
            "academic_year_id", f"(academic_year_id <> {year_sql or q(year_id or '')})",
            "name_content_year",
            f"the file name says academic year {year_id}, this record says another year",
        ))
    if partner_org or lea_sql:
        rules.append(Rule(
            "reporting_lea", f"(reporting_lea <> {lea_sql or q(partner_org or '')})",
            "name_content_lea",
            f"the file was sent as LEA {partner_org}, this record names another reporting LEA",
            # An LEA code is an organisation's, not a student's: the message may name it.
            message_sql=f"'the record names LEA ' || reporting_lea || ', you are LEA ' || "
                        f"{lea_sql or q(partner_org or '')}",
        ))
    return rules


def _typed(col: str, sql_type: str, value: str, strict_dates: bool) -> str:
    """SQL turning the trimmed text ``value`` of ``col`` into its staging type."""
    if col in ODS_TRAILING_FIELDS:  # format unconfirmed: CCYYMMDD first (coalesce is lazy)
        tries = ", ".join(f"try_strptime({value}, {q(f)})" for f in ODS_DATE_FORMATS)
        return f"CAST(coalesce({tries}) AS DATE)"
    if sql_type == "DATE":
        if strict_dates:  # a bad date stops the fast path; the diagnostic pass names the row
            return (f"CASE WHEN {value} IS NULL THEN NULL WHEN length({value}) = 8 "
                    f"THEN CAST(coalesce(try_strptime({value}, '%Y%m%d'), "
                    f"error({q(BAD_VALUE_MARK)})) AS DATE) ELSE error({q(BAD_VALUE_MARK)}) END")
        return f"CAST(strptime({value}, '%Y%m%d') AS DATE)"
    if col == "record_type_code":
        return f"upper({value})"
    return value


def load_calpads(
    con: duckdb.DuckDBPyConnection,
    path: str,
    *,
    file_id: str,
    file_name: str,
    shape: CalpadsShape,
    year_id: str | None,
    partner_org: str | None,
    fast: bool = True,
) -> LoadResult:
    """Load a caret file of the given shape; check rules; rows stay in staging only when clean.

    Fast path (``fast``): one parallel ``INSERT INTO staging ... SELECT ... FROM read_csv``
    that types every value and checks every rule as it goes: the first bad value (a broken
    rule, a date that cannot be typed) stops it with ``error()`` and raises
    :class:`DiagnoseNeeded`. A clean file, the common case, is thus read once and never
    scanned again. The caller then rolls back and calls again with ``fast=False``, which loads
    all-VARCHAR into a temp table and checks the rules as one scan over it, so every bad value
    is named with its line.
    """
    layout, ods = shape.layout, shape.ods
    names = layout.column_names(ods)
    types = calpads_column_types(layout.file_type)
    table = tables.calpads_staging(layout.file_type)
    source = _read_csv_sql(path, names, delim="^", header=False, quote="")
    rules = _calpads_rules(shape, year_id, partner_org)
    select_list = ", ".join(f"{trimmed(c)} AS {c}" for c in names)
    result = LoadResult()
    if fast:
        # Dates are checked by typing them (strict); the other rules by the line_no guard.
        text_rules = [r for r in rules if not r.rule.startswith("date_")]
        pinned = {c: v for c, v in (("academic_year_id", year_id), ("reporting_lea", partner_org))
                  if v}
        sql = _checked_insert_sql(table, names, types, _guard_rules(con, text_rules, pinned),
                                  file_id, f"SELECT {select_list} FROM {source}")
        try:
            loaded = _execute_load(con, sql)
        except duckdb.InvalidInputException as exc:
            if BAD_VALUE_MARK in str(exc):
                raise DiagnoseNeeded() from exc
            raise
        structural = _structural_errors(con, file_name)
        if structural:
            result.errors, result.error_count = structural, len(structural)
            return result
        if loaded == 0:
            raise _reject(file_name, "the file has no records", None, None, None,
                          "file_not_empty")
        _number_lines(con, table, f"file_id = {q(file_id)}", 0)
        result.rows = loaded
        return result

    structural, loaded = _bulk_load(con, source, select_list, 0, file_name)
    if structural:
        result.errors, result.error_count = structural, len(structural)
        return result
    if loaded == 0:
        raise _reject(file_name, "the file has no records", None, None, None, "file_not_empty")
    result.errors, result.error_count = find_errors(con, LOAD_TABLE, rules, file_name)
    if result.error_count:
        return result
    exprs = ", ".join(_typed(c, types[c], c, False) for c in names)
    con.execute(
        f"INSERT INTO {table} ({', '.join(names)}, file_id, line_no) "
        f"SELECT {exprs}, {q(file_id)}, line_no FROM {LOAD_TABLE}"
    )
    con.execute(f"DROP TABLE {LOAD_TABLE}")
    result.rows = loaded
    return result


def _guard_rules(con: duckdb.DuckDBPyConnection, rules: list[Rule],
                 pinned: Mapping[str, str | list[str]]) -> list[Rule]:
    """The rules the fast path checks: all but those a pinned column makes redundant.

    ``pinned``: columns every record must equal (the year the file name gives, the LEA that
    sent it; their ``name_content_*`` rules say so). Such a column can only break its other
    rules (id shape, year format) by differing from that value, or by being empty, which the
    pin rule and ``required`` catch, as long as the value itself passes them: checked once
    here on the value. The diagnostic pass still checks every rule. This drops about 40% of
    the rule checking on a typical file (the year format and id regexes cost the most).
    A batch pins a value per file: a rule is dropped only when every file's value passes it.
    """
    kept = list(rules)
    for column, value in pinned.items():
        implied = [r for r in rules if r.field == column and r.rule != "required"
                   and not r.rule.startswith("name_content_")]
        if not implied:
            continue
        conditions = " OR ".join(f"coalesce({r.condition}, false)" for r in implied)
        values = [value] if isinstance(value, str) else sorted(set(value))
        row = con.execute(f"SELECT coalesce(bool_or({conditions}), true) FROM "
                          f"(SELECT unnest(CAST(? AS VARCHAR[])) AS {column})",
                          [values]).fetchone()
        if row is not None and not row[0]:
            kept = [r for r in kept if r not in implied]
    return kept


def _checked_insert_sql(table: str, names: list[str], types: Mapping[str, str],
                        rules: list[Rule], file_id: str, rows_sql: str,
                        file_id_sql: str | None = None) -> str:
    """``INSERT`` typing every value; a row breaking a rule raises the mark instead.

    ``line_no`` is a placeholder (:func:`_number_lines` sets it); the guard sits in it so
    the rule conditions see the trimmed text, as the diagnostic pass does.
    """
    typed = ", ".join(_typed(c, types[c], c, True) for c in names)
    line_no = "0"
    if rules:  # a NULL condition (rule not applicable) counts as false in CASE WHEN
        broken = " OR ".join(r.condition for r in rules)
        line_no = f"CASE WHEN {broken} THEN error({q(BAD_VALUE_MARK)}) ELSE 0 END"
    return (
        f"INSERT INTO {table} ({', '.join(names)}, file_id, line_no) "
        f"SELECT {typed}, {file_id_sql or q(file_id)}, {line_no} FROM ({rows_sql})"
    )


# --- college and CCGI CSV files -------------------------------------------------------------

@dataclass(frozen=True)
class CsvShape:
    fmt: CsvFormat
    file_columns: int
    mapping: tuple[str | None, ...]  # canonical name per file column (None = ignored)
    warnings: tuple[str, ...]


def _norm(name: str) -> str:
    return name.strip().strip('"').strip().lower().replace(" ", "_").replace("-", "_")


def sniff_csv(
    header_line: str, fmt: CsvFormat, column_map: Mapping[str, str], file_name: str
) -> CsvShape:
    """Map the header onto the canonical columns through ``column_map`` (partner name -> ours)."""
    if "," not in header_line:
        found = next((d for d in CANDIDATE_DELIMITERS if d in header_line), None)
        if found is not None or len(fmt.columns) > 1:
            shown = {"\t": "tab"}.get(found or "", found or "none")
            raise _reject(file_name, f"wrong delimiter: {fmt.kind} files are comma-separated "
                          f"with a header row (found {shown!r})", 1, None, shown, "delimiter_comma")
    lookup = {_norm(k): v for k, v in column_map.items()}
    mapping: list[str | None] = []
    warnings: list[str] = []
    for raw in header_line.split(","):
        name = lookup.get(_norm(raw), _norm(raw))
        if name in fmt.columns:
            if name in mapping:
                raise _reject(file_name, f"column {name} appears twice in the header", 1, name,
                              raw, "header_duplicate")
            mapping.append(name)
        else:
            mapping.append(None)
            warnings.append(f"column {raw.strip()!r} is not part of {fmt.kind}; ignored")
    missing = [c for c in fmt.required if c not in mapping]
    if missing:
        raise _reject(file_name, f"required column(s) missing from the header: "
                      f"{', '.join(missing)} (map partner names with a column map)", 1,
                      missing[0], None, "header_required_column")
    absent = [c for c in fmt.columns if c not in mapping and c not in fmt.required]
    if absent:
        warnings.append(f"optional column(s) not sent: {', '.join(absent)}")
    return CsvShape(fmt, len(mapping), tuple(mapping), tuple(warnings))


def csv_columns(shape: CsvShape) -> tuple[list[str], str]:
    """The file's positional columns, and the select list giving the canonical ones, trimmed
    (a column the partner did not send is NULL)."""
    positional = [f"c{i}" for i in range(shape.file_columns)]
    picked = {name: pos for pos, name in zip(positional, shape.mapping, strict=True) if name}
    select_list = ", ".join(
        f"{trimmed(picked[c])} AS {c}" if c in picked else f"CAST(NULL AS VARCHAR) AS {c}"
        for c in shape.fmt.columns
    )
    return positional, select_list


def load_csv(
    con: duckdb.DuckDBPyConnection,
    path: str,
    *,
    file_id: str,
    file_name: str,
    shape: CsvShape,
    partner_org: str | None,
) -> LoadResult:
    fmt = shape.fmt
    positional, select_list = csv_columns(shape)
    source = _read_csv_sql(path, positional, delim=",", header=True, quote='"')
    structural, loaded = _bulk_load(con, source, select_list, 1, file_name)
    result = LoadResult(warnings=list(shape.warnings))
    if structural:
        result.errors, result.error_count = structural, len(structural)
        return result
    if loaded == 0:  # a header-only file is a valid "nobody this term"
        result.warnings.append("the file has a header but no records")
    college = q(partner_org) if partner_org else None
    rules = csv_rules(fmt, college, partner_org)
    result.errors, result.error_count = find_errors(con, LOAD_TABLE, rules, file_name)
    if result.error_count:
        return result
    insert_csv_rows(con, fmt, q(file_id))
    result.rows = loaded
    return result


def csv_rules(fmt: CsvFormat, college_sql: str | None, sent_as: str | None = None) -> list[Rule]:
    """The rules of a college or CCGI file; ``college_sql``: the college it was sent as (SQL,
    ``sent_as`` its code for the message)."""
    rules = [Rule(c, f"({c} IS NULL)", "required", "required field is empty") for c in fmt.required]
    for c in fmt.date_columns:
        rules.append(Rule(
            c, f"({c} IS NOT NULL AND (NOT regexp_full_match({c}, {q(ISO_OR_CCYYMMDD)})"
            f" OR try_strptime({c}, {_CSV_DATE_FORMATS}) IS NULL))",
            "date_iso", "not a valid date (YYYY-MM-DD or CCYYMMDD)",
        ))
    for c, codes in fmt.code_sets:
        rules.append(Rule(c, not_one_of(c, codes - {""}),
                          f"code_set_{c}", f"not one of: {', '.join(sorted(codes - {''}))}"))
    if college_sql and "college_code" in fmt.columns:
        rules.append(Rule(
            "college_code", f"(college_code <> {college_sql})", "name_content_college",
            f"the file was sent as college {sent_as or 'another'}, this record names another "
            "college",
            # A college code is an organisation's, not a student's: the message may name it.
            message_sql=f"'the record names college ' || college_code || ', you are college ' "
                        f"|| {college_sql}",
        ))
    return rules


_CSV_DATE_FORMATS = "[" + ", ".join(q(f) for f in DATE_FORMATS_CSV) + "]"


def insert_csv_rows(con: duckdb.DuckDBPyConnection, fmt: CsvFormat, file_id_sql: str) -> None:
    """Staging rows, typed, from the checked ``LOAD_TABLE``; the table is dropped."""
    exprs = [
        f"CAST(try_strptime({c}, {_CSV_DATE_FORMATS}) AS DATE)" if t == "DATE" else c
        for c, t in csv_column_types(fmt.kind).items()
    ]
    con.execute(
        f"INSERT INTO {tables.csv_staging(fmt.kind)} ({', '.join(fmt.columns)}, file_id, line_no) "
        f"SELECT {', '.join(exprs)}, {file_id_sql}, line_no FROM {LOAD_TABLE}"
    )
    con.execute(f"DROP TABLE {LOAD_TABLE}")
