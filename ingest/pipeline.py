"""Receive files: raw store first, then identify, check the agreement, load all-or-nothing.

Order for every received file (DESIGN.md "Data flow"):
1. store the exact bytes, encrypted, named by their SHA-256 (before any parsing);
2. if that SHA-256 already has a final receipt, return it (re-sending is a no-op);
3. identify (name, folders, first line), hold it if the partner has no active agreement;
4. load in one transaction: bulk read, rules in SQL, typed insert, supersede older files of the
   same partner + kind + period, write the receipt. A killed process commits nothing, and the
   manifest row still says ``received``, so running again completes the load.

How DuckDB reads the plaintext: a UTF-8 file stored whole is read straight from the raw store
(``ingest.rawfs``, decrypted in memory, parallel). Zip members, reassembled parts and
Windows-1252 files go through a FIFO fed by a writer thread (``ingest.stream``), which unpacks,
joins or transcodes on the way. Neither writes plaintext anywhere.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath

import duckdb

from core import tables
from core.calpads import FILE_TYPES, academic_year_id, short_year
from core.duck import transaction
from core.errors import InputRejected, InternalError, Location
from core.partner_formats import CSV_FORMATS
from core.partners import Partner
from ingest import archive, manifest, rawfs
from ingest.identify import NameInfo, identify_name, parse_part, year_is_consistent
from ingest.load import (
    CalpadsShape,
    CsvShape,
    DiagnoseNeeded,
    LoadResult,
    insertion_order_kept,
    load_calpads,
    load_csv,
    sniff_calpads,
    sniff_csv,
)
from ingest.manifest import FileRow
from ingest.models import FileError, Receipt, ReceiptStatus
from ingest.rawstore import iter_plaintext, raw_path, store_file
from ingest.schema import ensure_schema
from ingest.stream import BOM, NotUtf8, fifo_feed, normalised

FIRST_LINE_LIMIT = 1024 * 1024
ColumnMaps = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class IngestOptions:
    """Knobs of a run. ``column_maps``: kind -> {partner header name: canonical column}."""

    column_maps: ColumnMaps = field(default_factory=dict)
    zip_limits: archive.ZipLimits = field(default_factory=archive.ZipLimits)
    today: date | None = None  # date of receipt and of the agreement check (default: today)
    on_event: Callable[[str], None] | None = None


@dataclass
class _Ctx:
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
    ctx = _context(con, raw_dir, raw_key, partners, submitted_by, options)
    receipts: list[Receipt] = []
    for path in expand_paths(paths):
        receipts.extend(_ingest_one(ctx, path, str(path)))
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
    ctx = _context(con, raw_dir, raw_key, partners, submitted_by, options)
    return _ingest_one(ctx, path, display_path or str(path))


def _ingest_one(ctx: _Ctx, path: Path, shown: str) -> list[Receipt]:
    con, raw_dir, raw_key, submitted_by = ctx.con, ctx.raw_dir, ctx.key, ctx.submitted_by
    ctx.event(f"storing {shown}")
    try:
        stored = store_file(path, raw_dir, raw_key)
    except OSError as exc:
        raise _service_fault("the raw store could not be written", exc) from exc
    file_id, existing = _file_for_sender(con, stored.sha256, submitted_by)
    if existing is not None and existing.status != "received":
        return _receipts_of(con, existing)
    name = PurePosixPath(shown.replace("\\", "/")).name
    part = parse_part(name)
    if existing is None:
        row = FileRow(
            file_id=file_id, sha256=stored.sha256, origin="raw", parent_id=None,
            member=None, part_ids=None, original_name=name, source_path=shown,
            size_bytes=stored.size, received_at=ctx.now(), submitted_by=submitted_by,
            kind="part" if part else ("zip" if name.lower().endswith(".zip") else None),
        )
        manifest.insert_file(con, row)
    else:
        row = existing
    if part is not None:
        return _handle_part(ctx, row)
    if name.lower().endswith(".zip"):
        return _handle_zip(ctx, row)
    return [_process(ctx, row)]


def _file_for_sender(
    con: duckdb.DuckDBPyConnection, sha256: str, submitted_by: str | None
) -> tuple[str, FileRow | None]:
    """The manifest id these bytes get from this sender, and its row if they sent them before.

    De-duplication is per sender, after the partner check: bytes another partner sent are a
    new file for this one (loaded and judged as new bytes would be), so a re-send never hands
    back the other partner's receipt nor tells that they sent the file. The operator (no
    ``submitted_by``) and the partner who owns the file see the first copy.
    """
    first = manifest.get_file(con, sha256)
    if first is None or submitted_by is None or _sent_by(first, submitted_by):
        return sha256, first
    own_id = f"{sha256}-{submitted_by}"
    return own_id, manifest.get_file(con, own_id)


def _sent_by(row: FileRow, org: str) -> bool:
    if row.submitted_by is not None:
        return row.submitted_by == org
    return row.partner_org == org  # dropped in the landing folder: the partner it names


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
    ctx = _context(con, raw_dir, raw_key, partners, None, options)
    held = manifest.files_where(con, "status = 'held'", [])
    receipts = []
    for row in held:
        if file_ids is not None and row.file_id not in file_ids:
            continue
        partner = ctx.partners.get(row.partner_org or "")
        if partner is None or not partner.agreement_active(ctx.today):
            continue
        manifest.update_file(con, row.file_id, status="received")
        row.status = "received"
        ctx.submitted_by = row.submitted_by
        receipts.append(_process(ctx, row))
    return receipts


def get_receipts(con: duckdb.DuckDBPyConnection, file_id: str) -> list[Receipt]:
    """Receipts of a stored file id (a zip gives its members' receipts)."""
    ensure_schema(con)
    row = manifest.get_file(con, file_id)
    return _receipts_of(con, row) if row else []


def expand_paths(paths: Sequence[Path]) -> list[Path]:
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


# --- internals -----------------------------------------------------------------------------

def _context(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, partners: Iterable[Partner],
    submitted_by: str | None, options: IngestOptions | None,
) -> _Ctx:
    ensure_schema(con)
    return _Ctx(con, raw_dir, key, {p.org_code: p for p in partners}, options or IngestOptions(),
                submitted_by)


def _receipts_of(con: duckdb.DuckDBPyConnection, row: FileRow) -> list[Receipt]:
    if row.kind == "zip" and row.status == "unpacked":
        members = manifest.files_where(con, "parent_id = ?", [row.file_id])
        return [r for m in members if (r := manifest.read_receipt(con, m.file_id))]
    receipt = manifest.read_receipt(con, row.file_id)
    return [receipt] if receipt else []


def _opener(ctx: _Ctx, row: FileRow) -> Callable[[], Iterator[bytes]]:
    """Plaintext chunks of a manifest row, wherever its bytes live in the raw store."""
    if row.origin == "raw":
        sha = row.sha256 or row.file_id
        return lambda: iter_plaintext(ctx.raw_dir, sha, ctx.key)
    if row.origin == "zip_member":
        parent = manifest.get_file(ctx.con, row.parent_id or "")
        if parent is None or row.member is None:
            raise InputRejected(f"zip container of {row.original_name} is not in the manifest")
        container = raw_path(ctx.raw_dir, parent.sha256 or parent.file_id)
        member = archive.Member(row.member, int(row.size_bytes or 0))
        return lambda: archive.iter_member(container, ctx.key, parent.original_name, member)
    parts = list(row.part_ids or [])

    def chain() -> Iterator[bytes]:
        for part_id in parts:
            yield from iter_plaintext(ctx.raw_dir, part_id, ctx.key)

    return chain


def _first_line(chunks: Iterator[bytes]) -> bytes:
    buffer = b""
    try:
        for chunk in chunks:
            buffer += chunk
            if b"\n" in buffer or len(buffer) >= FIRST_LINE_LIMIT:
                break
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    if buffer.startswith(BOM):
        buffer = buffer[len(BOM):]
    return buffer.split(b"\n", 1)[0].rstrip(b"\r")


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors="replace")


