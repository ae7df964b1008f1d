"""Open and verify research extract packages: authenticate every byte, check every file
against the manifest, refuse expired packages (``open_extract``), audit without keeping the
data (``verify_extract``)."""

from __future__ import annotations

import io
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import Expired, IntegrityError_, NotFound
from core.keys import KeyProvider
from deidentify.contents import DATA_CSV, DATA_PARQUET, MANIFEST, request_of_package
from deidentify.keyfiles import package_key
from deidentify.package import (
    FileDigest,
    FileReceiver,
    PackageHeader,
    read_package,
    utc,
)


@dataclass(frozen=True)
class OpenedExtract:
    """A decrypted, authenticated package: files in memory, or written to a directory."""

    request_id: str
    created_at: datetime
    expires_at: datetime
    manifest: dict[str, Any]
    files: dict[str, bytes]  # in-memory mode
    paths: dict[str, Path]  # out_dir mode

    def table(self) -> pa.Table:
        """The released rows (from data.parquet)."""
        if DATA_PARQUET in self.paths:
            return pq.read_table(self.paths[DATA_PARQUET])
        return pq.read_table(pa.BufferReader(self.files[DATA_PARQUET]))


@dataclass(frozen=True)
class VerifiedExtract:
    """``verify_extract``: the package authenticates and every file matches its manifest."""

    request_id: str
    created_at: datetime
    expires_at: datetime
    expired: bool
    manifest: dict[str, Any]
    files: dict[str, FileDigest]


class _MemoryFile(io.BytesIO):
    def __init__(self, receiver: _MemoryReceiver, name: str) -> None:
        super().__init__()
        self._receiver, self._name = receiver, name

    def close(self) -> None:
        if not self.closed:
            self._receiver.files[self._name] = self.getvalue()
        super().close()


class _MemoryReceiver(FileReceiver):
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def begin(self, name: str) -> BinaryIO:
        return _MemoryFile(self, name)

    def discard(self) -> None:
        self.files.clear()

    def read(self, name: str) -> bytes:
        return self.files.get(name, b"")


class _ManifestOnlyReceiver(_MemoryReceiver):
    """For verification: keep manifest.json, drop data (their digests are still computed)."""

    def begin(self, name: str) -> BinaryIO:
        return _MemoryFile(self, name) if name == MANIFEST else open(os.devnull, "wb")


class _DirReceiver(FileReceiver):
    """Writes ``.<name>.partial`` files, renamed only once everything is authenticated."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.out_dir = out_dir
        self.partials: dict[str, Path] = {}

    def begin(self, name: str) -> BinaryIO:
        partial = self.out_dir / f".{name}.{secrets.token_hex(4)}.partial"
        self.partials[name] = partial
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb")

    def read(self, name: str) -> bytes:
        return self.partials[name].read_bytes() if name in self.partials else b""

    def commit(self) -> None:
        for name, partial in self.partials.items():
            os.replace(partial, self.out_dir / name)

    def discard(self) -> None:
        for partial in self.partials.values():
            partial.unlink(missing_ok=True)


def _check_manifest(
    raw: bytes, digests: dict[str, FileDigest], header: PackageHeader
) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(raw.decode("utf-8"))
        listed = {
            name: FileDigest(str(entry["sha256"]), int(entry["bytes"]))
            for name, entry in manifest["files"].items()
        }
        request_id = manifest["request_id"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError_("extract package has no readable manifest.json") from None
    data_digests = {name: d for name, d in digests.items() if name != MANIFEST}
    if listed != data_digests or request_id != header.request_id:
        raise IntegrityError_("extract package files do not match their manifest")
    return manifest


def _open(
    package: Path,
    keys: KeyProvider | None,
    data_key: bytes | None,
    now: datetime | None,
    receiver: _MemoryReceiver | _DirReceiver,
) -> tuple[PackageHeader, dict[str, Any], dict[str, FileDigest]]:
    """Authenticate and unpack ``package`` into ``receiver``; ``now`` None skips expiry."""
    if not package.exists():
        raise NotFound(f"no extract package at {package}")
    named = request_of_package(package.name)
    key = package_key(named, keys, data_key)

    def refuse_if_expired_or_renamed(header: PackageHeader) -> None:
        if named is not None and header.request_id != named:
            raise IntegrityError_(f"{package.name} holds the extract of request "
                                  f"{header.request_id}, not {named}")
        if now is not None and utc(now) >= header.expires_at:
            raise Expired(
                f"extract for request {header.request_id} expired at "
                f"{header.expires_at.isoformat()}; it can no longer be opened"
            )

    with open(package, "rb") as source:
        try:
            header, digests = read_package(source, key, receiver,
                                           before_data=refuse_if_expired_or_renamed)
            manifest = _check_manifest(receiver.read(MANIFEST), digests, header)
        except BaseException:
            receiver.discard()
            raise
    receiver.commit()
    return header, manifest, digests


def open_extract(
    package: Path,
    *,
    keys: KeyProvider | None = None,
    data_key: bytes | None = None,
    now: datetime,
    out_dir: Path | None = None,
) -> OpenedExtract:
    """Decrypt and authenticate a package with the keyring (operator) or its data key (owner).

    Files go to ``out_dir`` when given (only after the whole package authenticated), else
    stay in memory. Raises ``IntegrityError_`` on any tampering or a wrong key, ``Expired``
    once the package's expiry has passed.
    """
    receiver: _MemoryReceiver | _DirReceiver = (
        _DirReceiver(out_dir) if out_dir is not None else _MemoryReceiver()
    )
    header, manifest, _ = _open(package, keys, data_key, now, receiver)
    return OpenedExtract(
        request_id=header.request_id,
        created_at=header.created_at,
        expires_at=header.expires_at,
        manifest=manifest,
        files=dict(receiver.files) if isinstance(receiver, _MemoryReceiver) else {},
        paths=(
            {name: receiver.out_dir / name for name in receiver.partials}
            if isinstance(receiver, _DirReceiver) else {}
        ),
    )


def verify_extract(
    package: Path,
    *,
    keys: KeyProvider | None = None,
    data_key: bytes | None = None,
    now: datetime,
) -> VerifiedExtract:
    """Authenticate every byte and check every file digest without keeping the data.

    Works on expired packages too (an operator may audit them); ``expired`` says so.
    """
    receiver = _ManifestOnlyReceiver()
    header, manifest, digests = _open(package, keys, data_key, None, receiver)
    return VerifiedExtract(
        request_id=header.request_id,
        created_at=header.created_at,
        expires_at=header.expires_at,
        expired=utc(now) >= header.expires_at,
        manifest=manifest,
        files=digests,
    )


@dataclass(frozen=True)
class ExtractHead:
    """Rows of a package's data.csv (``extract_sample``), and how many rows it holds in all."""

    request_id: str
    columns: list[str]
    rows: list[list[str]]
    total_rows: int | None
    manifest: dict[str, Any]


