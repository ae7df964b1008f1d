"""Encrypted extract package: a small file container inside a streamed AES-256-GCM envelope.

Layout on disk (docs/deidentify.md, "Extract package format")::

    MAGIC (12 bytes) | header length (u32, big-endian) | header (UTF-8 JSON) | chunk 0 | ...

The header is public (request id, created and expiry time, KDF salt, nonce prefix, chunk size)
and is authenticated as associated data of every chunk. Each chunk is ``chunk_size`` bytes of
plaintext (the last one 0..chunk_size) sealed with AES-256-GCM under a per-package key
``HKDF-SHA256(data key, salt, "c2c-extract v1 chunk key")``; the 12-byte nonce is
``nonce prefix (7) | chunk counter (u32) | last-chunk flag (1)``. This is the STREAM
construction (as in Tink's streaming AEAD and age): reordering, dropping, truncating or
appending chunks, or editing any header byte, makes authentication fail. Neither side holds
more than one chunk in memory.

The plaintext is a sequence of records: ``F`` u16 name length, name (start of a file);
``D`` u32 length, bytes (file data); ``E`` (end of file); ``Z`` (end of package).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import IntegrityError_, KeyError_
from core.keys import extract_key_name

MAGIC = b"C2C-EXTRACT\n"
FORMAT = "c2c-extract"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 20
TAG_BYTES = 16
KEY_BYTES = 32
_MAX_HEADER_BYTES = 64 * 1024
_MAX_CHUNK_SIZE = 64 << 20
_NONCE_PREFIX_BYTES = 7
_SALT_BYTES = 32
_KDF_INFO = b"c2c-extract v1 chunk key"
_DATA_BLOCK = 256 * 1024  # plaintext bytes per ``D`` record
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _damaged(what: str) -> IntegrityError_:
    return IntegrityError_(f"extract package {what}: it was altered, truncated or damaged")


def utc(moment: datetime) -> datetime:
    """Timezone-aware UTC (naive datetimes are taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class PackageHeader:
    """The public, authenticated part of a package."""

    request_id: str
    created_at: datetime
    expires_at: datetime
    chunk_size: int
    salt: bytes
    nonce_prefix: bytes

    @property
    def key_name(self) -> str:
        """The keyring entry holding this package's data key."""
        return extract_key_name(self.request_id)

    @classmethod
    def new(
        cls, request_id: str, created_at: datetime, expires_at: datetime,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> PackageHeader:
        if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be 1..{_MAX_CHUNK_SIZE}")
        return cls(
            request_id=request_id,
            created_at=utc(created_at),
            expires_at=utc(expires_at),
            chunk_size=chunk_size,
            salt=secrets.token_bytes(_SALT_BYTES),
            nonce_prefix=secrets.token_bytes(_NONCE_PREFIX_BYTES),
        )

    def encode(self) -> bytes:
        body = json.dumps(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "request_id": self.request_id,
                "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "cipher": "AES-256-GCM",
                "kdf": "HKDF-SHA256",
                "chunk_size": self.chunk_size,
                "salt": base64.b64encode(self.salt).decode("ascii"),
                "nonce_prefix": base64.b64encode(self.nonce_prefix).decode("ascii"),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        return MAGIC + struct.pack(">I", len(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> PackageHeader:
        try:
            data = json.loads(body.decode("utf-8"))
            if data["format"] != FORMAT or data["version"] != FORMAT_VERSION:
                raise ValueError("unknown format")
            if data["cipher"] != "AES-256-GCM" or data["kdf"] != "HKDF-SHA256":
                raise ValueError("unknown cipher")
            header = cls(
                request_id=str(data["request_id"]),
                created_at=utc(datetime.fromisoformat(data["created_at"])),
                expires_at=utc(datetime.fromisoformat(data["expires_at"])),
                chunk_size=int(data["chunk_size"]),
                salt=base64.b64decode(data["salt"], validate=True),
                nonce_prefix=base64.b64decode(data["nonce_prefix"], validate=True),
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise _damaged("header is not readable") from None
        if (
            not 1 <= header.chunk_size <= _MAX_CHUNK_SIZE
            or len(header.salt) != _SALT_BYTES
            or len(header.nonce_prefix) != _NONCE_PREFIX_BYTES
        ):
            raise _damaged("header has impossible values")
        return header


def read_header(source: BinaryIO) -> tuple[PackageHeader, bytes]:
    """Parse the header; returns it and its exact bytes (the associated data of every chunk)."""
    magic = source.read(len(MAGIC))
    if magic != MAGIC:
        raise _damaged("does not start with the c2c extract signature")
    raw_length = source.read(4)
    if len(raw_length) != 4:
        raise _damaged("header is cut short")
    (length,) = struct.unpack(">I", raw_length)
    if length > _MAX_HEADER_BYTES:
        raise _damaged("header length is impossible")
    body = source.read(length)
    if len(body) != length:
        raise _damaged("header is cut short")
    return PackageHeader.decode(body), magic + raw_length + body


def _chunk_key(data_key: bytes, salt: bytes) -> AESGCM:
    if len(data_key) != KEY_BYTES:
        raise KeyError_(f"an extract data key is {KEY_BYTES} bytes; the key given is not")
    key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_KDF_INFO).derive(
        data_key
    )
    return AESGCM(key)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 1 << 32:
        raise IntegrityError_("extract package has too many chunks")
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _StreamEncryptor:
    """Buffers plaintext and writes sealed chunks; the final chunk is written by ``finish``."""

    def __init__(self, sink: _Writable, data_key: bytes, header: PackageHeader) -> None:
        self._sink = sink
        self._header_bytes = header.encode()
        self._aead = _chunk_key(data_key, header.salt)
        self._prefix = header.nonce_prefix
        self._size = header.chunk_size
        self._buffer = bytearray()
        self._counter = 0
        sink.write(self._header_bytes)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data
        # Strictly more than one chunk buffered: the final chunk is never emitted here.
        # Seal from a view and trim once, so a large write costs no repeated memmove.
        offset = 0
        with memoryview(self._buffer) as view:
            while len(view) - offset > self._size:
                self._seal(view[offset : offset + self._size], last=False)
                offset += self._size
        if offset:
            del self._buffer[:offset]

    def finish(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _seal(self, chunk: bytes | memoryview, last: bool) -> None:
        nonce = _nonce(self._prefix, self._counter, last)
        self._sink.write(self._aead.encrypt(nonce, chunk, self._header_bytes))
        self._counter += 1


class _StreamDecryptor:
    """Reads sealed chunks and hands out authenticated plaintext with exact-size reads."""

    def __init__(
        self, source: BinaryIO, data_key: bytes, header: PackageHeader, header_bytes: bytes
    ) -> None:
        self._source = source
        self._aad = header_bytes
        self._aead = _chunk_key(data_key, header.salt)
        self._prefix = header.nonce_prefix
        self._sealed_size = header.chunk_size + TAG_BYTES
        self._counter = 0
        self._lookahead = b""
        self._plain = bytearray()
        self._offset = 0
        self.finished = False
        self._open_next_chunk()  # authenticates the header before anything is trusted

    def _read_source(self, size: int) -> bytes:
        data = self._lookahead + self._source.read(size - len(self._lookahead))
        self._lookahead = b""
        return data

    def _open_next_chunk(self) -> None:
        if self.finished:
            raise _damaged("ends after its final chunk was read")
        sealed = self._read_source(self._sealed_size)
        self._lookahead = self._source.read(1)
        last = not self._lookahead
        if len(sealed) < TAG_BYTES or (not last and len(sealed) != self._sealed_size):
            raise _damaged("is cut short")
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._counter, last), sealed, self._aad)
        except InvalidTag:
            raise IntegrityError_(
                f"extract package failed authentication at chunk {self._counter}: it was "
                "altered or truncated, or the key is not this package's key"
            ) from None
        self._counter += 1
        self.finished = last
        del self._plain[: self._offset]
        self._offset = 0
        self._plain += plain

    def read_exact(self, size: int) -> bytes:
        while len(self._plain) - self._offset < size:
            self._open_next_chunk()
        data = bytes(self._plain[self._offset : self._offset + size])
        self._offset += size
        return data

    def at_end(self) -> bool:
        """True when the final chunk is authenticated and all its plaintext consumed."""
        return self.finished and self._offset == len(self._plain)


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    bytes: int


class EntrySink:
    """A write-only file object (for pyarrow writers) that streams into the package."""

    def __init__(self, encryptor: _StreamEncryptor, name: str) -> None:
        self._encryptor = encryptor
        self._hash = hashlib.sha256()
        self._size = 0
        self._pending = bytearray()
        self.closed = False
        encoded = name.encode("utf-8")
        encryptor.write(b"F" + struct.pack(">H", len(encoded)) + encoded)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._size += len(view)
        self._pending += view
        if len(self._pending) >= _DATA_BLOCK:
            self._emit()
        return len(view)

    def _emit(self) -> None:
        """Write the pending bytes as ``D`` records of at most ``_DATA_BLOCK`` bytes each."""
        with memoryview(self._pending) as view:
            for start in range(0, len(view), _DATA_BLOCK):
                block = view[start : start + _DATA_BLOCK]
                self._encryptor.write(b"D" + struct.pack(">I", len(block)))
                self._encryptor.write(block)
        self._pending = bytearray()

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        """Nothing to do: data is sealed in chunks as it fills them."""

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        # pyarrow may close its sink; the entry itself ends in ``PackageWriter.file``.
        self.closed = True

    def finish(self) -> FileDigest:
        self._emit()
        self._encryptor.write(b"E")
        return FileDigest(self._hash.hexdigest(), self._size)


class _HashingSink:
    """Passes writes on to a file while hashing them (the package's own SHA-256, one pass)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self._handle.write(data)


class PackageWriter:
    """Writes one package to ``path`` atomically (a ``.partial`` file renamed at the end)."""

    def __init__(self, handle: BinaryIO, data_key: bytes, header: PackageHeader) -> None:
        self._sink = _HashingSink(handle)
        self._encryptor = _StreamEncryptor(self._sink, data_key, header)
        self.digests: dict[str, FileDigest] = {}
        self.package: FileDigest | None = None  # the whole file, set once it is complete

    @contextlib.contextmanager
    def file(self, name: str) -> Iterator[EntrySink]:
        if not _FILE_NAME.match(name) or name in self.digests:
            raise ValueError(f"bad or repeated package file name {name!r}")
        sink = EntrySink(self._encryptor, name)
        yield sink
        self.digests[name] = sink.finish()

    def add_bytes(self, name: str, data: bytes) -> FileDigest:
        with self.file(name) as sink:
            sink.write(data)
        return self.digests[name]

    def _finish(self) -> None:
        self._encryptor.write(b"Z")
        self._encryptor.finish()
        self.package = FileDigest(self._sink.hash.hexdigest(), self._sink.size)


@contextlib.contextmanager
def write_package(path: Path, data_key: bytes, header: PackageHeader) -> Iterator[PackageWriter]:
    """Create ``path``; on any error the partial file is removed and nothing is left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        with open(partial, "xb") as handle:
            writer = PackageWriter(handle, data_key, header)
            yield writer
            writer._finish()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


class FileReceiver:
    """Where decrypted files go: ``begin`` returns a writer, ``commit``/``discard`` end it all."""

    def begin(self, name: str) -> BinaryIO:  # pragma: no cover - interface
        raise NotImplementedError

    def commit(self) -> None:
        """Called once the whole package is authenticated and every digest checked."""

    def discard(self) -> None:
        """Called when anything failed: nothing unauthenticated may be left behind."""


def read_package(
    source: BinaryIO,
    header: PackageHeader,
    header_bytes: bytes,
    data_key: bytes,
    receiver: FileReceiver,
    *,
    before_data: Callable[[], None],
) -> dict[str, FileDigest]:
    """Decrypt the chunks after the header into ``receiver``; returns each file's digest.

    ``before_data`` runs once the first chunk, hence the header, is authenticated, and before
    any plaintext is handed out: the place for the expiry check.
    """
    decryptor = _StreamDecryptor(source, data_key, header, header_bytes)
    before_data()
    digests: dict[str, FileDigest] = {}
    try:
        while True:
            kind = decryptor.read_exact(1)
            if kind == b"Z":
                break
            if kind != b"F":
                raise _damaged("has an unknown record")
            (name_length,) = struct.unpack(">H", decryptor.read_exact(2))
            name = decryptor.read_exact(name_length).decode("utf-8", errors="replace")
            if not _FILE_NAME.match(name) or name in digests:
                raise _damaged("names a file it may not")
            target = receiver.begin(name)
            digest = hashlib.sha256()
            size = 0
            while (record := decryptor.read_exact(1)) == b"D":
                (length,) = struct.unpack(">I", decryptor.read_exact(4))
                data = decryptor.read_exact(length)
                digest.update(data)
                size += length
                target.write(data)
            if record != b"E":
                raise _damaged("has an unknown record")
            target.close()
            digests[name] = FileDigest(digest.hexdigest(), size)
        if not decryptor.at_end():
            raise _damaged("has data after its end")
    except BaseException:
        receiver.discard()
        raise
    return digests