def _receipt(row: FileRow, status: ReceiptStatus, message: str, **kw: object) -> Receipt:
    return Receipt(
        receipt_id=row.file_id, file_id=row.file_id, file_name=row.original_name, status=status,
        source_system=row.source_system, kind=row.kind, partner_org=row.partner_org,
        period=row.period, message=message, **kw,  # type: ignore[arg-type]
    )


def _finish(ctx: _Ctx, row: FileRow, receipt: Receipt, status: str) -> Receipt:
    """Record a final status and receipt in one transaction; return the stored receipt."""
    with transaction(ctx.con):
        manifest.update_file(
            ctx.con, row.file_id, status=status, source_system=row.source_system, kind=row.kind,
            partner_org=row.partner_org, period=row.period, layout_version=row.layout_version,
            encoding=row.encoding,
        )
        manifest.write_receipt(ctx.con, receipt)
    stored = manifest.read_receipt(ctx.con, row.file_id)
    return stored or receipt


def _reject(ctx: _Ctx, row: FileRow, errors: list[FileError], count: int,
            warnings: list[str] | None = None) -> Receipt:
    first = errors[0].describe() if errors else "rejected"
    more = f" (and {count - 1} more)" if count > 1 else ""
    receipt = _receipt(row, ReceiptStatus.REJECTED, f"rejected: {first}{more}", errors=errors,
                       error_count=count, warnings=warnings or [])
    ctx.event(f"rejected {row.original_name}: {first}{more}")
    return _finish(ctx, row, receipt, "rejected")


