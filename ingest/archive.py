"""Safe reading of received ``.zip`` archives straight from the encrypted raw store.

``zipfile`` reads through :class:`ingest.rawstore.EncryptedReader` (seekable, decrypting in
memory), so unpacking leaves no plaintext copy. Rejected as a whole: a corrupt archive, an entry
whose path escapes its folder (absolute, ``..``, drive letter), an encrypted entry, a nested
archive, and a zip bomb (declared total or compression ratio over the limits, or an entry that
inflates past its declared size while streaming).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import InputRejected, Location
from ingest.rawstore import EncryptedReader

STREAM_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    max_total_bytes: int = 64 * 1024**3  # uncompressed, all entries together
    max_ratio: float = 200.0  # uncompressed / compressed, per entry
    ratio_floor_bytes: int = 10 * 1024**2  # small entries may compress as well as they like
    max_entries: int = 1000


@dataclass(frozen=True)
class Member:
    name: str
    size: int


def _bad(archive_name: str, message: str, member: str | None, rule: str) -> InputRejected:
    # The entry's name is the partner's own file name, not a data value: kept as it is.
    return InputRejected(message, Location(archive_name, None, None, member, rule))


def _escapes(name: str) -> bool:
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return True
    return ".." in PurePosixPath(normalised).parts


def list_members(raw_file: Path, key: bytes, archive_name: str, limits: ZipLimits) -> list[Member]:
    """Checked list of the files in the archive (folders skipped), or an InputRejected."""
    reader = EncryptedReader(raw_file, key)
    try:
        try:
            archive = zipfile.ZipFile(reader)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise _bad(archive_name, f"corrupt zip archive: {exc}", None, "zip_corrupt") from exc
        with archive:
            infos = archive.infolist()
            if len(infos) > limits.max_entries:
                raise _bad(archive_name, f"zip has {len(infos)} entries (limit "
                           f"{limits.max_entries})", None, "zip_bomb")
            members: list[Member] = []
            total = 0
            for info in infos:
                if _escapes(info.filename):
                    raise _bad(archive_name, "zip entry path escapes its folder", info.filename,
                               "zip_path_traversal")
                if info.is_dir():
                    continue
                if info.flag_bits & 0x1:
                    raise _bad(archive_name, "encrypted zip entries are not accepted",
                               info.filename, "zip_encrypted")
                if info.filename.lower().endswith(".zip"):
                    raise _bad(archive_name, "zip archives inside a zip are not accepted",
                               info.filename, "zip_nested")
                total += info.file_size
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
                    raise _bad(archive_name, f"zip bomb: entry inflates {ratio:.0f}x "
                               f"(limit {limits.max_ratio:.0f}x)", info.filename, "zip_bomb")
                if total > limits.max_total_bytes:
                    raise _bad(archive_name, f"zip bomb: more than {limits.max_total_bytes} "
                               "bytes uncompressed", info.filename, "zip_bomb")
                members.append(Member(info.filename, info.file_size))
            bad = archive.testzip() if sum(m.size for m in members) < 64 * 1024**2 else None
            if bad is not None:
                raise _bad(archive_name, "corrupt zip entry (CRC mismatch)", bad, "zip_corrupt")
            return members
    finally:
        reader.close()


def iter_member(raw_file: Path, key: bytes, archive_name: str, member: Member) -> Iterator[bytes]:
    """Decompressed bytes of one entry, refusing to inflate past its declared size."""
    reader = EncryptedReader(raw_file, key)
    try:
        with zipfile.ZipFile(reader) as archive, archive.open(member.name) as handle:
            produced = 0
            while True:
                try:
                    chunk = handle.read(STREAM_CHUNK)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise _bad(archive_name, f"corrupt zip entry: {exc}", member.name,
                               "zip_corrupt") from exc
                if not chunk:
                    break
                produced += len(chunk)
                if produced > member.size:
                    raise _bad(archive_name, "zip bomb: entry inflates past its declared size",
                               member.name, "zip_bomb")
                yield chunk
    finally:
        reader.close()
