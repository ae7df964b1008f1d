"""Package format: any altered, dropped or added byte makes opening fail loudly."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deid_support import NOW, make_keys, request

import deidentify
from core.errors import Expired, IntegrityError_
from core.keys import KeyProvider
from core.requests import RequestKind
from deidentify.package import MAGIC, TAG_BYTES, PackageHeader, write_package


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