def _rejection(row: FileRow, exc: InputRejected) -> FileError:
    loc = exc.location or Location(row.original_name, rule="file")
    message = str(exc)
    prefix = f"{loc.describe()}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    return FileError(file=row.original_name, line=loc.line, field=loc.field, value=loc.value,
                     rule=loc.rule or "file", message=message)


@dataclass
class _Identified:
    calpads: CalpadsShape | None = None
    csv: CsvShape | None = None


def _identify(ctx: _Ctx, row: FileRow, first: bytes) -> _Identified:
    """Name + folders + first line -> kind, period, partner (set on ``row``), or InputRejected."""
    name = row.original_name
    info: NameInfo = identify_name(row.source_path or name)
    if not first.strip():
        raise InputRejected("the file is empty", Location(name, None, None, None, "file_not_empty"))
    line = _decode(first)
    partner = info.partner_org
    if ctx.submitted_by:
        if partner and partner != ctx.submitted_by:
            raise InputRejected(
                f"the file's folder names partner {partner} but it was sent by {ctx.submitted_by}",
                Location(name, None, None, partner, "partner_mismatch"))
        partner = ctx.submitted_by
    head = line.split("^", 1)[0].strip().upper()
    looks_calpads = head.removesuffix("-R") in FILE_TYPES
    if info.source_system == "calpads" or (info.source_system is None and looks_calpads):
        shape = sniff_calpads(line, name)
        content_type = shape.layout.file_type
        if info.kind and info.kind != content_type:
            raise InputRejected(
                f"name/content mismatch: the file name says {info.kind}, the content is "
                f"{content_type} (record type {shape.record_type})",
                Location(name, 1, "record_type_code", shape.record_type, "name_content_type"))
        values = line.split("^")
        columns = shape.layout.column_names(shape.ods)
        content_year = values[columns.index("academic_year_id")].strip()
        content_lea = values[columns.index("reporting_lea")].strip()
        if info.period:
            if not year_is_consistent(info.period):
                raise InputRejected(f"the year {info.period} in the file name is not an "
                                    "academic year", Location(name, None, None, info.period,
                                                              "name_year"))
            if content_year and content_year != academic_year_id(info.period):
                raise InputRejected(
                    f"name/content mismatch: the file name says {info.period}, the content says "
                    f"{content_year}",
                    Location(name, 1, "academic_year_id", content_year, "name_content_year"))
            period = info.period
        else:
            try:
                period = short_year(content_year)
            except ValueError as exc:
                raise InputRejected("academic year of line 1 is not CCYY-CCYY", Location(
                    name, 1, "academic_year_id", content_year, "academic_year")) from exc
        row.source_system, row.kind, row.period = "calpads", content_type, period
        row.layout_version = f"{shape.layout.version}{'-ods' if shape.ods else '-upload'}"
        row.partner_org = partner or content_lea or None
        return _Identified(calpads=shape)
    if info.source_system in ("college", "ccgi") and info.kind:
        fmt = CSV_FORMATS[info.kind]
        shape_csv = sniff_csv(line, fmt, ctx.options.column_maps.get(fmt.kind, {}), name)
        row.source_system, row.kind, row.period = fmt.source_system, fmt.kind, info.period
        if partner is None and "college_code" in shape_csv.mapping:
            partner = _first_value(ctx, row, shape_csv.mapping.index("college_code"))
        row.partner_org = partner
        return _Identified(csv=shape_csv)
    raise InputRejected(
        "cannot identify the file: name it like 'SENR 2022-23.txt', '2022-23 SENR.txt', "
        "'college_students_<term>.csv' or 'ccgi_activity_<date>.csv'",
        Location(name, None, None, None, "file_identification"))


