"""Package format: any altered, dropped or added byte makes opening fail loudly."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deid_support import NOW, make_keys, request

import deidentify
from core.errors import Expired, IntegrityError_, NotFound
from core.keys import KeyProvider
from core.requests import RequestKind
from deidentify.package import (
    _MAX_CHUNK_SIZE,
    _NONCE_PREFIX_BYTES,
    MAGIC,
    TAG_BYTES,
    PackageHeader,
    _nonce,
    _StreamEncryptor,
    write_package,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyProvider:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def package(keys: KeyProvider, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small aggregate package cut into 64-byte chunks, so it has many chunks and tags."""
    table = pa.table({"county_code": ["10", "11", "12"], "students": [40, 55, None]})
    req = request(request_id="R-tamper", kind=RequestKind.AGGREGATE, variables=["gender"])
    out = tmp_path_factory.mktemp("pkg")
    return deidentify.package_table(table, req, keys, out, NOW, chunk_size=64).package_path


def _flipped(original: bytes, position: int, tmp_path: Path) -> Path:
    data = bytearray(original)
    data[position] ^= 0x01
    path = tmp_path / "tampered.c2cx"
    path.write_bytes(bytes(data))
    return path


def test_intact_package_opens_and_verifies(package: Path, keys: KeyProvider) -> None:
    opened = deidentify.open_extract(package, keys=keys, now=NOW)
    assert opened.table().num_rows == 3
    verified = deidentify.verify_extract(package, keys=keys, now=NOW)
    assert set(verified.files) == {"data.parquet", "data.csv", "manifest.json"}
    assert verified.manifest["files"]["data.csv"]["sha256"] == verified.files["data.csv"].sha256


def test_result_reports_the_package_digest(keys: KeyProvider, tmp_path: Path) -> None:
    import hashlib

    table = pa.table({"county_code": ["10"], "students": [40]})
    req = request(request_id="R-digest", kind=RequestKind.AGGREGATE, variables=["gender"])
    result = deidentify.package_table(table, req, keys, tmp_path, NOW)
    data = result.package_path.read_bytes()
    assert result.package_sha256 == hashlib.sha256(data).hexdigest()
    assert result.package_bytes == len(data)


def test_flipping_any_single_bit_fails_loudly(package: Path, keys: KeyProvider,
                                              tmp_path: Path) -> None:
    original = package.read_bytes()
    header_end = len(MAGIC) + 4 + int.from_bytes(original[len(MAGIC):len(MAGIC) + 4], "big")
    assert len(original) > header_end + 10 * (64 + TAG_BYTES)  # many chunks
    for position in range(len(original)):  # header, every ciphertext byte, every tag byte
        tampered = _flipped(original, position, tmp_path)
        with pytest.raises(IntegrityError_):
            deidentify.open_extract(tampered, keys=keys, now=NOW, out_dir=tmp_path / "o")
        assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_truncation_extension_and_reordering_fail(package: Path, keys: KeyProvider,
                                                 tmp_path: Path) -> None:
    original = package.read_bytes()
    header_end = len(MAGIC) + 4 + int.from_bytes(original[len(MAGIC):len(MAGIC) + 4], "big")
    sealed = 64 + TAG_BYTES
    chunks = [original[i:i + sealed] for i in range(header_end, len(original), sealed)]
    variants = {
        "cut one byte": original[:-1],
        "cut the last chunk": original[:-len(chunks[-1])],
        "cut at a chunk boundary": original[:header_end + 3 * sealed],
        "header only": original[:header_end],
        "extra byte": original + b"\x00",
        "extra chunk": original + chunks[1],
        "swapped chunks": original[:header_end] + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "dropped chunk": original[:header_end] + chunks[0] + b"".join(chunks[2:]),
        "empty": b"",
    }
    for label, data in variants.items():
        path = tmp_path / "v.c2cx"
        path.write_bytes(data)
        with pytest.raises(IntegrityError_):
            deidentify.open_extract(path, keys=keys, now=NOW)
            pytest.fail(label)


def test_header_edits_cannot_extend_expiry(package: Path, keys: KeyProvider,
                                           tmp_path: Path) -> None:
    original = package.read_bytes()
    length = int.from_bytes(original[len(MAGIC):len(MAGIC) + 4], "big")
    header = json.loads(original[len(MAGIC) + 4:len(MAGIC) + 4 + length])
    header["expires_at"] = (NOW + timedelta(days=10_000)).isoformat()
    body = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    forged = MAGIC + len(body).to_bytes(4, "big") + body + original[len(MAGIC) + 4 + length:]
    path = tmp_path / "forged.c2cx"
    path.write_bytes(forged)
    with pytest.raises(IntegrityError_):
        deidentify.open_extract(path, keys=keys, now=NOW + timedelta(days=9_000))
    with pytest.raises(Expired):
        deidentify.open_extract(package, keys=keys, now=NOW + timedelta(days=9_000))


