"""Warehouse tables ingest writes: ``ingest.*`` (manifest, receipts, errors) and ``staging.*``."""

from __future__ import annotations

import duckdb

from core import tables
from core.calpads import FILE_TYPES, LAYOUTS, ODS_TRAILING_FIELDS, staging_columns
from core.duck import columns_of
from core.partner_formats import CSV_FORMATS

FILES_DDL = f"""
CREATE TABLE IF NOT EXISTS {tables.FILES} (
    file_id VARCHAR PRIMARY KEY,      -- sha256 of received bytes, or derived (zip member, parts)
    sha256 VARCHAR,                   -- raw store name; NULL when derived
    origin VARCHAR NOT NULL,          -- raw | zip_member | parts
    parent_id VARCHAR,                -- zip container file_id
    member VARCHAR,                   -- name inside the zip
    part_ids VARCHAR[],               -- parts in order, for origin = parts
    original_name VARCHAR NOT NULL,
    source_path VARCHAR,
    size_bytes BIGINT,
    received_at TIMESTAMP NOT NULL,
    submitted_by VARCHAR,
    source_system VARCHAR,
    kind VARCHAR,                     -- SENR.. / college_students.. / zip / part
    partner_org VARCHAR,
    period VARCHAR,                   -- CALPADS 2022-23, college term, CCGI date
    layout_version VARCHAR,
    encoding VARCHAR,
    part_group VARCHAR,
    part_no INTEGER,
    part_total INTEGER,
    -- received | accepted | rejected | held | superseded | part | unpacked
    status VARCHAR NOT NULL,
    superseded_by VARCHAR,
    loaded_at TIMESTAMP
)"""

RECEIPTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {tables.RECEIPTS} (
    receipt_id VARCHAR PRIMARY KEY,
    file_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,          -- accepted | rejected | held
    rows BIGINT NOT NULL,
    warnings VARCHAR[] NOT NULL,
    error_count BIGINT NOT NULL,
    message VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
)"""

ERRORS_DDL = f"""
CREATE TABLE IF NOT EXISTS {tables.LOAD_ERRORS} (
    file_id VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT,
    field VARCHAR,
    value VARCHAR,
    rule VARCHAR NOT NULL,
    message VARCHAR NOT NULL
)"""


def calpads_column_types(file_type: str) -> dict[str, str]:
    """Staging column -> SQL type: dates DATE, everything else (ids included) VARCHAR."""
    dates = {
        spec.name
        for layout in LAYOUTS
        if layout.file_type == file_type
        for spec in layout.fields
        if spec.kind == "date"
    } | set(ODS_TRAILING_FIELDS)
    return {c: ("DATE" if c in dates else "VARCHAR") for c in staging_columns(file_type)}


def csv_column_types(kind: str) -> dict[str, str]:
    fmt = CSV_FORMATS[kind]
    return {c: ("DATE" if c in fmt.date_columns else "VARCHAR") for c in fmt.columns}


def _staging_ddl(table: str, columns: dict[str, str]) -> str:
    body = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n    {body},\n"
        "    file_id VARCHAR NOT NULL,\n    line_no BIGINT NOT NULL\n)"
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every ingest and staging table that does not exist yet (idempotent)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.INGEST}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.STAGING}")
    con.execute(FILES_DDL)
    con.execute(RECEIPTS_DDL)
    con.execute(ERRORS_DDL)
    for file_type in FILE_TYPES:
        table = tables.calpads_staging(file_type)
        con.execute(_staging_ddl(table, calpads_column_types(file_type)))
    for kind in CSV_FORMATS:
        table = tables.csv_staging(kind)
        types = csv_column_types(kind)
        con.execute(_staging_ddl(table, types))
        # a warehouse made before a layout gained an optional column (college_students'
        # high_school_cds, 2026-12-07) gets it, empty for the rows loaded before
        present = columns_of(con, table)
        for column, sql_type in types.items():
            if column not in present:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