class _SampleFile(_MemoryFile):
    """data.csv streamed through a seeded reservoir (Algorithm R): the header and ``size``
    rows drawn uniformly from the whole file, whatever its length, in O(size) memory.
    Extract values are codes, booleans and hex pseudonyms, never a quoted line break, so a
    line is a row."""

    def __init__(self, receiver: _MemoryReceiver, name: str, size: int, seed: int) -> None:
        super().__init__(receiver, name)
        import random

        self._rng, self._size = random.Random(seed), size
        self._pending, self._seen = b"", -1  # -1: the header is still to come
        self.header = b""
        self.kept: list[tuple[int, bytes]] = []

    def write(self, data: Any) -> int:
        lines = (self._pending + bytes(data)).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            self._take(line)
        return len(data)

    def _take(self, line: bytes) -> None:
        if self._seen < 0:
            self.header, self._seen = line, 0
            return
        if len(self.kept) < self._size:
            self.kept.append((self._seen, line))
        else:
            slot = self._rng.randrange(self._seen + 1)
            if slot < self._size:
                self.kept[slot] = (self._seen, line)
        self._seen += 1

    def close(self) -> None:
        if self.closed:
            return
        if self._pending:  # a last line without its line break
            self._take(self._pending)
        kept = b"\n".join(line for _, line in sorted(self.kept))
        super().write(self.header + b"\n" + kept if kept else self.header)
        super().close()


class _SampleReceiver(_MemoryReceiver):
    """For a checker's look: manifest.json, and a seeded random sample of data.csv."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__()
        self.size, self.seed = size, seed

    def begin(self, name: str) -> BinaryIO:
        if name == MANIFEST:
            return _MemoryFile(self, name)
        if name == DATA_CSV:
            return _SampleFile(self, name, self.size, self.seed)
        return open(os.devnull, "wb")


def extract_sample(package: Path, *, keys: KeyProvider | None = None,
                   data_key: bytes | None = None, rows: int = 50) -> ExtractHead:
    """What an output checker looks at before deciding: ``rows`` rows drawn at random from the
    whole extract (every row when it holds no more), in the extract's order. The draw is
    seeded by the request id, so every checker of one output sees the same rows; the first
    rows of a file sorted by pseudonym say little about the rest. Authenticated like any
    opening; expiry not applied, as for ``verify_extract``."""
    import csv
    import hashlib

    named = request_of_package(package.name) or package.name
    seed = int.from_bytes(hashlib.sha256(f"checker-sample/{named}".encode()).digest()[:8],
                          "big")
    receiver = _SampleReceiver(rows, seed)
    header, manifest, _ = _open(package, keys, data_key, None, receiver)
    parsed = list(csv.reader(io.StringIO(receiver.read(DATA_CSV).decode("utf-8",
                                                                        errors="replace"))))
    total = manifest.get("rows")
    return ExtractHead(request_id=header.request_id, columns=parsed[0] if parsed else [],
                       rows=parsed[1:], total_rows=int(total) if total is not None else None,
                       manifest=manifest)
