"""Many received files, one load per file kind: ingest priced by the byte, not the file (issue 26).

The per-file path (``ingest.pipeline``) spends a few dozen DuckDB statements and an fsync on
every file, which is most of the time for the state's 17,000 small files a year. Here the same
steps run for a whole batch, each in a handful of statements:

1. every file's bytes go to the raw store (encrypted, named by SHA-256) without an fsync each;
   one ``syncfs`` then makes them all durable, before any manifest row names them;
2. one manifest query finds re-sent bytes (their first receipt is returned) and one insert
   records the new files as ``received``, committed: from here a killed run resumes;
3. each file is identified from its first line (Python, no statement); rejections, held files
   and files a newer one already replaced get their receipts in one transaction;
4. the rest load by shape (CALPADS file type and layout; CSV kind and header mapping): one
   ``read_csv`` over up to ``batch_files`` files and one checked insert
   (``ingest.batchload``), then supersession, manifest and receipts, all in the load's
   transaction. Files of the same partner, kind and period load in separate rounds, in the
   order received, so the newer one supersedes the older as it would one file at a time.

A batch that is not clean (a bad value, a bad line, not UTF-8, an unreadable stored file) is
rolled back and split in halves; a single file goes down the per-file path, whose receipt
names every bad value with its line. The other files of the batch load. A fault of the service
(disk full, I/O) raises ``InternalError`` with nothing of the failed load committed; the
manifest rows still say ``received`` and the next run loads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import duckdb

from core import tables
from core.calpads import academic_year_id
from core.duck import transaction
from core.errors import InputRejected
from ingest import manifest, rawfs
from ingest.batchload import (
    BatchFile,
    BatchNeedsSplit,
    batchable,
    load_calpads_batch,
    load_csv_batch,
)
from ingest.classify import Identified, identify_file
from ingest.context import Run
from ingest.dedup import files_for_sender
from ingest.faults import PARTNER_FAULTS, service_fault
from ingest.fileload import load_file
from ingest.holds import hold_reason
from ingest.load_sql import DiagnoseNeeded, insertion_order_kept
from ingest.manifest import FileRow
from ingest.models import Receipt, ReceiptStatus
from ingest.plaintext import first_line, first_value, opener
from ingest.rawstore import store_file, sync_store
from ingest.receipts import receipt_for, receipts_of, rejected_receipt, rejection
from ingest.stream import NotUtf8
from ingest.supersede import staging_table

STORE_THREADS = 4
# Below this average size a batch is read by one DuckDB thread: each stored file is decrypted
# by Python (``ingest.rawfs``), and two DuckDB threads opening thousands of small files mostly
# wait for the GIL (measured: 2,000 SENR files, 6.8 s CPU with one thread, 9.4-12.2 s with
# two, and no shorter wall).
SMALL_FILE = 1024 * 1024

# the manifest status of a receipt that ends a file's way without a load
FINAL_STATUS = {ReceiptStatus.REJECTED: "rejected", ReceiptStatus.HELD: "held",
                ReceiptStatus.ACCEPTED: "superseded"}

Slot = tuple[str | None, str | None, str | None, str | None]


def slot(row: FileRow) -> Slot:
    """What supersession compares: one current file per partner, kind and period."""
    return (row.source_system, row.kind, row.partner_org, row.period)


def triage(run: Run, row: FileRow, newer: Callable[[FileRow], str | None]) -> Receipt | Identified:
    """Identify a ``received`` row; a receipt (not stored yet) if it ends here, else its shape.

    Ends here: rejected (cannot be identified, name and content disagree), held (no active
    agreement), or replaced on arrival (``newer`` names a newer current file of its slot).
    """
    try:
        chunks = opener(run.con, run.raw_dir, run.key, row)
        found = identify_file(
            row, first_line(chunks()), submitted_by=run.submitted_by,
            column_maps=run.options.column_maps,
            first_value=lambda index: first_value(chunks(), index))
    except InputRejected as exc:
        return rejected_receipt(row, [rejection(row, exc)], 1)
    reason = hold_reason(run.partners, row.partner_org, run.today)
    if reason:
        return receipt_for(row, ReceiptStatus.HELD, reason)
    newest = newer(row)
    if newest:
        return receipt_for(row, ReceiptStatus.ACCEPTED,
                           f"not loaded: a newer file for {row.partner_org} {row.kind} "
                           f"{row.period} ({newest}) is already current")
    return found


@dataclass
class _Load:
    row: FileRow
    found: Identified


def ingest_batch(run: Run, paths: list[tuple[Path, str]]) -> list[list[Receipt]]:
    """Receipts of each ``(path, shown name)``, in order; data files only (no zips, no parts)."""
    with rawfs.pandas_probes_answered():
        return _ingest_batch(run, paths)


def _ingest_batch(run: Run, paths: list[tuple[Path, str]]) -> list[list[Receipt]]:
    con = run.con
    stored = []
    run.raw_dir.mkdir(parents=True, exist_ok=True)
    try:
        # a few threads: hashing, AES-GCM and file writes release the GIL, and small files
        # spend most of their time in open/rename system calls
        with ThreadPoolExecutor(max_workers=STORE_THREADS) as pool:
            for (_, shown), kept in zip(paths, pool.map(
                    lambda item: store_file(item[0], run.raw_dir, run.key, durable=False),
                    paths), strict=True):
                run.event(f"stored {shown}")
                stored.append(kept)
        sync_store(run.raw_dir)
    except OSError as exc:
        raise service_fault("the raw store could not be written", exc) from exc

    ids = files_for_sender(con, [s.sha256 for s in stored], run.submitted_by)
    seen: set[str] = set()
    new_rows: list[FileRow] = []
    pending: list[FileRow] = []
    finished: dict[str, FileRow] = {}
    waiting: dict[str, list[tuple[str, int]]] = {}  # file id -> files to report done
    for (_, shown), kept, (file_id, existing) in zip(paths, stored, ids, strict=True):
        waiting.setdefault(file_id, []).append((shown, kept.size))
        if file_id in seen:  # the same bytes twice in one batch are one file
            continue
        seen.add(file_id)
        if existing is not None and existing.status != "received":
            finished[file_id] = existing
            continue
        if existing is None:
            existing = FileRow(
                file_id=file_id, sha256=kept.sha256, origin="raw", parent_id=None, member=None,
                part_ids=None, original_name=PurePosixPath(shown.replace("\\", "/")).name,
                source_path=shown, size_bytes=kept.size, received_at=run.now(),
                submitted_by=run.submitted_by)
            new_rows.append(existing)
        pending.append(existing)
    if new_rows:
        with transaction(con):
            manifest.insert_files(con, new_rows)

    def report(file_ids: list[str]) -> None:
        for file_id in file_ids:
            for shown, size in waiting.pop(file_id, []):
                run.done(shown, size)

    loads = _triage_all(run, pending)
    loading = {load.row.file_id for load in loads}
    report([f for f in waiting if f not in loading])
    for chunk in _chunks(run, loads):
        _load_chunk(run, chunk)
        report([load.row.file_id for load in chunk])

    zips = {fid: row for fid, row in finished.items() if row.kind == "zip"}
    receipts = manifest.read_receipts(con, [f for f in seen if f not in zips])
    by_id: dict[str, list[Receipt]] = {
        fid: ([receipts[fid]] if fid in receipts else []) for fid in seen if fid not in zips}
    for fid, row in zips.items():  # the same bytes sent before as a zip: its members'
        by_id[fid] = receipts_of(con, row)
    return [by_id[file_id] for file_id, _ in ids]


def _triage_all(run: Run, pending: list[FileRow]) -> list[_Load]:
    """Identify every pending row; store the receipts of those that end here at once."""
    current = _current_files(run.con)

    def newer(row: FileRow) -> str | None:
        newest = current.get(slot(row))
        return newest[1] if newest and newest[0] > row.received_at else None

    ended: dict[str, list[tuple[FileRow, Receipt]]] = {}
    loads: list[_Load] = []
    for row in pending:
        outcome = triage(run, row, newer)
        if isinstance(outcome, Receipt):
            run.event(f"{outcome.message} [{row.original_name}]")
            ended.setdefault(FINAL_STATUS[outcome.status], []).append((row, outcome))
        else:
            loads.append(_Load(row, outcome))
    if ended:
        with transaction(run.con):
            for status, items in ended.items():
                manifest.finish_files(run.con, [row for row, _ in items], status)
                manifest.write_receipts(run.con, [receipt for _, receipt in items])
    return loads


def _current_files(con: duckdb.DuckDBPyConnection) -> dict[Slot, tuple[datetime, str]]:
    """The newest accepted file of every slot: when it arrived and its name."""
    rows = con.execute(
        f"SELECT source_system, kind, partner_org, period, max(received_at), "
        f"arg_max(original_name, received_at) FROM {tables.FILES} WHERE status = 'accepted' "
        "GROUP BY ALL").fetchall()
    return {(s, k, p, d): (at, name) for s, k, p, d, at, name in rows}


def _shape_key(load: _Load) -> tuple[object, ...] | None:
    """Files with the same key load in one statement; None: this file loads on its own."""
    row, found = load.row, load.found
    if row.origin != "raw" or not (batchable(row.partner_org) and batchable(row.file_id)):
        return None
    if found.calpads is not None:
        shape = found.calpads
        return ("calpads", shape.layout.file_type, shape.layout.version, shape.ods,
                shape.record_type, shape.columns, row.period is not None,
                row.partner_org is not None)
    if found.csv is not None:
        shape_csv = found.csv
        return ("csv", shape_csv.fmt.kind, shape_csv.file_columns, shape_csv.mapping,
                shape_csv.warnings, row.partner_org is not None)
    return None


def _chunks(run: Run, loads: list[_Load]) -> Iterator[list[_Load]]:
    """Loads grouped by shape, in rounds (a slot at most once per round, in order received),
    cut at ``batch_files`` files or ``batch_bytes`` bytes."""
    rounds: list[dict[tuple[object, ...] | None, list[_Load]]] = []
    seen: dict[Slot, int] = {}
    for load in sorted(loads, key=lambda item: item.row.received_at):
        number = seen.get(slot(load.row), 0)
        seen[slot(load.row)] = number + 1
        while len(rounds) <= number:
            rounds.append({})
        rounds[number].setdefault(_shape_key(load), []).append(load)
    limit_files = max(1, run.options.batch_files)
    for groups in rounds:
        for key, items in groups.items():
            if key is None:
                yield from ([item] for item in items)
                continue
            chunk: list[_Load] = []
            size = 0
            for item in items:
                item_size = item.row.size_bytes or 0
                if chunk and (len(chunk) >= limit_files
                              or size + item_size > run.options.batch_bytes):
                    yield chunk
                    chunk, size = [], 0
                chunk.append(item)
                size += item_size
            if chunk:
                yield chunk


def _load_chunk(run: Run, chunk: list[_Load]) -> None:
    """Load the chunk in one transaction, or split it (a single file: the per-file path)."""
    con = run.con
    if len(chunk) == 1:
        load = chunk[0]
        load_file(con, run.raw_dir, run.key, load.row, load.found, now=run.now, event=run.event)
        return
    names = f"{len(chunk)} files ({chunk[0].row.kind}, {chunk[0].row.original_name} ...)"
    run.event(f"loading {names}")
    small = sum(load.row.size_bytes or 0 for load in chunk) < len(chunk) * SMALL_FILE
    try:
        with insertion_order_kept(con), _threads(con, 1 if small else None), \
                rawfs.registered(con, run.raw_dir, run.key) as fs:
            try:
                with transaction(con):
                    _load_clean(run, chunk)
                return
            except (BatchNeedsSplit, InputRejected, DiagnoseNeeded, NotUtf8):
                pass  # split below
            except duckdb.OutOfMemoryException:
                pass  # fewer files at once need less memory; one file alone is a fault
            except duckdb.Error as exc:
                if fs.error is None and not isinstance(exc, PARTNER_FAULTS):
                    raise service_fault(f"loading {names} failed", exc) from exc
    except OSError as exc:
        raise service_fault(f"loading {names} failed", exc) from exc
    run.event(f"splitting {names}: a file is not clean")
    half = len(chunk) // 2
    _load_chunk(run, chunk[:half])
    _load_chunk(run, chunk[half:])


@contextmanager
def _threads(con: duckdb.DuckDBPyConnection, threads: int | None) -> Iterator[None]:
    """DuckDB's ``threads`` for the block (None: unchanged), then as it was."""
    if threads is None:
        yield
        return
    row = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute(f"SET threads = {int(threads)}")
    try:
        yield
    finally:
        if row is not None:
            con.execute(f"SET threads = {int(row[0])}")