def _first_value(ctx: _Ctx, row: FileRow, index: int) -> str | None:
    """Field ``index`` of the first data line (line 2) of a CSV, for the partner code."""
    import csv
    import io

    chunks = _opener(ctx, row)()
    buffer = b""
    try:
        for chunk in chunks:
            buffer += chunk
            if buffer.count(b"\n") >= 2 or len(buffer) > 2 * FIRST_LINE_LIMIT:
                break
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    lines = _decode(buffer.removeprefix(BOM)).splitlines()
    if len(lines) < 2:
        return None
    values = next(csv.reader(io.StringIO(lines[1])), [])
    return values[index].strip() if index < len(values) and values[index].strip() else None


def _hold_reason(ctx: _Ctx, partner_org: str | None) -> str | None:
    if not partner_org:
        return "held: the sending partner could not be determined"
    partner = ctx.partners.get(partner_org)
    if partner is None:
        return f"held: partner {partner_org} is not in the partner registry"
    if not partner.agreement_active(ctx.today):
        window = ""
        if partner.agreement_start or partner.agreement_end:
            window = f" ({partner.agreement_start or '…'} to {partner.agreement_end or '…'})"
        return (f"held: partner {partner_org} ({partner.name}) has no active data-sharing "
                f"agreement on {ctx.today} (status {partner.agreement_status}{window}); "
                "the file is kept in the raw store and can be released once one is executed")
    return None


def _process(ctx: _Ctx, row: FileRow) -> Receipt:
    """Identify, hold or load one data file whose manifest row says ``received``."""
    try:
        found = _identify(ctx, row, _first_line(_opener(ctx, row)()))
    except InputRejected as exc:
        return _reject(ctx, row, [_rejection(row, exc)], 1)
    reason = _hold_reason(ctx, row.partner_org)
    if reason:
        ctx.event(f"{reason} [{row.original_name}]")
        return _finish(ctx, row, _receipt(row, ReceiptStatus.HELD, reason), "held")
    newer = manifest.files_where(
        ctx.con, "source_system = ? AND kind = ? AND partner_org = ? AND period = ? "
        "AND status = 'accepted' AND received_at > ?",
        [row.source_system, row.kind, row.partner_org, row.period, row.received_at])
    if newer:
        message = (f"not loaded: a newer file for {row.partner_org} {row.kind} {row.period} "
                   f"({newer[-1].original_name}) is already current")
        receipt = _receipt(row, ReceiptStatus.ACCEPTED, message)
        return _finish(ctx, row, receipt, "superseded")
    ctx.event(f"loading {row.original_name} ({row.size_bytes or 0} bytes)")
    attempts = [("utf-8", True), ("utf-8", False), ("cp1252", True), ("cp1252", False)]
    index = 0
    while index < len(attempts):
        encoding, fast = attempts[index]
        try:
            return _load(ctx, row, found, encoding, fast)
        except NotUtf8:
            index = 2  # read as Windows-1252 from now on
            continue
        except DiagnoseNeeded:
            index += 1  # same encoding, all-VARCHAR pass that names every bad value
            continue
        except InputRejected as exc:
            return _reject(ctx, row, [_rejection(row, exc)], 1)
        except OSError as exc:
            raise _service_fault(f"loading {row.original_name} failed", exc) from exc
        except duckdb.Error as exc:
            if not isinstance(exc, PARTNER_FAULTS):
                raise _service_fault(f"loading {row.original_name} failed", exc) from exc
            error = FileError(file=row.original_name, rule="unreadable",
                              message=f"the file could not be read: {type(exc).__name__}")
            return _reject(ctx, row, [error], 1)
    raise AssertionError("every load attempt ends in a receipt or an exception")


# DuckDB errors a partner's bytes can cause (a CSV it cannot parse, a value it cannot cast).
# Every other one (I/O: disk full, out of memory, an aborted transaction, ...) is the service's
# fault: the partner is not told their file is unreadable, the manifest row stays `received`
# and the next run loads the file (nothing of it was committed).
PARTNER_FAULTS = (duckdb.InvalidInputException, duckdb.ConversionException)


def _service_fault(doing: str, exc: BaseException) -> InternalError:
    reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else \
        type(exc).__name__
    return InternalError(f"{doing}: {reason} (disk full or an I/O fault of the service, not "
                         "of the file); nothing was committed: fix the cause and run again")