def test_large_streams_round_trip_across_chunk_boundaries(tmp_path: Path) -> None:
    """Sizes on, just under and just over the chunk size, and an empty file."""
    key = secrets.token_bytes(32)
    blobs = {"a.bin": secrets.token_bytes(4096), "b.bin": secrets.token_bytes(4095),
             "c.bin": secrets.token_bytes(4097 + 300_000), "empty.bin": b""}
    header = PackageHeader.new("R-stream", NOW, NOW + timedelta(days=1), chunk_size=4096)
    path = tmp_path / "s.c2cx"
    with write_package(path, key, header) as writer:
        for name, blob in blobs.items():
            writer.add_bytes(name, blob)
        manifest = {"request_id": "R-stream", "files": {
            n: {"sha256": d.sha256, "bytes": d.bytes} for n, d in writer.digests.items()}}
        writer.add_bytes("manifest.json", json.dumps(manifest).encode())
    opened = deidentify.open_extract(path, data_key=key, now=NOW)
    assert {n: opened.files[n] for n in blobs} == blobs


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    header = PackageHeader.new("R-fail", NOW, NOW + timedelta(days=1))
    with pytest.raises(RuntimeError), write_package(tmp_path / "f.c2cx", bytes(32), header) as w:
        w.add_bytes("data.csv", b"a,b\n")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------- limits, malformed headers and records
KEY = bytes(range(32))


def _header_bytes(fields: dict[str, object]) -> bytes:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return MAGIC + len(body).to_bytes(4, "big") + body


def test_chunk_size_limits_one_below_at_and_one_above() -> None:
    """1 byte and _MAX_CHUNK_SIZE are the bounds of a chunk; a writer cannot go outside."""
    later = NOW + timedelta(days=1)
    for size in (1, _MAX_CHUNK_SIZE):
        assert PackageHeader.new("R", NOW, later, chunk_size=size).chunk_size == size
    for size in (0, _MAX_CHUNK_SIZE + 1):
        with pytest.raises(ValueError, match="chunk_size must be 1.."):
            PackageHeader.new("R", NOW, later, chunk_size=size)


def test_the_chunk_counter_never_wraps() -> None:
    """A nonce is prefix | u32 counter | flag: the 2**32nd chunk would reuse chunk 0's nonce
    (catastrophic for GCM), so it is refused instead."""
    prefix = bytes(_NONCE_PREFIX_BYTES)
    assert _nonce(prefix, 2**32 - 1, last=True) == prefix + b"\xff\xff\xff\xff\x01"
    with pytest.raises(IntegrityError_, match="too many chunks"):
        _nonce(prefix, 2**32, last=False)


@pytest.mark.parametrize(("label", "data", "message"), [
    ("length cut", MAGIC + b"\x00\x01", "header is cut short"),
    ("body cut", MAGIC + (1000).to_bytes(4, "big") + b'{"format":', "header is cut short"),
    ("chunk size 0", _header_bytes({
        "format": "c2c-extract", "version": 1, "request_id": "R", "cipher": "AES-256-GCM",
        "kdf": "HKDF-SHA256", "created_at": NOW.isoformat(), "expires_at": NOW.isoformat(),
        "chunk_size": 0, "salt": base64.b64encode(bytes(32)).decode(),
        "nonce_prefix": base64.b64encode(bytes(7)).decode()}), "impossible values"),
    ("short salt", _header_bytes({
        "format": "c2c-extract", "version": 1, "request_id": "R", "cipher": "AES-256-GCM",
        "kdf": "HKDF-SHA256", "created_at": NOW.isoformat(), "expires_at": NOW.isoformat(),
        "chunk_size": 64, "salt": base64.b64encode(bytes(16)).decode(),
        "nonce_prefix": base64.b64encode(bytes(7)).decode()}), "impossible values"),
])
def test_malformed_headers_are_named(label: str, data: bytes, message: str,
                                     tmp_path: Path) -> None:
    path = tmp_path / "h.c2cx"
    path.write_bytes(data)
    with pytest.raises(IntegrityError_, match=message):
        deidentify.package_header(path)
    with pytest.raises(IntegrityError_, match=message):
        deidentify.open_extract(path, data_key=KEY, now=NOW)


def _sealed(tmp_path: Path, plaintext: bytes) -> Path:
    """A package whose chunks authenticate (sealed with KEY) but whose records are whatever
    ``plaintext`` says: what a buggy or hostile writer holding the key could produce."""
    header = PackageHeader.new("R-rec", NOW, NOW + timedelta(days=1), chunk_size=64)
    path = tmp_path / "records.c2cx"
    with open(path, "wb") as handle:
        encryptor = _StreamEncryptor(handle, KEY, header)
        encryptor.write(plaintext)
        encryptor.finish()
    return path


def _file(name: bytes, data: bytes = b"x") -> bytes:
    return (b"F" + len(name).to_bytes(2, "big") + name
            + b"D" + len(data).to_bytes(4, "big") + data + b"E")


