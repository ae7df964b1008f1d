"""Keyring robustness added with the extracts: parallel writers, interrupted rotation."""

from __future__ import annotations

import base64
import json
import multiprocessing
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

import deidentify
from core.errors import InputRejected, IntegrityError_, KeyError_
from core.keys import KeyProvider, create_master_key, read_master_key
from core.requests import RequestKind
from deidentify.keyfiles import read_key_file, write_key_file
from tests.deid_support import NOW, make_keys, request


def _make_many(root: str, prefix: str) -> None:
    keys = KeyProvider(Path(root) / "master.key", Path(root) / "keyring.json")
    for i in range(25):
        keys.stored_key(f"extract:{prefix}-{i}")


def test_parallel_processes_do_not_lose_each_others_keys(tmp_path: Path) -> None:
    make_keys(tmp_path)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_make_many, args=(str(tmp_path), p)) for p in "AB"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    names = KeyProvider(tmp_path / "master.key", tmp_path / "keyring.json").key_names()
    assert len([n for n in names if n.startswith("extract:")]) == 50


def test_rotation_interrupted_after_the_keyring_was_saved_is_finished(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    extract_key = keys.stored_key("extract:R1")
    old_master = (tmp_path / "master.key").read_bytes()
    keys.rotate_master_key()
    # Recreate the moment before the final rename: new key still in ".next".
    shutil.move(tmp_path / "master.key", tmp_path / "master.key.next")
    (tmp_path / "master.key").write_bytes(old_master)
    assert keys.stored_key("extract:R1", create=False) == extract_key
    assert not (tmp_path / "master.key.next").exists()
    assert (tmp_path / "master.key").read_bytes() != old_master


def test_rotation_interrupted_before_the_keyring_was_saved_is_discarded(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    extract_key = keys.stored_key("extract:R1")
    create_master_key(tmp_path / "master.key.next")  # written, keyring not yet re-wrapped
    assert keys.stored_key("extract:R1", create=False) == extract_key
    assert not (tmp_path / "master.key.next").exists()


def test_damaged_keyring_and_master_key_are_clear_errors(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    keys.stored_key("extract:R1")
    (tmp_path / "keyring.json").write_text("{not json")
    with pytest.raises(IntegrityError_, match="not valid JSON"):
        keys.stored_key("extract:R1")
    (tmp_path / "master.key").write_text("@@@@\n")
    with pytest.raises(KeyError_, match="not valid base64"):
        read_master_key(tmp_path / "master.key")


def test_status_reports_permissions_and_unreadable_entries(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    keys.warehouse_key_hex()
    keys.stored_key("extract:R1")
    status = keys.status()
    assert status.master_key_private and status.master_key_mode == 0o600
    assert status.entries == ("extract:R1", "root_data_key") and not status.unreadable_entries
    (tmp_path / "master.key").unlink()
    create_master_key(tmp_path / "master.key")
    (tmp_path / "master.key").chmod(0o644)
    status = keys.status()
    assert not status.master_key_private
    assert status.unreadable_entries == ("extract:R1", "root_data_key")


# ------------------------------------------------------ key files (c2c extract decrypt --key-file)
def test_key_files_in_every_form_are_read(tmp_path: Path) -> None:
    from deidentify.package import age_identity

    key = bytes(range(32))
    write_key_file(tmp_path / "R1-key.txt", key, "R1")  # an age identity file
    assert read_key_file(tmp_path / "R1-key.txt") == key
    assert age_identity(key) in (tmp_path / "R1-key.txt").read_text()
    saved = tmp_path / "response.json"  # the API's key response, saved as is
    saved.write_text(json.dumps({"request_id": "R1", "age_identity": age_identity(key)}))
    assert read_key_file(saved) == key
    (tmp_path / "bare.key").write_text(base64.b64encode(key).decode())
    assert read_key_file(tmp_path / "bare.key") == key


@pytest.mark.parametrize(("content", "message"), [
    (b'{"key": "abc"}', "JSON without an age_identity field"),
    (b'{"age_identity": 5}', "JSON without an age_identity field"),
    (b'{not json', "JSON without an age_identity field"),
    (b"not base64!", "neither an age identity (AGE-SECRET-KEY-1...) nor base64 text"),
    (base64.b64encode(bytes(31)), "does not hold a 32-byte extract key"),
    (base64.b64encode(bytes(33)), "does not hold a 32-byte extract key"),
])
def test_bad_key_files_name_the_file_and_the_problem(content: bytes, message: str,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "r.key"
    path.write_bytes(content)
    with pytest.raises(InputRejected) as caught:
        read_key_file(path)
    assert str(caught.value) == f"{path}, field key: {message}"


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputRejected, match="no such key file") as caught:
        read_key_file(tmp_path / "absent.key")
    assert str(tmp_path / "absent.key") in str(caught.value)


def test_opening_without_keyring_or_data_key_says_what_is_needed(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    req = request(request_id="R-nokey", kind=RequestKind.AGGREGATE, variables=["gender"])
    package = deidentify.package_table(pa.table({"students": [40]}), req, keys, tmp_path, NOW)
    with pytest.raises(KeyError_, match="needs the keyring or the extract's data key"):
        deidentify.open_extract(package.package_path, now=NOW)
