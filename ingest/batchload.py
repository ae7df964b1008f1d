"""The SQL of a batch load: many files of one shape in one ``read_csv`` and one insert.

Each file is read through a ``c2craw://`` path that carries what the rules pin per file
(:func:`batch_path`): its manifest id, the academic year its name gives and the partner that
sent it. ``read_csv(..., filename = true)`` hands the path to every row, so the per-file rules
compare a row with its own file's values without a join (a join would make DuckDB drop the
insertion order the line numbers come from; ``ingest.load_sql``).

A batch either loads clean, every file, or raises :class:`BatchNeedsSplit` and the caller
rolls back and splits it: the per-file path (``ingest.fileload``) then names every bad value of
a bad file. A clean batch is read once.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from core import tables
from ingest.load_sql import (
    BAD_VALUE_MARK,
    LOAD_TABLE,
    CalpadsShape,
    CsvShape,
    DiagnoseNeeded,
    _calpads_rules,
    _checked_insert_sql,
    _execute_load,
    _guard_rules,
    _read_csv_sql,
    csv_columns,
    csv_rules,
    insert_csv_rows,
    trimmed,
)
from ingest.rawfs import PROTOCOL
from ingest.schema import calpads_column_types
from ingest.stream import NotUtf8
from ingest.validate import find_errors, q

# split_part(path, '/', n) of c2craw://batch/<file_id>/<year_id>/<partner>/<sha256>.txt
_FILE_ID, _YEAR, _PARTNER = 4, 5, 6
NOT_PINNED = "-"


class BatchNeedsSplit(Exception):
    """Some file of the batch is not clean (or not UTF-8): load it on its own."""


@dataclass(frozen=True)
class BatchFile:
    file_id: str
    sha256: str
    year_id: str | None  # the academic year the rules pin (CALPADS), or None
    partner_org: str | None  # the partner the rules pin, or None

    @property
    def path(self) -> str:
        return batch_path(self.file_id, self.sha256, self.year_id, self.partner_org)


def batchable(value: str | None) -> bool:
    """A value a batch path can carry (no ``/``, not the placeholder)."""
    return value is None or (bool(value) and "/" not in value and value != NOT_PINNED)


def batch_path(file_id: str, sha256: str, year_id: str | None, partner_org: str | None) -> str:
    return (f"{PROTOCOL}://batch/{file_id}/{year_id or NOT_PINNED}/"
            f"{partner_org or NOT_PINNED}/{sha256}.txt")


def _part(column: str, index: int) -> str:
    return f"split_part({column}, '/', {index})"


def _rows_per_file(con: duckdb.DuckDBPyConnection, table: str, file_ids: list[str],
                   header_lines: int) -> dict[str, int]:
    """Number each file's lines (its rows' ids are consecutive, in file order) and count them.

    The rows were appended by one statement in file order (``insertion_order_kept``), files
    in the order of the path list, so a file's row ids run from its first row's id upward.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ingest_spans AS SELECT file_id, min(rowid) AS first, "
        f"count(*) AS n FROM {table} WHERE file_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
        "GROUP BY file_id", [file_ids])
    con.execute(
        f"UPDATE {table} SET line_no = {table}.rowid - s.first + {1 + header_lines} "
        f"FROM _ingest_spans s WHERE {table}.file_id = s.file_id")
    counts = {str(f): int(n) for f, n in con.execute(
        "SELECT file_id, n FROM _ingest_spans").fetchall()}
    con.execute("DROP TABLE _ingest_spans")
    return counts


def _no_structural_errors(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT count(*) FROM _ingest_rej WHERE scan_id = (SELECT max(scan_id) FROM _ingest_rejs)"
    ).fetchone()
    if rows and rows[0]:
        raise BatchNeedsSplit("read_csv rejected lines")


def load_calpads_batch(con: duckdb.DuckDBPyConnection, files: list[BatchFile],
                       shape: CalpadsShape) -> dict[str, int]:
    """One checked, typed insert of every file; rows per file id, or :class:`BatchNeedsSplit`.

    Every file of the batch pins a year, or none does; the same for the partner (the caller
    groups them so), because a rule a pin makes redundant is dropped for the whole batch.
    """
    layout, ods = shape.layout, shape.ods
    names = layout.column_names(ods)
    types = calpads_column_types(layout.file_type)
    table = tables.calpads_staging(layout.file_type)
    source = _read_csv_sql([f.path for f in files], names, delim="^", header=False, quote="")
    years = [f.year_id for f in files if f.year_id]
    leas = [f.partner_org for f in files if f.partner_org]
    rules = _calpads_rules(shape, None, None,
                           year_sql=_part("_src", _YEAR) if years else None,
                           lea_sql=_part("_src", _PARTNER) if leas else None)
    text_rules = [r for r in rules if not r.rule.startswith("date_")]
    pinned: dict[str, str | list[str]] = {}
    if years:
        pinned["academic_year_id"] = years
    if leas:
        pinned["reporting_lea"] = leas
    select_list = ", ".join(f"{trimmed(c)} AS {c}" for c in names)
    sql = _checked_insert_sql(
        table, names, types, _guard_rules(con, text_rules, pinned), "",
        f"SELECT {select_list}, filename AS _src FROM {source}",
        file_id_sql=_part("_src", _FILE_ID))
    try:
        _execute_load(con, sql)
    except NotUtf8 as exc:
        raise BatchNeedsSplit(str(exc)) from exc
    except duckdb.InvalidInputException as exc:
        if BAD_VALUE_MARK in str(exc):
            raise BatchNeedsSplit("a bad value") from exc
        raise
    _no_structural_errors(con)
    counts = _rows_per_file(con, table, [f.file_id for f in files], 0)
    if len(counts) < len(files):
        raise BatchNeedsSplit("a file without records")
    return counts


def load_csv_batch(con: duckdb.DuckDBPyConnection, files: list[BatchFile],
                   shape: CsvShape) -> dict[str, int]:
    """College / CCGI files of one header shape: read, check as one scan, insert typed."""
    fmt = shape.fmt
    positional, select_list = csv_columns(shape)
    source = _read_csv_sql([f.path for f in files], positional, delim=",", header=True,
                           quote='"')
    try:
        _execute_load(
            con,
            f"CREATE OR REPLACE TEMP TABLE {LOAD_TABLE} AS SELECT {select_list}, "
            f"{_part('filename', _FILE_ID)} AS file_id, {_part('filename', _PARTNER)} AS _org, "
            f"CAST(0 AS BIGINT) AS line_no FROM {source}")
    except NotUtf8 as exc:
        raise BatchNeedsSplit(str(exc)) from exc
    _no_structural_errors(con)
    counts = _rows_per_file(con, LOAD_TABLE, [f.file_id for f in files], 1)
    college = f"CASE WHEN _org = {q(NOT_PINNED)} THEN college_code ELSE _org END" \
        if any(f.partner_org for f in files) else None
    _, broken = find_errors(con, LOAD_TABLE, csv_rules(fmt, college), "batch", limit=1)
    if broken:
        raise BatchNeedsSplit("a broken rule")
    insert_csv_rows(con, fmt, "file_id")
    return {f.file_id: counts.get(f.file_id, 0) for f in files}


__all__ = ["BatchFile", "BatchNeedsSplit", "DiagnoseNeeded", "batch_path", "batchable",
           "load_calpads_batch", "load_csv_batch"]
