"""Encrypted extract package: a tar archive encrypted with age (https://age-encryption.org/v1).

A researcher opens it with the standard ``age`` tool (Debian/Ubuntu ``apt install age``,
macOS ``brew install age``, Windows binaries from the age project) and ``tar``::

    age -d -i REQUEST-key.txt REQUEST.tar.age | tar -x

The archive holds ``package.json`` first (request id, created and expiry time), then the data
files, then ``manifest.json`` (each file's SHA-256 and size). It is encrypted to one X25519
recipient: the extract's 32-byte data key (in the keyring) *is* the X25519 secret, and its
age identity is that key in age's Bech32 text form (``AGE-SECRET-KEY-1...``), the key file the
researcher downloads. age seals 64 KiB chunks with ChaCha20-Poly1305 in the STREAM
construction, so a reordered, dropped, truncated, appended or edited byte fails to decrypt.

Writing and reading stream: the tar stream goes through a pipe to ``pyrage`` in a second thread,
so neither side holds the whole package; one file of the archive is held in memory while it is
packed (a tar entry needs its size before its bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

import pyrage

from core.errors import IntegrityError_, KeyError_
from core.keys import extract_key_name

MAGIC = b"age-encryption.org/v1\n"  # every age file starts with it
FORMAT = "c2c-extract"
FORMAT_VERSION = 2  # 1 was the AES-256-GCM container read by the retired c2c_decrypt.py
KEY_BYTES = 32
PACKAGE_INFO = "package.json"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAX_INFO_BYTES = 64 * 1024
_COPY_BLOCK = 256 * 1024


def _damaged(what: str) -> IntegrityError_:
    return IntegrityError_(f"extract package {what}: it was altered, truncated or damaged")


def utc(moment: datetime) -> datetime:
    """Timezone-aware UTC (naive datetimes are taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---- age identities: Bech32 (BIP 173) of the 32-byte X25519 secret ---------------------------

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_IDENTITY_HRP = "age-secret-key-"


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: bytes | list[int], source: int, target: int, pad: bool) -> list[int]:
    accumulator, bits, out = 0, 0, []
    for value in data:
        accumulator = (accumulator << source) | value
        bits += source
        while bits >= target:
            bits -= target
            out.append((accumulator >> bits) & ((1 << target) - 1))
    if pad and bits:
        out.append((accumulator << (target - bits)) & ((1 << target) - 1))
    elif not pad and (bits >= source or (accumulator << (target - bits)) & ((1 << target) - 1)):
        raise ValueError("bad padding")
    return out


def age_identity(data_key: bytes) -> str:
    """The age identity (``AGE-SECRET-KEY-1...``) whose X25519 secret is ``data_key``."""
    if len(data_key) != KEY_BYTES:
        raise KeyError_(f"an extract data key is {KEY_BYTES} bytes; the key given is not")
    data = _regroup(data_key, 8, 5, pad=True)
    check = _polymod(_hrp_expand(_IDENTITY_HRP) + data + [0] * 6) ^ 1
    data += [(check >> 5 * (5 - i)) & 31 for i in range(6)]
    return (_IDENTITY_HRP + "1" + "".join(_BECH32[d] for d in data)).upper()


def identity_key(text: str) -> bytes:
    """The data key inside an age identity string; ValueError when it is not one."""
    text = text.strip().lower()
    hrp, sep, rest = text.rpartition("1")
    if hrp != _IDENTITY_HRP or not sep or len(rest) < 7 or any(c not in _BECH32 for c in rest):
        raise ValueError("not an age identity (AGE-SECRET-KEY-1...)")
    data = [_BECH32.index(c) for c in rest]
    if _polymod(_hrp_expand(hrp) + data) != 1:
        raise ValueError("the age identity's checksum does not match (mistyped or cut)")
    try:
        key = bytes(_regroup(data[:-6], 5, 8, pad=False))
    except ValueError:
        raise ValueError("the age identity has left-over bits (a character added, dropped or "
                         "changed before the checksum was made); age refuses it too") from None
    if len(key) != KEY_BYTES:
        raise ValueError("the age identity does not hold a 32-byte key")
    return key


def _identity(data_key: bytes) -> Any:
    return pyrage.x25519.Identity.from_str(age_identity(data_key))


