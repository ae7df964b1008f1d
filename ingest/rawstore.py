"""The raw store: every received file, byte for byte, encrypted at rest and named by its SHA-256.

Format of one stored file (``<raw_dir>/<sha[:2]>/<sha>.c2craw``)::

    MAGIC (8 bytes) | chunk size (4 bytes, big endian) | nonce prefix (8 bytes)
    then one AES-256-GCM block per plaintext chunk: ciphertext + 16-byte tag

Chunk ``i`` uses nonce ``prefix || i`` (4 bytes) and authenticates the header, its index and
whether it is the last chunk, so chunks cannot be reordered, dropped or the file truncated
without the tag check failing. Fixed-size chunks make the file seekable without decrypting
what comes before, which lets :class:`EncryptedReader` hand a stored ``.zip`` to ``zipfile``
without a plaintext copy anywhere.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import secrets
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import IntegrityError_, NotFound

MAGIC = b"C2CRAW1\n"
CHUNK = 1024 * 1024
TAG = 16
_HEADER = struct.Struct(">4s8s")  # chunk size (as 4 raw bytes), nonce prefix
HEADER_LEN = len(MAGIC) + _HEADER.size


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    path: Path
    already_stored: bool


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">I?", index, last)


def plaintext_size(stored_size: int) -> int:
    """The plaintext size of a stored file of ``stored_size`` bytes (``CHUNK``-sized chunks)."""
    body = max(0, stored_size - HEADER_LEN)
    return body - max(1, -(-body // (CHUNK + TAG))) * TAG


def raw_path(raw_dir: Path, sha256: str) -> Path:
    return raw_dir / sha256[:2] / f"{sha256}.c2craw"


def store_file(source: Path, raw_dir: Path, key: bytes, *, durable: bool = True) -> StoredFile:
    """Encrypt ``source`` into the raw store in one streaming pass; returns its SHA-256.

    The encrypted copy is written to a temporary name, fsynced, then renamed, so a crash never
    leaves a truncated file under the final name. Storing the same bytes twice keeps the first.
    Hashing (this thread) and encrypting + writing (:class:`_ChunkWriter`) overlap: both
    release the GIL, so a large file is stored in about the time of the slower of the two.
    A file of one chunk is encrypted inline (a thread per small file costs more than it saves).

    ``durable=False`` skips the fsync: a batch stores all its files, then makes them durable
    at once with :func:`sync_store` before any manifest row names them (one flush instead of
    one per file; an fsync costs more than storing a small file).
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    header = MAGIC + _HEADER.pack(struct.pack(">I", CHUNK), secrets.token_bytes(8))
    digest = hashlib.sha256()
    tmp = raw_dir / f".incoming-{secrets.token_hex(8)}.tmp"
    size = 0
    try:
        with open(source, "rb") as src, open(tmp, "wb") as out:
            out.write(header)
            if os.fstat(src.fileno()).st_size < CHUNK:
                chunk = src.read()
                if len(chunk) >= CHUNK:  # grew since: stream it after all
                    src.seek(0)
                else:
                    _write_one_chunk(out, AESGCM(key), header, chunk)
                    digest.update(chunk)
                    size = len(chunk)
            if size == 0 and out.tell() == HEADER_LEN:
                with _ChunkWriter(out, AESGCM(key), header) as writer:
                    for index, chunk, last in _chunks(src):
                        writer.put(index, chunk, last)
                        digest.update(chunk)
                        size += len(chunk)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        sha = digest.hexdigest()
        final = raw_path(raw_dir, sha)
        if final.exists():
            tmp.unlink()
            return StoredFile(sha, size, final, already_stored=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return StoredFile(sha, size, final, already_stored=False)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_one_chunk(out: BinaryIO, aes: AESGCM, header: bytes, chunk: bytes) -> None:
    nonce = header[-8:] + struct.pack(">I", 0)
    out.write(aes.encrypt(nonce, chunk, _aad(header, 0, True)))


def sync_store(raw_dir: Path) -> None:
    """Make every file written to the raw store so far durable (one ``syncfs`` of its disk).

    Files and the renames that gave them their names: :func:`store_file` with ``durable=False``
    leaves both in the page cache. ``syncfs`` flushes the file system the store is on; where
    the C library has none, ``sync`` flushes all of them.
    """
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    syncfs = getattr(ctypes.CDLL(libc_name, use_errno=True), "syncfs", None) if libc_name \
        else None
    if syncfs is None:
        os.sync()
        return
    fd = os.open(raw_dir, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(raw_dir))
    finally:
        os.close(fd)


def _chunks(src: BinaryIO) -> Iterator[tuple[int, bytes, bool]]:
    """``(index, chunk, is_last)`` for every ``CHUNK`` of ``src``; an empty file is one chunk."""
    index = 0
    chunk = src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if len(chunk) == CHUNK else b""
        yield index, chunk, not following
        if not following:
            return
        chunk = following
        index += 1


class _ChunkWriter:
    """Encrypts chunks and appends them to ``out`` on a thread of its own, in order.

    The queue is short, so at most a few chunks wait in memory. A failure on the thread (disk
    full) is raised in the caller at its next ``put`` or on leaving the ``with`` block.
    """

    def __init__(self, out: BinaryIO, aes: AESGCM, header: bytes) -> None:
        self._out, self._aes, self._header = out, aes, header
        self._queue: queue.Queue[tuple[int, bytes, bool] | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ChunkWriter:
        self._thread.start()
        return self

    def put(self, index: int, chunk: bytes, last: bool) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((index, chunk, last))

    def _run(self) -> None:
        prefix = self._header[-8:]
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so the producer never blocks on a full queue
            index, chunk, last = item
            try:
                nonce = prefix + struct.pack(">I", index)
                self._out.write(self._aes.encrypt(nonce, chunk, _aad(self._header, index, last)))
            except BaseException as exc:  # noqa: BLE001 - raised in the caller
                self._error = exc

    def __exit__(self, *exc_info: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class EncryptedReader(io.RawIOBase):
    """A read-only, seekable file object over a stored file: plaintext only ever in memory."""

    def __init__(self, path: Path, key: bytes) -> None:
        super().__init__()
        if not path.exists():
            raise NotFound(f"raw file {path.name} is not in the raw store")
        self._handle = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._aes = AESGCM(key)
        self._header = self._handle.read(HEADER_LEN)
        if len(self._header) != HEADER_LEN or not self._header.startswith(MAGIC):
            self._handle.close()
            raise IntegrityError_(f"raw file {path.name} is not a raw-store file")
        chunk_raw, self._prefix = _HEADER.unpack(self._header[len(MAGIC):])
        self._chunk = struct.unpack(">I", chunk_raw)[0]
        total = os.fstat(self._handle.fileno()).st_size - HEADER_LEN
        block = self._chunk + TAG
        self._chunks = max(1, -(-total // block))
        self.size = total - self._chunks * TAG
        self._name = path.name
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _chunk_plain(self, index: int) -> bytes:
        if self._cached and self._cached[0] == index:
            return self._cached[1]
        block = self._chunk + TAG
        self._handle.seek(HEADER_LEN + index * block)
        data = self._handle.read(block)
        last = index == self._chunks - 1
        nonce = self._prefix + struct.pack(">I", index)
        try:
            plain = self._aes.decrypt(nonce, data, _aad(self._header, index, last))
        except InvalidTag as exc:
            raise IntegrityError_(
                f"raw file {self._name} failed its integrity check at chunk {index}: "
                "wrong raw-store key or the file was altered"
            ) from exc
        self._cached = (index, plain)
        return plain

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.size:
            return 0
        index, offset = divmod(self._pos, self._chunk)
        plain = self._chunk_plain(index)
        piece = plain[offset: offset + len(buffer)]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes from the current position (the rest when ``size`` is negative).

        Decrypts every chunk the span touches and joins them once: DuckDB reads stored files
        in blocks of many MiB through this (``ingest.rawfs``), and piecewise ``readinto``
        calls copied each byte several times.
        """
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        pieces: list[bytes] = []
        while self._pos < end:
            index, offset = divmod(self._pos, self._chunk)
            plain = self._chunk_plain(index)
            piece = plain[offset: offset + end - self._pos]  # the whole chunk: no copy
            pieces.append(piece)
            self._pos += len(piece)
        return b"".join(pieces)

    def iter_chunks(self) -> Iterator[bytes]:
        """Every plaintext chunk in order, from the current position (fast sequential read)."""
        while self._pos < self.size:
            index, offset = divmod(self._pos, self._chunk)
            piece = self._chunk_plain(index)[offset:]
            self._cached = None
            self._pos += len(piece)
            yield piece

    def close(self) -> None:
        self._handle.close()
        super().close()


def iter_plaintext(raw_dir: Path, sha256: str, key: bytes) -> Iterator[bytes]:
    """Decrypt a stored file chunk by chunk (bounded memory)."""
    reader = EncryptedReader(raw_path(raw_dir, sha256), key)
    try:
        yield from reader.iter_chunks()
    finally:
        reader.close()


def read_all(raw_dir: Path, sha256: str, key: bytes) -> bytes:
    """The whole plaintext (tests and small files only)."""
    return b"".join(iter_plaintext(raw_dir, sha256, key))
