"""Feed decrypted bytes to DuckDB through a named pipe, so no plaintext copy ever lands on disk.

DuckDB's ``read_csv`` needs a path. Decrypting to a temporary file would put names and SSIDs
at rest (DESIGN.md forbids that under C2C_HOME, temp files included), and /dev/shm would hold
the whole file in RAM. A FIFO (``os.mkfifo``) carries bytes from a writer thread straight into
DuckDB's reader through a kernel pipe buffer: nothing is stored, memory stays bounded, files
larger than memory stream. The FIFO node lives in a private 0700 directory under the system
temp dir and is removed afterwards; it never holds data, even if the process is killed.

The writer also normalises the encoding: UTF-8 (a BOM is dropped) passes through unchanged and
is validated on the way; if it is not valid UTF-8 the caller retries with Windows-1252, which
the writer transcodes to UTF-8 chunk by chunk.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.errors import InputRejected

BOM = codecs.BOM_UTF8
_F_SETPIPE_SZ = 1031  # Linux fcntl: grow the pipe buffer to cut context switches


class NotUtf8(Exception):
    """The bytes are not valid UTF-8: retry as Windows-1252."""


def normalised(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """UTF-8 bytes out of ``chunks`` read as ``encoding`` (``utf-8`` or ``cp1252``)."""
    first = True
    if encoding == "utf-8":
        decoder = codecs.getincrementaldecoder("utf-8")()
        for chunk in chunks:
            if first:
                first = False
                if chunk.startswith(BOM):
                    chunk = chunk[len(BOM):]
            # ASCII needs no check; only chunks with high bytes (or a pending sequence) are decoded.
            if not chunk.isascii() or decoder.getstate()[0]:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    raise NotUtf8(str(exc)) from exc
            yield chunk
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise NotUtf8(str(exc)) from exc
        return
    cp_decoder = codecs.getincrementaldecoder(encoding)()
    for chunk in chunks:
        try:
            yield cp_decoder.decode(chunk).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputRejected(
                f"the file is neither UTF-8 nor Windows-1252 ({exc.reason} at byte {exc.start})"
            ) from exc


class PipeFeed:
    """Writes an iterator of bytes into a FIFO from a thread; ``error`` holds what went wrong."""

    def __init__(self, fifo: Path, chunks: Iterable[bytes]) -> None:
        self.fifo = fifo
        self.chunks = chunks
        self.error: BaseException | None = None
        self.finished = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            fd = os.open(self.fifo, os.O_WRONLY)
            try:
                with contextlib.suppress(OSError):
                    import fcntl

                    fcntl.fcntl(fd, _F_SETPIPE_SZ, 1024 * 1024)
                for chunk in self.chunks:
                    view = memoryview(chunk)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                self.finished = True
            finally:
                os.close(fd)
        except BrokenPipeError as exc:  # the reader stopped early (it failed on its own)
            self.error = exc
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc

    def stop(self) -> None:
        """Unblock a writer whose reader never opened or stopped reading, then wait for it."""
        if self.thread.is_alive():
            with contextlib.suppress(OSError):
                fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
                os.close(fd)
        self.thread.join(timeout=30)


@contextlib.contextmanager
def fifo_feed(chunks: Iterable[bytes], suffix: str = ".txt") -> Iterator[PipeFeed]:
    """A FIFO path fed with ``chunks``; on exit the writer is stopped and the node removed."""
    folder = Path(tempfile.mkdtemp(prefix="c2c-ingest-"))
    os.chmod(folder, 0o700)
    fifo = folder / f"feed{suffix}"
    os.mkfifo(fifo, 0o600)
    feed = PipeFeed(fifo, chunks)
    feed.thread.start()
    try:
        yield feed
    finally:
        feed.stop()
        shutil.rmtree(folder, ignore_errors=True)
