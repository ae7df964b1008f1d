"""Keyring robustness added with the extracts: parallel writers, interrupted rotation."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest
from deid_support import make_keys

from core.errors import IntegrityError_, KeyError_
from core.keys import KeyProvider, create_master_key, read_master_key


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
