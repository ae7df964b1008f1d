"""Plaintext of a manifest row, wherever its bytes live in the raw store; its first lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from core.errors import InputRejected
from ingest import archive, manifest
from ingest.manifest import FileRow
from ingest.rawstore import iter_plaintext, raw_path
from ingest.stream import BOM

FIRST_LINE_LIMIT = 1024 * 1024


def opener(con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes,
           row: FileRow) -> Callable[[], Iterator[bytes]]:
    """Plaintext chunks of a stored file, a zip member or reassembled parts, on each call."""
    if row.origin == "raw":
        sha = row.sha256 or row.file_id
        return lambda: iter_plaintext(raw_dir, sha, key)
    if row.origin == "zip_member":
        parent = manifest.get_file(con, row.parent_id or "")
        if parent is None or row.member is None:
            raise InputRejected(f"zip container of {row.original_name} is not in the manifest")
        container = raw_path(raw_dir, parent.sha256 or parent.file_id)
        member = archive.Member(row.member, int(row.size_bytes or 0))
        return lambda: archive.iter_member(container, key, parent.original_name, member)
    parts = list(row.part_ids or [])

    def chain() -> Iterator[bytes]:
        for part_id in parts:
            yield from iter_plaintext(raw_dir, part_id, key)

    return chain


def first_line(chunks: Iterator[bytes]) -> bytes:
    """Line 1 without BOM and line end (at most ``FIRST_LINE_LIMIT`` bytes are read)."""
    buffer = _head(chunks, lambda b: b"\n" in b or len(b) >= FIRST_LINE_LIMIT)
    if buffer.startswith(BOM):
        buffer = buffer[len(BOM):]
    return buffer.split(b"\n", 1)[0].rstrip(b"\r")


def first_value(chunks: Iterator[bytes], index: int) -> str | None:
    """Field ``index`` of the first data line (line 2) of a CSV, for the partner code."""
    buffer = _head(chunks, lambda b: b.count(b"\n") >= 2 or len(b) > 2 * FIRST_LINE_LIMIT)
    lines = decode(buffer.removeprefix(BOM)).splitlines()
    if len(lines) < 2:
        return None
    values = next(csv.reader(io.StringIO(lines[1])), [])
    return values[index].strip() if index < len(values) and values[index].strip() else None


def decode(line: bytes) -> str:
    """UTF-8, else Windows-1252 (the receipt of such a file warns when it is loaded)."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors="replace")


def _head(chunks: Iterator[bytes], enough: Callable[[bytes], bool]) -> bytes:
    """Chunks until ``enough``; the rest is never decrypted (the iterator is closed)."""
    buffer = b""
    try:
        for chunk in chunks:
            buffer += chunk
            if enough(buffer):
                break
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return buffer