def _load(ctx: _Ctx, row: FileRow, found: _Identified, encoding: str, fast: bool) -> Receipt:
    """One transaction: bulk load + rules; commit with supersede + receipt, or roll back."""
    con = ctx.con
    with insertion_order_kept(con):  # line numbers follow from the order rows are appended in
        return _load_transaction(ctx, row, found, encoding, fast)


def _load_transaction(
    ctx: _Ctx, row: FileRow, found: _Identified, encoding: str, fast: bool
) -> Receipt:
    con = ctx.con
    with transaction(con) as tx:
        if row.origin == "raw" and encoding == "utf-8":
            result = _load_direct(ctx, row, found, fast)
        else:
            result = _load_piped(ctx, row, found, encoding, fast)
        row.encoding = encoding
        if result.error_count:
            tx.rollback()  # nothing of a rejected file stays; the rejection has its own
            return _reject(ctx, row, result.errors, result.error_count, result.warnings)
        if encoding == "cp1252":
            result.warnings.insert(0, "not valid UTF-8: read as Windows-1252")
        superseded = _supersede(ctx, row)
        message = f"accepted: {result.rows} rows"
        if superseded:
            message += f"; supersedes {len(superseded)} earlier file(s)"
        receipt = _receipt(row, ReceiptStatus.ACCEPTED, message, rows=result.rows,
                           warnings=result.warnings)
        manifest.update_file(
            con, row.file_id, status="accepted", source_system=row.source_system, kind=row.kind,
            partner_org=row.partner_org, period=row.period, layout_version=row.layout_version,
            encoding=encoding, loaded_at=ctx.now(),
        )
        manifest.write_receipt(con, receipt)
    ctx.event(f"accepted {row.original_name}: {result.rows} rows")
    return manifest.read_receipt(con, row.file_id) or receipt


def _load_direct(ctx: _Ctx, row: FileRow, found: _Identified, fast: bool) -> LoadResult:
    """DuckDB reads the stored file itself through ``c2craw://`` (in parallel, no FIFO).

    DuckDB checks the UTF-8 itself (``NotUtf8`` from the loader retries as Windows-1252) and
    drops a leading BOM. A failed decryption (wrong key, altered file) is raised as such, not
    as whatever DuckDB made of it.
    """
    sha = row.sha256 or row.file_id
    with rawfs.registered(ctx.con, ctx.raw_dir, ctx.key) as fs:
        try:
            return _run_loader(ctx, row, found, rawfs.stored_path(sha), fast)
        except (InputRejected, DiagnoseNeeded, NotUtf8, duckdb.Error) as exc:
            if fs.error is not None:
                raise fs.error from exc
            raise


def _load_piped(
    ctx: _Ctx, row: FileRow, found: _Identified, encoding: str, fast: bool
) -> LoadResult:
    """DuckDB reads a FIFO that a writer thread fills with decrypted (transcoded) bytes."""
    chunks = normalised(_opener(ctx, row)(), encoding)
    with fifo_feed(chunks) as feed:
        loader_error: Exception | None = None
        try:
            result = _run_loader(ctx, row, found, str(feed.fifo), fast)
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


def _run_loader(
    ctx: _Ctx, row: FileRow, found: _Identified, path: str, fast: bool
) -> LoadResult:
    if found.calpads is not None:
        return load_calpads(
            ctx.con, path, file_id=row.file_id, file_name=row.original_name,
            shape=found.calpads, year_id=academic_year_id(row.period) if row.period else None,
            partner_org=row.partner_org, fast=fast,
        )
    assert found.csv is not None
    return load_csv(ctx.con, path, file_id=row.file_id, file_name=row.original_name,
                    shape=found.csv, partner_org=row.partner_org)


def _staging_table(row: FileRow) -> str:
    if row.source_system == "calpads":
        return tables.calpads_staging(row.kind or "")
    return tables.csv_staging(row.kind or "")


def _supersede(ctx: _Ctx, row: FileRow) -> list[str]:
    """Older current files of the same partner, kind and period leave staging (not raw)."""
    older = manifest.files_where(
        ctx.con, "source_system = ? AND kind = ? AND partner_org = ? AND period = ? "
        "AND status = 'accepted' AND file_id <> ?",
        [row.source_system, row.kind, row.partner_org, row.period, row.file_id])
    ids = [o.file_id for o in older]
    if ids:
        marks = ", ".join("?" for _ in ids)
        ctx.con.execute(f"DELETE FROM {_staging_table(row)} WHERE file_id IN ({marks})", ids)
        ctx.con.execute(
            f"UPDATE {tables.FILES} SET status = 'superseded', superseded_by = ? "
            f"WHERE file_id IN ({marks})", [row.file_id, *ids])
    return ids


