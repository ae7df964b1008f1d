"""DuckDB reads stored files straight from the encrypted raw store: plaintext only in memory.

A FIFO (``ingest.stream``) makes DuckDB parse a file with one thread, because a pipe can only
be read front to back. DuckDB can instead read through an fsspec filesystem registered on the
connection: :class:`RawStoreFileSystem` serves ``c2craw://<sha256>.txt`` by decrypting the
stored file (``EncryptedReader``: fixed 1 MiB AES-GCM chunks, seekable) on each read. The file
size is known without decrypting, so DuckDB's CSV reader splits the file across its threads
like a plain file; nothing is written anywhere, not even to /dev/shm.

The key never leaves this process's memory. Instances are never cached or shared (fsspec
caches filesystem instances by their arguments otherwise), and :func:`registered` removes the
filesystem from the connection afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
from fsspec.spec import AbstractFileSystem

from core.errors import IntegrityError_
from ingest.rawstore import EncryptedReader, plaintext_size, raw_path

PROTOCOL = "c2craw"
# <sha256>.txt, or a batch load's path that carries what the rules pin before it
# (``ingest.batchload.batch_path``): only the last part names the stored file.
_PATH = re.compile(r"^(?:[^/]+/)*(?P<sha>[0-9a-f]{64})\.txt$")


def stored_path(sha256: str) -> str:
    """The ``c2craw://`` path of a stored file (``read_csv`` reads it like a plain file)."""
    return f"{PROTOCOL}://{sha256}.txt"


class _RecordingReader(EncryptedReader):
    """An :class:`EncryptedReader` whose read failures are also kept by the filesystem.

    DuckDB turns a Python exception raised inside a read into its own error text, so the
    filesystem keeps the original (an integrity failure) for the caller to raise instead.
    """

    def __init__(self, path: Path, key: bytes, fs: RawStoreFileSystem) -> None:
        super().__init__(path, key)
        self._fs = fs

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            return super().readinto(buffer)
        except BaseException as exc:
            self._fs.record(exc)
            raise

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except BaseException as exc:
            self._fs.record(exc)
            raise


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

    def _reader(self, path: str) -> _RecordingReader:
        match = _PATH.match(str(self._strip_protocol(path)).lstrip("/"))
        if match is None:
            raise FileNotFoundError(path)
        try:
            return _RecordingReader(raw_path(self._raw_dir, match["sha"]), self._key, self)
        except BaseException as exc:
            self.record(exc)
            raise

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> EncryptedReader:
        # Unbuffered: DuckDB reads large blocks, and EncryptedReader.read joins whole chunks.
        if mode != "rb":
            raise PermissionError(f"{PROTOCOL}:// is read-only")
        reader = self._reader(path)
        if reader.size != self._size(path):  # a chunk size other than this store writes
            reader.close()
            error = IntegrityError_(f"raw file {path} has an unexpected chunk size")
            self.record(error)
            raise error
        return reader

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        # From the stored size alone (no open: a batch asks for thousands of files); _open
        # checks it against the file's own header.
        return {"name": path, "size": self._size(path), "type": "file"}

    def _size(self, path: str) -> int:
        match = _PATH.match(str(self._strip_protocol(path)).lstrip("/"))
        if match is None:
            raise FileNotFoundError(path)
        try:
            return plaintext_size(raw_path(self._raw_dir, match["sha"]).stat().st_size)
        except BaseException as exc:
            self.record(exc)
            raise

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        entry = self.info(path)
        return [entry] if detail else [entry["name"]]

    # DuckDB globs and checks every path of a multi-file read_csv; the paths name stored
    # files, never patterns, so neither needs fsspec's walk (a batch reads thousands).
    def glob(self, path: str, **kwargs: Any) -> list[str]:
        return [path]  # opening a missing file fails with its name

    def exists(self, path: str, **kwargs: Any) -> bool:
        match = _PATH.match(str(self._strip_protocol(path)).lstrip("/"))
        return match is not None and os.path.exists(raw_path(self._raw_dir, match["sha"]))


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


@contextlib.contextmanager
def pandas_probes_answered() -> Iterator[None]:
    """While the block runs, ``import pandas`` fails at once when pandas is not installed.

    DuckDB's Python client tries ``import pandas`` for every value it converts (parameters,
    the answers of a registered filesystem): a batch load of thousands of stored files makes
    tens of thousands of tries, each a search of ``sys.path`` (a third of a batch's time).
    ``sys.modules["pandas"] = None`` answers them without a search and keeps the meaning: the
    import raises ``ModuleNotFoundError``, ``importlib.util.find_spec`` returns None. pyarrow
    asks once and remembers (asked here first, so it remembers the truth). Only when pandas
    is absent, and only for the block: afterwards ``sys.modules`` is as it was.
    """
    if "pandas" in sys.modules or importlib.util.find_spec("pandas") is not None:
        yield
        return
    import pyarrow

    pyarrow.lib._pandas_api.have_pandas  # noqa: B018 - pyarrow caches the answer now
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]
