"""Receive files: raw store first, then identify, check the agreement, load all-or-nothing.

Order for every received file (DESIGN.md "Data flow"):
1. store the exact bytes, encrypted, named by their SHA-256 (before any parsing);
2. if that SHA-256 already has a final receipt, return it (re-sending is a no-op; ``dedup``);
3. identify (name, folders, first line; ``classify``), hold it if the partner has no active
   agreement (``holds``);
4. load in one transaction: bulk read, rules in SQL, typed insert, supersede older files of the
   same partner + kind + period, write the receipt (``loading``, ``supersede``, ``receipts``).
   A killed process commits nothing, and the manifest row still says ``received``, so running
   again completes the load.

This module walks the batch and sends each file down that path; zips (``zips``) and split
parts (``parts``) come back here for each file they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath

import duckdb

from core.errors import InputRejected, Location
from core.partners import Partner
from ingest import archive, manifest
from ingest.classify import ColumnMaps, identify_file
from ingest.dedup import file_for_sender
from ingest.faults import service_fault
from ingest.holds import hold_reason
from ingest.identify import parse_part
from ingest.loading import load_file
from ingest.manifest import FileRow
from ingest.models import Receipt, ReceiptStatus
from ingest.parts import receive_part
from ingest.plaintext import first_line, first_value, opener
from ingest.rawstore import store_file
from ingest.receipts import finish, receipt_for, receipts_of, reject, rejection
from ingest.schema import ensure_schema
from ingest.supersede import newer_current
from ingest.zips import unpack_zip


@dataclass(frozen=True)
class IngestOptions:
    """Knobs of a run. ``column_maps``: kind -> {partner header name: canonical column}."""

    column_maps: ColumnMaps = field(default_factory=dict)
    zip_limits: archive.ZipLimits = field(default_factory=archive.ZipLimits)
    today: date | None = None  # date of receipt and of the agreement check (default: today)
    on_event: Callable[[str], None] | None = None


@dataclass
class _Batch:
    """What every file of one call shares: the warehouse, the raw store, partners, sender."""

    con: duckdb.DuckDBPyConnection
    raw_dir: Path
    key: bytes
    partners: dict[str, Partner]
    options: IngestOptions
    submitted_by: str | None

    def event(self, text: str) -> None:
        if self.options.on_event:
            self.options.on_event(text)

    @property
    def today(self) -> date:
        return self.options.today or date.today()

    def now(self) -> datetime:
        """Receipt time; ``options.today`` (back-fills, tests) fixes its date."""
        now = datetime.now()
        return datetime.combine(self.options.today, now.time()) if self.options.today else now


# --- public entry points ------------------------------------------------------------------

def ingest_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path],
    raw_dir: Path,
    raw_key: bytes,
    partners: Iterable[Partner],
    *,
    submitted_by: str | None = None,
    options: IngestOptions | None = None,
) -> list[Receipt]:
    """Ingest files and folders (walked recursively, in name order); one receipt per data file.

    A bad file gets a rejection receipt and the batch goes on. ``submitted_by`` is the org code
    of the partner uploading (API); files naming another partner are rejected.
    """
    batch = _batch(con, raw_dir, raw_key, partners, submitted_by, options)
    receipts: list[Receipt] = []
    for path in expand_paths(paths):
        receipts.extend(_ingest_one(batch, path, str(path)))
    return receipts


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    raw_dir: Path,
    raw_key: bytes,
    partners: Iterable[Partner],
    *,
    submitted_by: str | None = None,
    options: IngestOptions | None = None,
    display_path: str | None = None,
) -> list[Receipt]:
    """Ingest one received file (a .zip or split part may give several receipts).

    ``display_path`` is the name used for identification (folders + name) when ``path`` is a
    temporary upload file; defaults to ``path``.
    """
    batch = _batch(con, raw_dir, raw_key, partners, submitted_by, options)
    return _ingest_one(batch, path, display_path or str(path))


def release_held(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    raw_key: bytes,
    partners: Iterable[Partner],
    *,
    file_ids: Sequence[str] | None = None,
    options: IngestOptions | None = None,
) -> list[Receipt]:
    """Load held files whose partner now has an active agreement (all, or only ``file_ids``)."""
    batch = _batch(con, raw_dir, raw_key, partners, None, options)
    held = manifest.files_where(con, "status = 'held'", [])
    receipts = []
    for row in held:
        if file_ids is not None and row.file_id not in file_ids:
            continue
        partner = batch.partners.get(row.partner_org or "")
        if partner is None or not partner.agreement_active(batch.today):
            continue
        manifest.update_file(con, row.file_id, status="received")
        row.status = "received"
        batch.submitted_by = row.submitted_by
        receipts.append(_process(batch, row))
    return receipts


def get_receipts(con: duckdb.DuckDBPyConnection, file_id: str) -> list[Receipt]:
    """Receipts of a stored file id (a zip gives its members' receipts)."""
    ensure_schema(con)
    row = manifest.get_file(con, file_id)
    return receipts_of(con, row) if row else []


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files to ingest: each file named, and every file under each folder named (name order,
    hidden files and folders skipped)."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputRejected(f"no such file or folder: {path}",
                                Location(str(path), rule="file_exists"))
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


