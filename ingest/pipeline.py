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

Several plain data files given at once take the same steps in batches (``batch``: a
statement per file kind, not per file); this module sends a single file, zips (``zips``) and
split parts (``parts``) down the per-file path, and zips and parts come back here for each
file they hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

import duckdb

from core.errors import InputRejected, Location
from core.partners import Partner
from ingest import manifest
from ingest.batch import FINAL_STATUS, ingest_batch, triage
from ingest.context import IngestOptions, Run
from ingest.dedup import file_for_sender
from ingest.faults import service_fault
from ingest.fileload import load_file
from ingest.identify import parse_part
from ingest.manifest import FileRow
from ingest.models import Receipt
from ingest.parts import receive_part
from ingest.rawstore import store_file
from ingest.receipts import finish, receipts_of
from ingest.schema import ensure_schema
from ingest.supersede import newer_current
from ingest.zips import unpack_zip

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
    of the partner uploading (API); files naming another partner are rejected. Several data
    files load together, a statement per file kind (``ingest.batch``); zips and split parts
    go one at a time after them.
    """
    run = _run(con, raw_dir, raw_key, partners, submitted_by, options)
    files = expand_paths(paths)
    found: dict[int, list[Receipt]] = {}
    plain = [(i, p) for i, p in enumerate(files) if not _container(p.name)]
    if len(plain) > 1 and run.options.batch_files > 1:
        batch_receipts = ingest_batch(run, [(p, str(p)) for _, p in plain])
        found.update((i, r) for (i, _), r in zip(plain, batch_receipts, strict=True))
    for i, path in enumerate(files):
        if i not in found:
            found[i] = _ingest_one(run, path, str(path))
            run.done(str(path), path.stat().st_size)
    return [receipt for i in range(len(files)) for receipt in found[i]]


def _container(name: str) -> bool:
    """A zip or a split part: received one at a time (``ingest.zips``, ``ingest.parts``)."""
    return name.lower().endswith(".zip") or parse_part(name) is not None


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
    run = _run(con, raw_dir, raw_key, partners, submitted_by, options)
    return _ingest_one(run, path, display_path or str(path))


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
    batch = _run(con, raw_dir, raw_key, partners, None, options)
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

def _run(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, partners: Iterable[Partner],
    submitted_by: str | None, options: IngestOptions | None,
) -> Run:
    ensure_schema(con)
    return Run(con, raw_dir, key, {p.org_code: p for p in partners},
                  options or IngestOptions(), submitted_by)


def _ingest_one(batch: Run, path: Path, shown: str) -> list[Receipt]:
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


def _process(batch: Run, row: FileRow) -> Receipt:
    """Identify, hold or load one data file whose manifest row says ``received``."""
    con = batch.con

    def newer(data_file: FileRow) -> str | None:
        newest = newer_current(con, data_file)
        return newest[-1].original_name if newest else None

    outcome = triage(batch, row, newer)
    if isinstance(outcome, Receipt):
        batch.event(f"{outcome.message} [{row.original_name}]")
        return finish(con, row, outcome, FINAL_STATUS[outcome.status])
    return load_file(con, batch.raw_dir, batch.key, row, outcome, now=batch.now,
                     event=batch.event)
