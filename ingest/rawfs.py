"""DuckDB reads stored files straight from the encrypted raw store: plaintext only in memory.

A FIFO (``ingest.stream``) makes DuckDB parse a file with one thread, because a pipe can only
be read front to back. DuckDB can instead read through an fsspec filesystem registered on the
connection: :class:`RawStoreFileSystem` serves ``c2craw://<sha256>.txt`` by decrypting the
stored file (``EncryptedReader``: fixed 1 MiB AES-GCM chunks, seekable) on each read. The file
size is known without decrypting, so DuckDB's CSV reader splits the file across its threads
like a plain file; nothing is written anywhere, not even to /dev/shm.

A path may also name a byte range of a stored file, ``c2craw://<sha256>/<start>-<end>.txt``:
:func:`line_ranges` cuts a file at line ends so several scans can each number their own rows
(``row_number() OVER ()`` makes a scan single-threaded; see ``ingest.load``).

The key never leaves this process's memory. Instances are never cached or shared (fsspec
caches filesystem instances by their arguments otherwise), and :func:`registered` removes the
filesystem from the connection afterwards.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from fsspec.spec import AbstractFileSystem

from ingest.rawstore import EncryptedReader, raw_path

PROTOCOL = "c2craw"
READ_BUFFER = 1024 * 1024  # one raw-store chunk: each read decrypts whole chunks once
_PATH = re.compile(r"^(?P<sha>[0-9a-f]{64})(?:/(?P<start>\d+)-(?P<end>\d+))?\.txt$")


@dataclass(frozen=True)
class LineRange:
    """Bytes ``start`` to ``end`` of a stored file, cut at line ends.

    ``lines_before``: how many lines of the file come before ``start`` (newline count), so
    line ``n`` of the range is line ``lines_before + n`` of the file.
    """

    start: int
    end: int
    lines_before: int


def whole_path(sha256: str) -> str:
    return f"{PROTOCOL}://{sha256}.txt"


def range_path(sha256: str, part: LineRange) -> str:
    return f"{PROTOCOL}://{sha256}/{part.start}-{part.end}.txt"


class _RangeReader(io.RawIOBase):
    """Bytes ``start`` to ``end`` of an :class:`EncryptedReader`; failures are also recorded.

    DuckDB turns a Python exception raised inside a read into its own error text, so the
    filesystem keeps the original (an integrity failure) for the caller to raise instead.
    """

    def __init__(self, reader: EncryptedReader, start: int, end: int,
                 fs: RawStoreFileSystem) -> None:
        super().__init__()
        self._reader, self._start, self._end, self._fs = reader, start, end, fs
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end - self._start}
        self._pos = max(0, base[whence] + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        left = self._end - self._start - self._pos
        if left <= 0:
            return 0
        try:
            self._reader.seek(self._start + self._pos)
            count = self._reader.readinto(memoryview(buffer)[:left])
        except BaseException as exc:
            self._fs.record(exc)
            raise
        self._pos += count
        return count

    def close(self) -> None:
        self._reader.close()
        super().close()


class RawStoreFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """Read-only ``c2craw://`` paths over one raw store and its key (see the module doc)."""

    protocol = PROTOCOL
    cachable = False  # never hand this instance (and its key) to another caller

    def __init__(self, raw_dir: Path, key: bytes) -> None:
        super().__init__()
        self._raw_dir = raw_dir
        self._key = key
        self.error: BaseException | None = None

    def record(self, exc: BaseException) -> None:
        """Keep the first failure of any read (DuckDB may read from several threads)."""
        if self.error is None:
            self.error = exc

    def _parse(self, path: str) -> tuple[str, int | None, int | None]:
        name = str(self._strip_protocol(path)).lstrip("/")
        match = _PATH.match(name)
        if match is None:
            raise FileNotFoundError(path)
        start, end = match["start"], match["end"]
        return match["sha"], (int(start) if start else None), (int(end) if end else None)

    def _reader(self, sha256: str) -> EncryptedReader:
        try:
            return EncryptedReader(raw_path(self._raw_dir, sha256), self._key)
        except BaseException as exc:
            self.record(exc)
            raise

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> io.BufferedReader:
        if mode != "rb":
            raise PermissionError(f"{PROTOCOL}:// is read-only")
        sha, start, end = self._parse(path)
        reader = self._reader(sha)
        raw = _RangeReader(reader, start or 0, reader.size if end is None else end, self)
        return io.BufferedReader(raw, buffer_size=READ_BUFFER)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        sha, start, end = self._parse(path)
        if start is None or end is None:
            reader = self._reader(sha)
            size = reader.size
            reader.close()
        else:
            size = end - start
        return {"name": path, "size": size, "type": "file"}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        entry = self.info(path)
        return [entry] if detail else [entry["name"]]


@contextlib.contextmanager
def registered(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes
) -> Iterator[RawStoreFileSystem]:
    """``c2craw://`` readable on ``con`` for the duration of the block, then unregistered."""
    if PROTOCOL in con.list_filesystems():  # left by an interrupted earlier block
        con.unregister_filesystem(PROTOCOL)
    fs = RawStoreFileSystem(raw_dir, key)
    con.register_filesystem(fs)
    try:
        yield fs
    finally:
        con.unregister_filesystem(PROTOCOL)


def line_ranges(raw_dir: Path, sha256: str, key: bytes, parts: int) -> list[LineRange]:
    """Cut a stored file into ``parts`` ranges of similar size, each ending after a newline.

    Counting the newlines before each cut decrypts the file up to the last cut once (about
    a second per GiB); a file with fewer lines than ``parts`` gives fewer ranges.
    """
    reader = EncryptedReader(raw_path(raw_dir, sha256), key)
    try:
        cuts = [0]
        for index in range(1, parts):
            cut = _next_line_start(reader, max(cuts[-1], reader.size * index // parts))
            if cut >= reader.size:
                break
            if cut > cuts[-1]:
                cuts.append(cut)
        cuts.append(reader.size)
        ranges: list[LineRange] = []
        lines = 0
        for start, end in zip(cuts, cuts[1:], strict=False):
            ranges.append(LineRange(start, end, lines))
            lines += _count_newlines(reader, start, end) if end < reader.size else 0
        return ranges
    finally:
        reader.close()


def _next_line_start(reader: EncryptedReader, position: int) -> int:
    """The offset just after the first newline at or after ``position`` (or the file size)."""
    reader.seek(position)
    for chunk in reader.iter_chunks():
        found = chunk.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(chunk)
    return reader.size


def _count_newlines(reader: EncryptedReader, start: int, end: int) -> int:
    reader.seek(start)
    count = 0
    left = end - start
    for chunk in reader.iter_chunks():
        count += chunk.count(b"\n", 0, left)
        left -= len(chunk)
        if left <= 0:
            break
    return count