# --- one file ------------------------------------------------------------------------------

def _batch(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, partners: Iterable[Partner],
    submitted_by: str | None, options: IngestOptions | None,
) -> _Batch:
    ensure_schema(con)
    return _Batch(con, raw_dir, key, {p.org_code: p for p in partners},
                  options or IngestOptions(), submitted_by)


def _ingest_one(batch: _Batch, path: Path, shown: str) -> list[Receipt]:
    """Store the bytes, then hand the file (a zip, a part or a data file) on."""
    con, submitted_by = batch.con, batch.submitted_by
    batch.event(f"storing {shown}")
    try:
        stored = store_file(path, batch.raw_dir, batch.key)
    except OSError as exc:
        raise service_fault("the raw store could not be written", exc) from exc
    file_id, existing = file_for_sender(con, stored.sha256, submitted_by)
    if existing is not None and existing.status != "received":
        return receipts_of(con, existing)
    name = PurePosixPath(shown.replace("\\", "/")).name
    part = parse_part(name)
    if existing is None:
        row = FileRow(
            file_id=file_id, sha256=stored.sha256, origin="raw", parent_id=None,
            member=None, part_ids=None, original_name=name, source_path=shown,
            size_bytes=stored.size, received_at=batch.now(), submitted_by=submitted_by,
            kind="part" if part else ("zip" if name.lower().endswith(".zip") else None),
        )
        manifest.insert_file(con, row)
    else:
        row = existing
    def process(data_file: FileRow) -> Receipt:
        return _process(batch, data_file)

    if part is not None:
        return receive_part(con, row, submitted_by=batch.submitted_by, process=process,
                            event=batch.event)
    if name.lower().endswith(".zip"):
        return unpack_zip(con, batch.raw_dir, batch.key, row,
                          limits=batch.options.zip_limits, process=process, event=batch.event)
    return [_process(batch, row)]


def _process(batch: _Batch, row: FileRow) -> Receipt:
    """Identify, hold or load one data file whose manifest row says ``received``."""
    con = batch.con
    try:
        chunks = opener(con, batch.raw_dir, batch.key, row)
        found = identify_file(
            row, first_line(chunks()), submitted_by=batch.submitted_by,
            column_maps=batch.options.column_maps,
            first_value=lambda index: first_value(chunks(), index))
    except InputRejected as exc:
        return reject(con, row, [rejection(row, exc)], 1, batch.event)
    reason = hold_reason(batch.partners, row.partner_org, batch.today)
    if reason:
        batch.event(f"{reason} [{row.original_name}]")
        return finish(con, row, receipt_for(row, ReceiptStatus.HELD, reason), "held")
    newer = newer_current(con, row)
    if newer:
        message = (f"not loaded: a newer file for {row.partner_org} {row.kind} {row.period} "
                   f"({newer[-1].original_name}) is already current")
        receipt = receipt_for(row, ReceiptStatus.ACCEPTED, message)
        return finish(con, row, receipt, "superseded")
    return load_file(con, batch.raw_dir, batch.key, row, found, now=batch.now,
                     event=batch.event)
