"""Package format (age-encrypted tar): the standard ``age`` tool opens it; any altered,
dropped or added byte makes opening fail loudly; nothing unauthenticated is left behind."""

from __future__ import annotations

import hashlib
import io
import json
import resource
import secrets
import shutil
import subprocess
import tarfile
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyrage
import pytest

import deidentify
from core.errors import Expired, InputRejected, IntegrityError_, KeyError_, NotFound
from core.keys import KeyProvider, extract_key_name
from core.requests import RequestKind
from deidentify.package import (
    MAGIC,
    PACKAGE_INFO,
    PackageHeader,
    age_identity,
    identity_key,
    write_package,
)
from tests.deid_support import NOW, make_keys, request


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyProvider:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def package(keys: KeyProvider, tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = pa.table({"county_code": ["10", "11", "12"], "students": [40, 55, None]})
    req = request(request_id="R-tamper", kind=RequestKind.AGGREGATE, variables=["gender"])
    out = tmp_path_factory.mktemp("pkg")
    return deidentify.package_table(table, req, keys, out, NOW).package_path


def test_intact_package_opens_and_verifies(package: Path, keys: KeyProvider) -> None:
    assert package.name == "R-tamper.tar.age"
    assert package.read_bytes().startswith(MAGIC)
    opened = deidentify.open_extract(package, keys=keys, now=NOW)
    assert opened.table().num_rows == 3
    verified = deidentify.verify_extract(package, keys=keys, now=NOW)
    assert set(verified.files) == {"data.parquet", "data.csv", "manifest.json"}
    assert verified.manifest["files"]["data.csv"]["sha256"] == verified.files["data.csv"].sha256


def test_the_standard_age_library_opens_it_with_the_owners_key(package: Path,
                                                               keys: KeyProvider) -> None:
    """What a researcher holds: the package and the age identity (no c2c-link)."""
    identity = age_identity(keys.stored_key(extract_key_name("R-tamper"), create=False))
    plain = pyrage.decrypt(package.read_bytes(), [pyrage.x25519.Identity.from_str(identity)])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert tar.getnames() == [PACKAGE_INFO, "data.parquet", "data.csv", "manifest.json"]
        csv = tar.extractfile("data.csv")
        assert csv is not None
        opened = deidentify.open_extract(package, keys=keys, now=NOW)
        assert csv.read() == opened.files["data.csv"]


@pytest.mark.skipif(shutil.which("age") is None,
                    reason="the age command is not installed (Debian: apt-get install age)")
def test_the_age_command_and_tar_open_it_as_the_key_page_says(package: Path, keys: KeyProvider,
                                                              tmp_path: Path) -> None:
    from deidentify import key_file_text

    key = keys.stored_key(extract_key_name("R-tamper"), create=False)
    (tmp_path / "R-tamper-key.txt").write_text(key_file_text("R-tamper", key))
    shutil.copy(package, tmp_path / package.name)
    command = "age -d -i R-tamper-key.txt R-tamper.tar.age | tar -x"
    assert command in key_file_text("R-tamper", key)  # the key file says the same command
    subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=tmp_path, check=True)
    opened = deidentify.open_extract(package, keys=keys, now=NOW)
    assert (tmp_path / "data.csv").read_bytes() == opened.files["data.csv"]
    assert json.loads((tmp_path / PACKAGE_INFO).read_text())["request_id"] == "R-tamper"


def test_result_reports_the_package_digest(keys: KeyProvider, tmp_path: Path) -> None:
    table = pa.table({"county_code": ["10"], "students": [40]})
    req = request(request_id="R-digest", kind=RequestKind.AGGREGATE, variables=["gender"])
    result = deidentify.package_table(table, req, keys, tmp_path, NOW)
    data = result.package_path.read_bytes()
    assert result.package_sha256 == hashlib.sha256(data).hexdigest()
    assert result.package_bytes == len(data)


def _write(tmp_path: Path, data: bytes, name: str = "R-tamper.tar.age") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.slow
def test_flipping_any_single_bit_fails_loudly(package: Path, keys: KeyProvider,
                                              tmp_path: Path) -> None:
    original = package.read_bytes()
    for position in _flip_positions(original):
        data = bytearray(original)
        data[position] ^= 0x01
        with pytest.raises(IntegrityError_):
            deidentify.open_extract(_write(tmp_path, bytes(data)), keys=keys, now=NOW,
                                    out_dir=tmp_path / "o")
        assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def _flip_positions(original: bytes) -> list[int]:
    """Every byte of the header (stanzas, MAC), of the payload nonce and of the last chunk's
    tag; every 7th byte of the ciphertext between. The ciphertext is STREAM chunks under one
    Poly1305 tag each, so a flip anywhere in a chunk meets the same check; a flip in every one
    of its bytes cost a minute of CI and proved no more."""
    payload = original.index(b"\n", original.index(b"\n---")) + 1
    nonce_end, tag_start = payload + 16, len(original) - 16
    every = set(range(nonce_end)) | set(range(tag_start, len(original)))
    return sorted(every | set(range(nonce_end, tag_start, 7)))