# ---- the package ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PackageHeader:
    """``package.json``: which request, when made, until when it may be opened (authenticated
    with everything else; readable only with the key)."""

    request_id: str
    created_at: datetime
    expires_at: datetime

    @property
    def key_name(self) -> str:
        """The keyring entry holding this package's data key."""
        return extract_key_name(self.request_id)

    @classmethod
    def new(cls, request_id: str, created_at: datetime, expires_at: datetime) -> PackageHeader:
        return cls(request_id=request_id, created_at=utc(created_at), expires_at=utc(expires_at))

    def encode(self) -> bytes:
        return json.dumps({"format": FORMAT, "version": FORMAT_VERSION,
                           "request_id": self.request_id,
                           "created_at": self.created_at.isoformat(),
                           "expires_at": self.expires_at.isoformat()},
                          sort_keys=True, indent=2).encode("utf-8")

    @classmethod
    def decode(cls, body: bytes) -> PackageHeader:
        try:
            data = json.loads(body.decode("utf-8"))
            if data["format"] != FORMAT or data["version"] != FORMAT_VERSION:
                raise ValueError("unknown format")
            return cls(request_id=str(data["request_id"]),
                       created_at=utc(datetime.fromisoformat(data["created_at"])),
                       expires_at=utc(datetime.fromisoformat(data["expires_at"])))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise _damaged(f"has no readable {PACKAGE_INFO}") from None


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    bytes: int


