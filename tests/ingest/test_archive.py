"""Zip archives, split parts and the encrypted raw store (no plaintext copy left behind)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from pathlib import Path

import pytest

from core import tables
from core.errors import IntegrityError_
from ingest import ReceiptStatus, ingest_files, rawstore
from ingest.rawstore import CHUNK, EncryptedReader, raw_path, read_all, store_file
from tests.ingest_testdata import LEA, YEAR, Env, calpads_text, partner, zip_of


def run(ienv: Env, *paths: Path) -> list:  # type: ignore[type-arg]
    return ingest_files(ienv.con, list(paths), ienv.raw_dir, ienv.key, [partner()])


def folder(ienv: Env) -> Path:
    path = ienv.land / "calpads" / LEA / YEAR
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_raw_store_round_trip_multi_chunk_and_no_plaintext(tmp_path: Path) -> None:
    data = b"".join(b"%08d^Jos\xc3\xa9^Secretname\r\n" % i for i in range(120_000))
    assert len(data) > 2 * CHUNK
    source = tmp_path / "in.txt"
    source.write_bytes(data)
    key = os.urandom(32)
    stored = store_file(source, tmp_path / "raw", key)
    assert read_all(tmp_path / "raw", stored.sha256, key) == data
    blob = stored.path.read_bytes()
    assert b"Secretname" not in blob
    again = store_file(source, tmp_path / "raw", key)
    assert again.already_stored and again.path == stored.path
    reader = EncryptedReader(stored.path, key)
    reader.seek(CHUNK + 5)
    assert reader.read(20) == data[CHUNK + 5: CHUNK + 25]
    reader.close()
    with pytest.raises(IntegrityError_):
        read_all(tmp_path / "raw", stored.sha256, os.urandom(32))
    truncated = blob[: -(CHUNK // 2)]
    stored.path.write_bytes(truncated)
    with pytest.raises(IntegrityError_):
        read_all(tmp_path / "raw", stored.sha256, key)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_raw_store_round_trip_at_chunk_boundaries(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    key = os.urandom(32)
    stored = store_file(source, tmp_path / "raw", key)
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert read_all(tmp_path / "raw", stored.sha256, key) == data
    assert EncryptedReader(stored.path, key).size == size
    assert not list((tmp_path / "raw").glob(".incoming-*"))


def test_raw_store_write_failure_is_raised_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(5 * CHUNK))

    class Full(Exception):
        pass

    def refuse(*args: object) -> bytes:
        raise Full("disk full")

    monkeypatch.setattr(rawstore.AESGCM, "encrypt", refuse)
    with pytest.raises(Full):
        store_file(source, tmp_path / "raw", os.urandom(32))
    assert list((tmp_path / "raw").rglob("*")) == []


def test_zip_with_two_files_loads_both_from_the_raw_store(ienv: Env) -> None:
    archive = zip_of(folder(ienv) / "extracts.zip", {
        f"SENR {YEAR}.txt": calpads_text("SENR", 3).encode(),
        f"inner/{YEAR} SINF.txt": calpads_text("SINF", 2).encode(),
    })
    receipts = run(ienv, archive)
    assert sorted((r.kind, r.status, r.rows) for r in receipts) == [
        ("SENR", ReceiptStatus.ACCEPTED, 3), ("SINF", ReceiptStatus.ACCEPTED, 2)]
    assert all(r.partner_org == LEA for r in receipts)
    assert run(ienv, archive) == receipts  # re-send: same receipts, nothing loaded twice
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 3
    container = ienv.scalar(f"SELECT file_id FROM {tables.FILES} WHERE kind = 'zip'")
    assert read_all(ienv.raw_dir, str(container), ienv.key) == archive.read_bytes()
    leftovers = [p for p in (ienv.root / "home").rglob("*") if p.is_file()
                 and p.suffix in (".txt", ".csv")]
    assert leftovers == []


def test_corrupt_zip_rejected(ienv: Env) -> None:
    good = zip_of(ienv.root / "tmp.zip", {f"SENR {YEAR}.txt": calpads_text("SENR", 50).encode()})
    damaged = bytearray(good.read_bytes())
    damaged[40:400] = b"\x00" * 360
    path = folder(ienv) / "broken.zip"
    path.write_bytes(bytes(damaged[:-30]))
    [receipt] = run(ienv, path)
    assert receipt.status == ReceiptStatus.REJECTED
    assert receipt.errors[0].rule == "zip_corrupt"


def test_zip_entry_escaping_its_folder_rejected(ienv: Env) -> None:
    path = zip_of(folder(ienv) / "evil.zip", {
        f"SENR {YEAR}.txt": calpads_text("SENR", 2).encode(),
        f"../../SINF {YEAR}.txt": calpads_text("SINF", 2).encode(),
    })
    [receipt] = run(ienv, path)
    assert receipt.status == ReceiptStatus.REJECTED
    error = receipt.errors[0]
    assert (error.rule, error.value) == ("zip_path_traversal", f"../../SINF {YEAR}.txt")
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 0


def test_zip_bomb_rejected(ienv: Env) -> None:
    path = folder(ienv) / "bomb.zip"
    block = b"\0" * (1024 * 1024)
    with (zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
          archive.open(f"SENR {YEAR}.txt", "w") as member):
        for _ in range(64):
            member.write(block)
    assert path.stat().st_size < 200_000
    [receipt] = run(ienv, path)
    assert receipt.status == ReceiptStatus.REJECTED
    assert receipt.errors[0].rule == "zip_bomb"


def test_zip_lying_about_its_size_is_stopped_while_streaming(ienv: Env) -> None:
    payload = calpads_text("SENR", 200).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"SENR {YEAR}.txt", payload)
    data = bytearray(buffer.getvalue())
    # Shrink the declared uncompressed size in the central directory (offset 24 of the entry).
    central = data.rfind(b"PK\x01\x02")
    data[central + 24: central + 28] = struct.pack("<I", 100)
    path = folder(ienv) / "liar.zip"
    path.write_bytes(bytes(data))
    [receipt] = run(ienv, path)
    assert receipt.status == ReceiptStatus.REJECTED
    assert receipt.errors[0].rule in ("zip_bomb", "zip_corrupt")


def test_split_parts_in_any_order_across_batches(ienv: Env) -> None:
    data = calpads_text("SENR", 9).encode()
    cut = [0, 300, 900, len(data)]
    paths = []
    for n in range(3):
        part = folder(ienv) / f"SENR {YEAR}.part{n + 1}of3.txt"
        part.write_bytes(data[cut[n]: cut[n + 1]])
        paths.append(part)
    [waiting] = run(ienv, paths[2])
    assert waiting.status == ReceiptStatus.HELD and "waiting for part(s) 1, 2" in waiting.message
    receipts = run(ienv, paths[0], paths[1])
    assembled = [r for r in receipts if r.kind == "SENR"]
    assert len(assembled) == 1 and assembled[0].status == ReceiptStatus.ACCEPTED
    assert assembled[0].rows == 9 and assembled[0].file_name == f"SENR {YEAR}.txt"
    lines = ienv.con.execute("SELECT line_no, ssid FROM staging.calpads_senr ORDER BY line_no")
    assert [r[1] for r in lines.fetchall()] == [f"{i:010d}" for i in range(9)]
    for part in paths:  # every part is kept as received
        sha = ienv.scalar(f"SELECT file_id FROM {tables.FILES} WHERE original_name = ?",
                         [part.name])
        assert read_all(ienv.raw_dir, str(sha), ienv.key) == part.read_bytes()
        assert raw_path(ienv.raw_dir, str(sha)).exists()
