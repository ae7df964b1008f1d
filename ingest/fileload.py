"""Load one identified file into staging, all-or-nothing, and write its receipt.

Attempts, in order: UTF-8 fast (typed insert that stops at the first bad value), UTF-8
diagnostic (all-VARCHAR pass naming every bad value), then the same two as Windows-1252 once
DuckDB or the writer finds bytes that are not UTF-8. A UTF-8 file stored whole is read
straight from the raw store (``ingest.rawfs``, parallel); zip members, reassembled parts and
Windows-1252 files go through a FIFO fed by a writer thread (``ingest.stream``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from core.calpads import academic_year_id
from core.duck import transaction
from core.errors import InputRejected, Location
from ingest import manifest, rawfs
from ingest.classify import Identified
from ingest.faults import PARTNER_FAULTS, service_fault
from ingest.load_sql import DiagnoseNeeded, LoadResult, insertion_order_kept, load_calpads, load_csv
from ingest.manifest import FileRow
from ingest.models import FileError, Receipt, ReceiptStatus
from ingest.plaintext import opener
from ingest.receipts import receipt_for, reject, rejection
from ingest.stream import NotUtf8, fifo_feed, normalised
from ingest.supersede import supersede

Event = Callable[[str], None]


def load_file(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, row: FileRow, found: Identified,
    *, now: Callable[[], datetime], event: Event,
) -> Receipt:
    """Load ``row`` (identified as ``found``); an accepted or rejected receipt, committed.

    A fault of the service (disk, memory, I/O) raises ``InternalError`` and commits nothing.
    """
    event(f"loading {row.original_name} ({row.size_bytes or 0} bytes)")
    attempts = [("utf-8", True), ("utf-8", False), ("cp1252", True), ("cp1252", False)]
    index = 0
    while index < len(attempts):
        encoding, fast = attempts[index]
        try:
            with insertion_order_kept(con):  # line numbers follow from the order of appends
                return _load_transaction(con, raw_dir, key, row, found, encoding, fast,
                                         now=now, event=event)
        except NotUtf8:
            index = 2  # read as Windows-1252 from now on
            continue
        except DiagnoseNeeded:
            index += 1  # same encoding, all-VARCHAR pass that names every bad value
            continue
        except InputRejected as exc:
            return reject(con, row, [rejection(row, exc)], 1, event)
        except OSError as exc:
            raise service_fault(f"loading {row.original_name} failed", exc) from exc
        except duckdb.Error as exc:
            if not isinstance(exc, PARTNER_FAULTS):
                raise service_fault(f"loading {row.original_name} failed", exc) from exc
            error = FileError(file=row.original_name, rule="unreadable",
                              message=f"the file could not be read: {type(exc).__name__}")
            return reject(con, row, [error], 1, event)
    raise AssertionError("every load attempt ends in a receipt or an exception")


def _load_transaction(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, row: FileRow, found: Identified,
    encoding: str, fast: bool, *, now: Callable[[], datetime], event: Event,
) -> Receipt:
    """One transaction: bulk load + rules; commit with supersede + receipt, or roll back."""
    with transaction(con) as tx:
        if row.origin == "raw" and encoding == "utf-8":
            result = _load_direct(con, raw_dir, key, row, found, fast)
        else:
            result = _load_piped(con, raw_dir, key, row, found, encoding, fast)
        row.encoding = encoding
        if result.error_count:
            tx.rollback()  # nothing of a rejected file stays; the rejection has its own
            return reject(con, row, result.errors, result.error_count, event, result.warnings)
        if encoding == "cp1252":
            result.warnings.insert(0, "not valid UTF-8: read as Windows-1252")
        superseded = supersede(con, row)
        message = f"accepted: {result.rows} rows"
        if superseded:
            message += f"; supersedes {len(superseded)} earlier file(s)"
        receipt = receipt_for(row, ReceiptStatus.ACCEPTED, message, rows=result.rows,
                              warnings=result.warnings)
        manifest.update_file(
            con, row.file_id, status="accepted", source_system=row.source_system, kind=row.kind,
            partner_org=row.partner_org, period=row.period, layout_version=row.layout_version,
            encoding=encoding, loaded_at=now(),
        )
        manifest.write_receipt(con, receipt)
    event(f"accepted {row.original_name}: {result.rows} rows")
    return manifest.read_receipt(con, row.file_id) or receipt


def _load_direct(con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, row: FileRow,
                 found: Identified, fast: bool) -> LoadResult:
    """DuckDB reads the stored file itself through ``c2craw://`` (in parallel, no FIFO).

    DuckDB checks the UTF-8 itself (``NotUtf8`` from the loader retries as Windows-1252) and
    drops a leading BOM. A failed decryption (wrong key, altered file) is raised as such, not
    as whatever DuckDB made of it.
    """
    sha = row.sha256 or row.file_id
    with rawfs.registered(con, raw_dir, key) as fs:
        try:
            return _run_loader(con, row, found, rawfs.stored_path(sha), fast)
        except (InputRejected, DiagnoseNeeded, NotUtf8, duckdb.Error) as exc:
            if fs.error is not None:
                raise fs.error from exc
            raise


def _load_piped(con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, row: FileRow,
                found: Identified, encoding: str, fast: bool) -> LoadResult:
    """DuckDB reads a FIFO that a writer thread fills with decrypted (transcoded) bytes."""
    chunks = normalised(opener(con, raw_dir, key, row)(), encoding)
    with fifo_feed(chunks) as feed:
        loader_error: Exception | None = None
        try:
            result = _run_loader(con, row, found, str(feed.fifo), fast)
        except (InputRejected, DiagnoseNeeded, NotUtf8, duckdb.Error) as exc:
            loader_error = exc
        feed.stop()
        # The writer's own failure (not UTF-8, tampered raw file) explains a reader failure.
        if feed.error is not None and not isinstance(feed.error, BrokenPipeError):
            raise feed.error
        if loader_error is not None:
            raise loader_error
        if not feed.finished:
            raise InputRejected("the file could not be read to its end",
                                Location(row.original_name, rule="unreadable"))
    return result


def _run_loader(con: duckdb.DuckDBPyConnection, row: FileRow, found: Identified, path: str,
                fast: bool) -> LoadResult:
    if found.calpads is not None:
        return load_calpads(
            con, path, file_id=row.file_id, file_name=row.original_name,
            shape=found.calpads, year_id=academic_year_id(row.period) if row.period else None,
            partner_org=row.partner_org, fast=fast,
        )
    assert found.csv is not None
    return load_csv(con, path, file_id=row.file_id, file_name=row.original_name,
                    shape=found.csv, partner_org=row.partner_org)