def _load_clean(run: Run, chunk: list[_Load]) -> None:
    """Inside the caller's transaction: rows, supersession, manifest and receipts of a chunk."""
    con = run.con
    rows = [load.row for load in chunk]
    found = chunk[0].found
    files = [BatchFile(row.file_id, row.sha256 or row.file_id,
                       academic_year_id(row.period) if found.calpads and row.period else None,
                       row.partner_org) for row in rows]
    warnings: list[str] = []
    if found.calpads is not None:
        counts = load_calpads_batch(con, files, found.calpads)
    else:
        assert found.csv is not None
        counts = load_csv_batch(con, files, found.csv)
        warnings = list(found.csv.warnings)
    replaced = _supersede_many(con, rows)
    receipts = []
    for row in rows:
        row.encoding = "utf-8"
        count = counts.get(row.file_id, 0)
        message = f"accepted: {count} rows"
        if replaced.get(row.file_id):
            message += f"; supersedes {len(replaced[row.file_id])} earlier file(s)"
        extra = ["the file has a header but no records"] if found.csv and not count else []
        receipts.append(receipt_for(row, ReceiptStatus.ACCEPTED, message, rows=count,
                                    warnings=warnings + extra))
        run.event(f"accepted {row.original_name}: {count} rows")
    manifest.finish_files(con, rows, "accepted", loaded_at=run.now())
    manifest.write_receipts(con, receipts)