@pytest.mark.parametrize(("label", "plaintext", "message"), [
    ("unknown record", b"Q", "unknown record"),
    ("data not ended", _file(b"a.csv")[:-1] + b"Q", "unknown record"),
    ("path in a name", _file(b"../a.csv") + b"Z", "names a file it may not"),
    ("repeated name", _file(b"a.csv") + _file(b"a.csv") + b"Z", "names a file it may not"),
    ("no end record", _file(b"a.csv"), "ends after its final chunk"),
    ("data after the end", _file(b"a.csv") + b"Z" + b"trailing", "has data after its end"),
])
def test_authenticated_but_malformed_records_are_refused(
    label: str, plaintext: bytes, message: str, tmp_path: Path
) -> None:
    path = _sealed(tmp_path, plaintext)
    with pytest.raises(IntegrityError_, match=message):
        deidentify.open_extract(path, data_key=KEY, now=NOW, out_dir=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # nothing unauthenticated is left


def test_package_file_names_must_be_plain_and_unique(tmp_path: Path) -> None:
    header = PackageHeader.new("R-names", NOW, NOW + timedelta(days=1))
    with write_package(tmp_path / "n.c2cx", KEY, header) as writer:
        writer.add_bytes("a.csv", b"1")
        for bad in ("a.csv", "../a.csv", ".hidden", "a" * 129, ""):
            with pytest.raises(ValueError, match="bad or repeated package file name"):
                writer.add_bytes(bad, b"2")
        writer.add_bytes("a" * 128, b"3")  # the longest name allowed


def test_an_entry_is_a_write_only_stream_with_a_position(tmp_path: Path) -> None:
    """What pyarrow's writers may ask of the file object they write to."""
    header = PackageHeader.new("R-sink", NOW, NOW + timedelta(days=1))
    path = tmp_path / "e.c2cx"
    with write_package(path, KEY, header) as writer:
        with writer.file("data.bin") as sink:
            assert (sink.writable(), sink.readable(), sink.seekable()) == (True, False, False)
            sink.write(b"abc")
            sink.write(memoryview(b"defg"))
            sink.flush()
            assert sink.tell() == 7
            sink.close()  # a writer closing its sink does not end or lose the entry
            assert sink.closed
        digest = writer.digests["data.bin"]
        manifest = {"request_id": "R-sink",
                    "files": {"data.bin": {"sha256": digest.sha256, "bytes": digest.bytes}}}
        writer.add_bytes("manifest.json", json.dumps(manifest).encode())
    assert deidentify.open_extract(path, data_key=KEY, now=NOW).files["data.bin"] == b"abcdefg"


# ------------------------------------------------------------------ opening and manifest
def _with_manifest(tmp_path: Path, manifest: bytes | None) -> Path:
    header = PackageHeader.new("R-man", NOW, NOW + timedelta(days=1))
    path = tmp_path / "m.c2cx"
    with write_package(path, KEY, header) as writer:
        writer.add_bytes("data.csv", b"a,b\n1,2\n")
        if manifest is not None:
            writer.add_bytes("manifest.json", manifest)
    return path


def _listing(request_id: str, sha256: str, size: int) -> bytes:
    return json.dumps({"request_id": request_id,
                       "files": {"data.csv": {"sha256": sha256, "bytes": size}}}).encode()


def test_manifest_problems_are_integrity_errors(tmp_path: Path) -> None:
    import hashlib

    good = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    unreadable = {"missing": None, "not json": b"{", "not an object": b"[1]",
                  "no files": b'{"request_id": "R-man"}'}
    for label, manifest in unreadable.items():
        with pytest.raises(IntegrityError_, match="no readable manifest.json"):
            deidentify.open_extract(_with_manifest(tmp_path, manifest), data_key=KEY, now=NOW)
            pytest.fail(label)
    mismatched = {"other digest": _listing("R-man", "0" * 64, 8),
                  "other size": _listing("R-man", good, 9),
                  "other request": _listing("R-other", good, 8)}
    for label, manifest in mismatched.items():
        with pytest.raises(IntegrityError_, match="do not match their manifest"):
            deidentify.verify_extract(_with_manifest(tmp_path, manifest), data_key=KEY, now=NOW)
            pytest.fail(label)
    path = _with_manifest(tmp_path, _listing("R-man", good, 8))
    assert deidentify.verify_extract(path, data_key=KEY, now=NOW).files["data.csv"].bytes == 8


def test_a_missing_package_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no extract package at"):
        deidentify.open_extract(tmp_path / "absent.c2cx", data_key=KEY, now=NOW)


def test_a_received_file_may_be_closed_twice() -> None:
    """io's contract: a second close() does nothing (the bytes stay as first closed)."""
    from deidentify.opening import _MemoryReceiver

    receiver = _MemoryReceiver()
    handle = receiver.begin("data.csv")
    handle.write(b"a,b\n")
    handle.close()
    handle.close()
    assert receiver.read("data.csv") == b"a,b\n"