def test_truncation_and_extension_fail(package: Path, keys: KeyProvider, tmp_path: Path) -> None:
    original = package.read_bytes()
    header_end = original.index(b"\n---") + 1
    variants = {
        "cut one byte": original[:-1],
        "cut in half": original[:len(original) // 2],
        "header only": original[:header_end],
        "extra byte": original + b"\x00",
        "extra block": original + original[-200:],
        "empty": b"",
    }
    for label, data in variants.items():
        with pytest.raises(IntegrityError_):
            deidentify.open_extract(_write(tmp_path, data), keys=keys, now=NOW)
            pytest.fail(label)


def test_expiry_and_request_are_read_from_inside_the_encryption(package: Path,
                                                                keys: KeyProvider,
                                                                tmp_path: Path) -> None:
    with pytest.raises(Expired):
        deidentify.open_extract(package, keys=keys, now=NOW + timedelta(days=9_000))
    verified = deidentify.verify_extract(package, keys=keys, now=NOW + timedelta(days=9_000))
    assert verified.expired  # an operator may still audit an expired package
    # Another request's name on the file: its key is not this package's key.
    other = _write(tmp_path, package.read_bytes(), "R-digest.tar.age")
    keys.stored_key(extract_key_name("R-digest"))
    with pytest.raises(IntegrityError_, match="not this package's key"):
        deidentify.open_extract(other, keys=keys, now=NOW)
    # The right key but the file renamed: refused, naming the request it holds.
    key = keys.stored_key(extract_key_name("R-tamper"), create=False)
    renamed = _write(tmp_path, package.read_bytes(), "R-other.tar.age")
    with pytest.raises(IntegrityError_, match="holds the extract of request R-tamper"):
        deidentify.open_extract(renamed, data_key=key, now=NOW)


def test_large_streams_round_trip_across_age_chunks(tmp_path: Path) -> None:
    """age seals 64 KiB chunks: sizes on, under and over a chunk, and an empty file."""
    key = secrets.token_bytes(32)
    chunk = 64 * 1024
    blobs = {"a.bin": secrets.token_bytes(chunk), "b.bin": secrets.token_bytes(chunk - 1),
             "c.bin": secrets.token_bytes(3 * chunk + 7), "empty.bin": b""}
    header = PackageHeader.new("R-stream", NOW, NOW + timedelta(days=1))
    path = tmp_path / "R-stream.tar.age"
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
    with pytest.raises(RuntimeError), write_package(tmp_path / "f.tar.age", bytes(32),
                                                    header) as w:
        w.add_bytes("data.csv", b"a,b\n")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ keys
KEY = bytes(range(32))


def test_the_age_identity_is_the_data_key_in_bech32() -> None:
    identity = age_identity(KEY)
    assert identity.startswith("AGE-SECRET-KEY-1") and len(identity) == 74
    assert identity_key(identity) == KEY
    assert identity_key(identity.lower()) == KEY
    pyrage.x25519.Identity.from_str(identity)  # age itself accepts it
    mistyped = identity[:-1] + ("Q" if identity[-1] != "Q" else "P")
    with pytest.raises(ValueError, match="checksum"):
        identity_key(mistyped)
    with pytest.raises(ValueError, match="not an age identity"):
        identity_key("AGE-PLUGIN-X-1QQQQQQQ")


def test_key_files_the_portal_and_api_give_are_read(tmp_path: Path) -> None:
    from deidentify import key_file_text, read_key_file

    (tmp_path / "k.txt").write_text(key_file_text("R-1", KEY, "2027-01-01"))
    assert read_key_file(tmp_path / "k.txt") == KEY
    (tmp_path / "k.json").write_text(json.dumps({"age_identity": age_identity(KEY)}))
    assert read_key_file(tmp_path / "k.json") == KEY
    (tmp_path / "bad.txt").write_text(age_identity(KEY)[:-2] + "\n")
    with pytest.raises(InputRejected, match="checksum"):
        read_key_file(tmp_path / "bad.txt")


# ------------------------------------------------- archives that authenticate but are wrong
def _sealed(tmp_path: Path, members: list[tuple[str, bytes, bytes]],
            name: str = "R-rec.tar.age") -> Path:
    """A package that decrypts with KEY but holds whatever ``members`` say (name, type,
    bytes): what a buggy or hostile writer holding the key could produce."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, kind, data in members:
            info = tarfile.TarInfo(member)
            info.type, info.size = kind, len(data) if kind == tarfile.REGTYPE else 0
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    recipient = pyrage.x25519.Identity.from_str(age_identity(KEY)).to_public()
    return _write(tmp_path, pyrage.encrypt(raw.getvalue(), [recipient]), name)


INFO = (PACKAGE_INFO, tarfile.REGTYPE, PackageHeader.new(
    "R-rec", NOW, NOW + timedelta(days=1)).encode())
CSV = ("a.csv", tarfile.REGTYPE, b"x")


@pytest.mark.parametrize(("label", "members", "message"), [
    ("no package.json first", [CSV, INFO], "does not start with package.json"),
    ("path in a name", [INFO, ("../a.csv", tarfile.REGTYPE, b"x")], "names a file it may not"),
    ("repeated name", [INFO, CSV, CSV], "names a file it may not"),
    ("a link", [INFO, ("a.csv", tarfile.SYMTYPE, b"")], "names a file it may not"),
    ("unreadable package.json", [(PACKAGE_INFO, tarfile.REGTYPE, b"{")], "package.json"),
    ("package.json of format 1", [(PACKAGE_INFO, tarfile.REGTYPE, json.dumps(
        {**json.loads(INFO[2]), "version": 1}).encode())], "no readable package.json"),
    ("package.json of another format", [(PACKAGE_INFO, tarfile.REGTYPE, json.dumps(
        {**json.loads(INFO[2]), "format": "other"}).encode())], "no readable package.json"),
])
def test_authenticated_but_malformed_archives_are_refused(
    label: str, members: list[tuple[str, bytes, bytes]], message: str, tmp_path: Path
) -> None:
    path = _sealed(tmp_path, members)
    with pytest.raises(IntegrityError_, match=message):
        deidentify.open_extract(path, data_key=KEY, now=NOW, out_dir=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # nothing unauthenticated is left


def test_not_a_tar_inside_is_refused(tmp_path: Path) -> None:
    recipient = pyrage.x25519.Identity.from_str(age_identity(KEY)).to_public()
    path = _write(tmp_path, pyrage.encrypt(b"plain text, not an archive", [recipient]))
    with pytest.raises(IntegrityError_, match="not a readable archive|package.json"):
        deidentify.open_extract(path, data_key=KEY, now=NOW)


def test_package_file_names_must_be_plain_and_unique(tmp_path: Path) -> None:
    header = PackageHeader.new("R-names", NOW, NOW + timedelta(days=1))
    with write_package(tmp_path / "n.tar.age", KEY, header) as writer:
        writer.add_bytes("a.csv", b"1")
        for bad in ("a.csv", "../a.csv", ".hidden", "a" * 129, "", PACKAGE_INFO):
            with pytest.raises(ValueError, match="bad or repeated package file name"):
                writer.add_bytes(bad, b"2")
        writer.add_bytes("a" * 128, b"3")  # the longest name allowed


def test_an_entry_is_a_write_only_stream_with_a_position(tmp_path: Path) -> None:
    """What pyarrow's writers may ask of the file object they write to."""
    header = PackageHeader.new("R-sink", NOW, NOW + timedelta(days=1))
    path = tmp_path / "R-sink.tar.age"
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
    path = tmp_path / "R-man.tar.age"
    with write_package(path, KEY, header) as writer:
        writer.add_bytes("data.csv", b"a,b\n1,2\n")
        if manifest is not None:
            writer.add_bytes("manifest.json", manifest)
    return path


def _listing(request_id: str, sha256: str, size: int) -> bytes:
    return json.dumps({"request_id": request_id,
                       "files": {"data.csv": {"sha256": sha256, "bytes": size}}}).encode()


def test_manifest_problems_are_integrity_errors(tmp_path: Path) -> None:
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
        deidentify.open_extract(tmp_path / "absent.tar.age", data_key=KEY, now=NOW)


def test_a_received_file_may_be_closed_twice() -> None:
    """io's contract: a second close() does nothing (the bytes stay as first closed)."""
    from deidentify.opening import _MemoryReceiver

    receiver = _MemoryReceiver()
    handle = receiver.begin("data.csv")
    handle.write(b"a,b\n")
    handle.close()
    handle.close()
    assert receiver.read("data.csv") == b"a,b\n"


# ------------------------------------------------------------------ what age itself refuses
def _bech32(hrp: str, groups: list[int]) -> str:
    """BIP 173 encoding with a valid checksum over any 5-bit groups, written apart from the
    package module: a key file whose checksum matches but whose contents age refuses."""
    def polymod(values: list[int]) -> int:
        check = 1
        for value in values:
            top, check = check >> 25, (check & 0x1FFFFFF) << 5 ^ value
            for i, g in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
                check ^= g if (top >> i) & 1 else 0
        return check

    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    check = polymod(expanded + groups + [0] * 6) ^ 1
    groups = groups + [(check >> 5 * (5 - i)) & 31 for i in range(6)]
    return (hrp + "1" + "".join("qpzry9x8gf2tvdw0s3jn54khce6mua7l"[g] for g in groups)).upper()


def _groups(data: bytes) -> list[int]:
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return [int(bits[i:i + 5], 2) for i in range(0, len(bits), 5)]


@pytest.mark.parametrize(("label", "groups", "message"), [
    ("padding bits set", [*_groups(KEY)[:-1], _groups(KEY)[-1] | 1], "left-over bits"),
    ("a character dropped", _groups(KEY)[:-1], "left-over bits"),
    ("a 16-byte key", _groups(KEY[:16]), "does not hold a 32-byte key"),
])
def test_identities_age_refuses_are_refused_with_the_reason(
    label: str, groups: list[int], message: str, tmp_path: Path
) -> None:
    """Checksum right, key wrong: refused by the key-file reader, as by age itself."""
    from deidentify import read_key_file

    identity = _bech32("age-secret-key-", groups)
    with pytest.raises(ValueError, match=message):
        identity_key(identity)
    (tmp_path / "key.txt").write_text(identity + "\n")
    with pytest.raises(InputRejected, match=message) as caught:
        read_key_file(tmp_path / "key.txt")
    assert "key.txt" in str(caught.value)  # the file is named
    if shutil.which("age"):  # the researcher's tool agrees
        refused = subprocess.run(["age", "-d", "-i", str(tmp_path / "key.txt"), "/dev/null"],
                                 capture_output=True, text=True)
        assert refused.returncode != 0 and "malformed secret key" in refused.stderr, label
    assert identity_key(_bech32("age-secret-key-", _groups(KEY))) == KEY  # the writer is right


def test_a_data_key_of_another_length_has_no_identity() -> None:
    for wrong in (KEY[:16], KEY + b"\x00", b""):
        with pytest.raises(KeyError_, match="32 bytes"):
            age_identity(wrong)


# ------------------------------------------------------- the encrypting side failing midway
@pytest.mark.parametrize("size", [100, 3 * 64 * 1024])
def test_a_write_that_fails_on_disk_is_reported_and_leaves_nothing(tmp_path: Path,
                                                                  size: int) -> None:
    """The file may not grow past 1 KiB (as on a full disk): age's thread fails writing.
    A small package fails when it is finished (the thread writes at the end), a large one
    while the tar side is still writing into the pipe; either way the error says what
    failed and no partial file is left."""
    header = PackageHeader.new("R-full", NOW, NOW + timedelta(days=1))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))  # CPython ignores SIGXFSZ
    try:
        with pytest.raises(KeyError_, match="encrypting the extract package failed"), \
                write_package(tmp_path / "R-full.tar.age", KEY, header) as writer:
            writer.add_bytes("data.bin", secrets.token_bytes(size))
            writer.add_bytes("manifest.json", b"{}")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------- reading authenticates to the end
def _with_trailer(tmp_path: Path) -> Path:
    """A package whose tar ends in age's first 64 KiB chunk, followed by a second chunk of
    zero records (a tar written with a larger blocking factor): authenticated like the rest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, _kind, data in (INFO, CSV):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue() + bytes(70 * 1024)
    recipient = pyrage.x25519.Identity.from_str(age_identity(KEY)).to_public()
    return _write(tmp_path, pyrage.encrypt(plain, [recipient]), "R-rec.tar.age")


def test_bytes_after_the_archive_are_read_and_authenticated(tmp_path: Path) -> None:
    path = _with_trailer(tmp_path)
    with pytest.raises(IntegrityError_, match="no readable manifest.json"):
        deidentify.open_extract(path, data_key=KEY, now=NOW)  # it decrypts; no manifest
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # the second chunk's tag: every file was read before it fails
    damaged = _write(tmp_path, bytes(data), "R-rec.tar.age")
    with pytest.raises(IntegrityError_, match="did not decrypt"):
        deidentify.open_extract(damaged, data_key=KEY, now=NOW, out_dir=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