def _supersede_many(con: duckdb.DuckDBPyConnection, rows: list[FileRow]) -> dict[str, list[str]]:
    """``ingest.supersede.supersede`` for a chunk whose files are of distinct slots."""
    import pyarrow as pa

    new = pa.table({
        "file_id": pa.array([r.file_id for r in rows], pa.string()),
        **{c: pa.array([getattr(r, c) for r in rows], pa.string())
           for c in ("source_system", "kind", "partner_org", "period")}})
    with manifest.arrow_view(con, "_ingest_chunk", new):
        pairs = con.execute(
            f"SELECT o.file_id, n.file_id FROM {tables.FILES} o JOIN _ingest_chunk n "
            "ON o.source_system = n.source_system AND o.kind = n.kind "
            "AND o.partner_org = n.partner_org AND o.period = n.period "
            "WHERE o.status = 'accepted' AND o.file_id NOT IN (SELECT file_id FROM _ingest_chunk)"
        ).fetchall()
    if not pairs:
        return {}
    olds = [old for old, _ in pairs]
    con.execute(f"DELETE FROM {staging_table(rows[0])} "
                "WHERE file_id IN (SELECT unnest(CAST(? AS VARCHAR[])))", [olds])
    mapping = pa.table({"old": pa.array(olds, pa.string()),
                        "new": pa.array([n for _, n in pairs], pa.string())})
    with manifest.arrow_view(con, "_ingest_replaced", mapping):
        con.execute(f"UPDATE {tables.FILES} SET status = 'superseded', superseded_by = m.new "
                    f"FROM _ingest_replaced m WHERE {tables.FILES}.file_id = m.old")
    replaced: dict[str, list[str]] = {}
    for old, new_id in pairs:
        replaced.setdefault(new_id, []).append(old)
    return replaced