class _HashingSink:
    """Passes writes on to a file while hashing them (the package's own SHA-256, one pass).
    pyrage's ``encrypt_io`` only calls ``write``; the caller flushes the file itself."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self._handle.write(data)


class _Worker:
    """pyrage's ``encrypt_io``/``decrypt_io`` pull from a reader and push to a writer; the tar
    side runs in the caller's thread, the age side here, joined by a pipe."""

    def __init__(self, work: Callable[[], None], closes: IO[bytes]) -> None:
        self.error: BaseException | None = None
        self._work, self._closes = work, closes
        self.thread = threading.Thread(target=self._run, name="c2c-age", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # handed to the caller's thread in join()
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                self._closes.close()

    def join(self) -> BaseException | None:
        self.thread.join()
        return self.error


class EntrySink:
    """A write-only file object (for pyarrow writers) collecting one file of the archive."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._hash = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._buffer += view
        return len(view)

    def tell(self) -> int:
        return len(self._buffer)

    def flush(self) -> None:
        """Nothing to do: the bytes go into the archive when the entry ends."""

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        # pyarrow may close its sink; the entry itself ends in ``PackageWriter.file``.
        self.closed = True


class PackageWriter:
    """Writes one package to an open file: ``package.json``, then each file as it is added."""

    def __init__(self, handle: BinaryIO, data_key: bytes, header: PackageHeader) -> None:
        self._sink = _HashingSink(handle)
        self._header = header
        read_fd, write_fd = os.pipe()
        self._pipe_in = os.fdopen(write_fd, "wb")
        pipe_out = os.fdopen(read_fd, "rb")
        recipient = _identity(data_key).to_public()
        self._worker = _Worker(lambda: pyrage.encrypt_io(pipe_out, self._sink, [recipient]),
                               closes=pipe_out)
        # closed in _close (the writer outlives this method)
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._pipe_in, mode="w|", format=tarfile.PAX_FORMAT)
        self.digests: dict[str, FileDigest] = {}
        self.package: FileDigest | None = None  # the whole file, set once it is complete
        self._add(PACKAGE_INFO, header.encode())

    def _add(self, name: str, data: bytes | bytearray) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o600
        info.mtime = int(self._header.created_at.timestamp())
        try:
            self._tar.addfile(info, io.BytesIO(data))
        except BrokenPipeError:
            raise self._failed() from None

    def _failed(self) -> BaseException:
        error = self._worker.join()
        return KeyError_(f"encrypting the extract package failed ({type(error).__name__})")

    @contextlib.contextmanager
    def file(self, name: str) -> Iterator[EntrySink]:
        if not _FILE_NAME.match(name) or name in self.digests or name == PACKAGE_INFO:
            raise ValueError(f"bad or repeated package file name {name!r}")
        sink = EntrySink()
        yield sink
        self._add(name, sink._buffer)
        self.digests[name] = FileDigest(sink._hash.hexdigest(), len(sink._buffer))

    def add_bytes(self, name: str, data: bytes) -> FileDigest:
        with self.file(name) as sink:
            sink.write(data)
        return self.digests[name]

    def _finish(self) -> None:
        self._close()
        if self._worker.error is not None:
            raise self._failed()
        self.package = FileDigest(self._sink.hash.hexdigest(), self._sink.size)

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self._tar.close()
        with contextlib.suppress(OSError):
            self._pipe_in.close()
        self._worker.join()


@contextlib.contextmanager
def write_package(path: Path, data_key: bytes, header: PackageHeader) -> Iterator[PackageWriter]:
    """Create ``path``; on any error the partial file is removed and nothing is left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        with open(partial, "xb") as handle:
            writer = PackageWriter(handle, data_key, header)
            try:
                yield writer
                writer._finish()
            finally:
                writer._close()
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


def _unpack(archive: IO[bytes], receiver: FileReceiver,
            before_data: Callable[[PackageHeader], None]) -> tuple[PackageHeader, dict[
                str, FileDigest]]:
    try:
        with tarfile.open(fileobj=archive, mode="r|") as tar:
            return _members(tar, archive, receiver, before_data)
    except tarfile.TarError:
        raise _damaged("is not a readable archive") from None


def _members(tar: tarfile.TarFile, archive: IO[bytes], receiver: FileReceiver,
             before_data: Callable[[PackageHeader], None]) -> tuple[PackageHeader, dict[
                 str, FileDigest]]:
    first = tar.next()
    if first is None or first.name != PACKAGE_INFO or not first.isfile() or (
            first.size > _MAX_INFO_BYTES):
        raise _damaged(f"does not start with {PACKAGE_INFO}")
    handle = tar.extractfile(first)
    assert handle is not None
    header = PackageHeader.decode(handle.read())
    before_data(header)
    digests: dict[str, FileDigest] = {}
    for member in tar:  # iteration starts again with the members already read
        if member is first:
            continue
        if (not member.isfile() or not _FILE_NAME.match(member.name)
                or member.name in digests or member.name == PACKAGE_INFO):
            raise _damaged("names a file it may not")
        source = tar.extractfile(member)
        assert source is not None
        target = receiver.begin(member.name)
        digest, size = hashlib.sha256(), 0
        while block := source.read(_COPY_BLOCK):
            digest.update(block)
            size += len(block)
            target.write(block)
        target.close()
        digests[member.name] = FileDigest(digest.hexdigest(), size)
    while archive.read(_COPY_BLOCK):  # the rest (tar's zero padding) to the age side
        pass
    return header, digests


def read_package(
    source: BinaryIO,
    data_key: bytes,
    receiver: FileReceiver,
    *,
    before_data: Callable[[PackageHeader], None],
) -> tuple[PackageHeader, dict[str, FileDigest]]:
    """Decrypt ``source`` into ``receiver``; returns ``package.json`` and each file's digest.

    ``before_data`` runs with ``package.json`` before any data file is handed out: the place
    for the expiry check. Any failure (a wrong key, a damaged byte anywhere, a cut file)
    discards what the receiver got: age authenticates the end of the stream only at the end.
    """
    if source.read(len(MAGIC)) != MAGIC:
        raise _damaged("is not an age file")
    source.seek(0)
    identity = _identity(data_key)
    read_fd, write_fd = os.pipe()
    archive = os.fdopen(read_fd, "rb")
    pipe_in = os.fdopen(write_fd, "wb")
    worker = _Worker(lambda: pyrage.decrypt_io(source, pipe_in, [identity]), closes=pipe_in)
    unpacked: BaseException | None = None
    try:
        try:
            header, digests = _unpack(archive, receiver, before_data)
        except BaseException as exc:
            unpacked = exc
        finally:
            archive.close()  # a writer still blocked on the pipe gets EPIPE and stops
            error = worker.join()
        if error is not None and "no matching keys" in str(error).lower():
            raise IntegrityError_("not this package's key: the key does not open it")
        if unpacked is not None:  # an expired package, a damaged archive, ...
            raise unpacked
        if error is not None:  # the last chunk did not authenticate: cut or edited
            raise _damaged("did not decrypt")
    except BaseException:
        receiver.discard()
        raise
    return header, digests
