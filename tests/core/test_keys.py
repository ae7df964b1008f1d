"""Key provider: creation, wrapping, derivation, rotation without re-encrypting data."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.errors import IntegrityError_, KeyError_
from core.keys import KeyProvider, create_master_key, read_master_key


def make_provider(tmp_path: Path) -> KeyProvider:
    create_master_key(tmp_path / "master.key")
    return KeyProvider(tmp_path / "master.key", tmp_path / "keyring.json")


def test_master_key_file_is_owner_only_and_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(KeyError_):
        create_master_key(path)
    assert path.read_bytes() == before


def test_missing_master_key_is_a_clear_error(tmp_path: Path) -> None:
    provider = KeyProvider(tmp_path / "absent.key", tmp_path / "keyring.json")
    with pytest.raises(KeyError_, match="c2c keys init"):
        provider.derive("warehouse-encryption")


def test_derived_keys_are_stable_and_differ_by_purpose(tmp_path: Path) -> None:
    provider = make_provider(tmp_path)
    first = provider.derive("pseudonym:R1")
    assert provider.derive("pseudonym:R1") == first
    assert provider.derive("pseudonym:R2") != first
    assert len(provider.warehouse_key_hex()) == 64


def test_rotation_rewraps_without_changing_data_keys(tmp_path: Path) -> None:
    provider = make_provider(tmp_path)
    warehouse_key = provider.warehouse_key_hex()
    extract_key = provider.stored_key("extract:R1")
    old_master = read_master_key(tmp_path / "master.key")

    rewrapped = provider.rotate_master_key()

    assert rewrapped == 2
    assert read_master_key(tmp_path / "master.key") != old_master
    assert provider.warehouse_key_hex() == warehouse_key
    assert provider.stored_key("extract:R1", create=False) == extract_key
    assert not list(tmp_path.glob("*.next"))


def test_keyring_under_wrong_master_key_fails_loudly(tmp_path: Path) -> None:
    provider = make_provider(tmp_path)
    provider.stored_key("extract:R1")
    (tmp_path / "master.key").unlink()
    create_master_key(tmp_path / "master.key")
    with pytest.raises(IntegrityError_):
        provider.stored_key("extract:R1")


def test_key_material_never_in_repr(tmp_path: Path) -> None:
    provider = make_provider(tmp_path)
    key_hex = provider.warehouse_key_hex()
    assert key_hex not in repr(provider)