def _derived_id(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _handle_zip(ctx: _Ctx, container: FileRow) -> list[Receipt]:
    sha = container.sha256 or container.file_id
    try:
        members = archive.list_members(raw_path(ctx.raw_dir, sha), ctx.key,
                                       container.original_name, ctx.options.zip_limits)
    except InputRejected as exc:
        return [_reject(ctx, container, [_rejection(container, exc)], 1)]
    if not members:
        error = FileError(file=container.original_name, rule="file_not_empty",
                          message="the zip archive holds no files")
        return [_reject(ctx, container, [error], 1)]
    folder = str(PurePosixPath((container.source_path or "").replace("\\", "/")).parent)
    for member in members:
        member_id = _derived_id("zip", container.file_id, member.name)
        row = manifest.get_file(ctx.con, member_id)
        if row is None:
            row = FileRow(
                file_id=member_id, sha256=None, origin="zip_member", parent_id=container.file_id,
                member=member.name, part_ids=None,
                original_name=f"{container.original_name}/{member.name}",
                source_path=f"{folder}/{member.name}", size_bytes=member.size,
                received_at=container.received_at, submitted_by=container.submitted_by,
            )
            manifest.insert_file(ctx.con, row)
        if row.status == "received":
            _process(ctx, row)
    manifest.update_file(ctx.con, container.file_id, status="unpacked")
    container.status = "unpacked"
    # Read back in the stored order, so a re-send returns the very same list.
    return _receipts_of(ctx.con, container)


def _handle_part(ctx: _Ctx, part_row: FileRow) -> list[Receipt]:
    """Keep the part; when every part of its group is stored, load the reassembled file."""
    part = parse_part(part_row.original_name)
    assert part is not None
    info = identify_name(part_row.source_path or part_row.original_name)
    group = f"{ctx.submitted_by or info.partner_org or ''}|{part.logical_name}|{part.total}"
    if part_row.status == "received":
        manifest.update_file(ctx.con, part_row.file_id, part_group=group, part_no=part.number,
                             part_total=part.total)
    siblings = manifest.files_where(ctx.con, "part_group = ?", [group])
    by_number = {s.part_no: s for s in siblings if s.part_no is not None}
    if part_row.part_no is None:
        by_number[part.number] = part_row
    missing = [n for n in range(1, part.total + 1) if n not in by_number]
    if part.number > part.total or part.number < 1:
        error = FileError(file=part_row.original_name, rule="part_number",
                          value=str(part.number), message=f"part {part.number} of {part.total}")
        return [_reject(ctx, part_row, [error], 1)]
    if missing:
        message = (f"part {part.number} of {part.total} of {part.logical_name} stored; "
                   f"waiting for part(s) {', '.join(map(str, missing))}")
        if part_row.status == "received":
            receipt = _receipt(part_row, ReceiptStatus.HELD, message)
            return [_finish(ctx, part_row, receipt, "part")]
        return _receipts_of(ctx.con, part_row)
    part_ids = [by_number[n].file_id for n in range(1, part.total + 1)]
    logical_id = _derived_id("parts", *part_ids)
    logical = manifest.get_file(ctx.con, logical_id)
    if logical is None:
        folder = str(PurePosixPath((part_row.source_path or "").replace("\\", "/")).parent)
        logical = FileRow(
            file_id=logical_id, sha256=None, origin="parts", parent_id=None, member=None,
            part_ids=part_ids, original_name=part.logical_name,
            source_path=f"{folder}/{part.logical_name}",
            size_bytes=sum(int(by_number[n].size_bytes or 0) for n in range(1, part.total + 1)),
            received_at=max(s.received_at for s in by_number.values()),
            submitted_by=part_row.submitted_by,
        )
        manifest.insert_file(ctx.con, logical)
    if logical.status == "received":
        result = _process(ctx, logical)
    else:
        result = _receipts_of(ctx.con, logical)[0]
    for number in range(1, part.total + 1):
        sibling = by_number[number]
        note = (f"part {number} of {part.total}: reassembled into {part.logical_name} "
                f"({result.status})")
        _finish(ctx, sibling, _receipt(sibling, ReceiptStatus(result.status), note), "part")
    own = manifest.read_receipt(ctx.con, part_row.file_id)
    return [r for r in (own, result) if r is not None]
