"""The warehouse is encrypted at rest: no plaintext identifier on disk, no open without the key."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.errors import KeyError_
from core.warehouse import connect_encrypted
from tests.deid_support import make_keys

# Planted identifiers (synthetic, describe no one), each distinctive enough to grep for.
NAMES = ["Xochitlquetzal", "Zbigniewska", "Oluwaseunfemi"]
SSIDS = ["8817263540", "9928374651"]
DOBS = ["2008-03-17", "20070921"]
SSN = "572-19-8830"
ADDRESS = "4417 Quetzalcoatl Boulevard"


def _planted() -> list[str]:
    return [*NAMES, *SSIDS, *DOBS, SSN, ADDRESS]


def _write_identities(path: Path, key_hex: str, tmp: Path) -> None:
    con = connect_encrypted(path, key_hex, temp_dir=tmp)
    try:
        con.execute("CREATE SCHEMA staging")
        con.execute(
            "CREATE TABLE staging.identities (first_name VARCHAR, last_name VARCHAR, ssid VARCHAR,"
            " dob VARCHAR, ssn VARCHAR, address VARCHAR)"
        )
        # Many copies so the values fill whole blocks, as a real table would.
        con.execute(
            "INSERT INTO staging.identities SELECT $names[1 + range % 3], $names[1 + (range + 1)"
            " % 3], $ssids[1 + range % 2], $dobs[1 + range % 2], $ssn, $address FROM range(2000)",
            {"names": NAMES, "ssids": SSIDS, "dobs": DOBS, "ssn": SSN, "address": ADDRESS},
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("wh")
    keys = make_keys(root)
    path = root / "warehouse.duckdb"
    _write_identities(path, keys.warehouse_key_hex(), root / "tmp")
    return root, path


def _on_disk_bytes(root: Path) -> bytes:
    """Every file under the home: database, WAL, temp files, keyring."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_plaintext_identifier_in_any_file_after_checkpoint(warehouse: tuple[Path, Path]) -> None:
    root, path = warehouse
    assert path.stat().st_size > 0
    data = _on_disk_bytes(root)
    for value in _planted():
        assert value.encode() not in data, f"{value!r} found in plaintext on disk"
        assert value.encode("utf-16-le") not in data


def test_control_same_rows_unencrypted_are_visible(tmp_path: Path) -> None:
    """The grep above can fail: an unencrypted database holds the values in clear."""
    con = duckdb.connect(str(tmp_path / "plain.duckdb"))
    con.execute("CREATE TABLE t (first_name VARCHAR, ssid VARCHAR)")
    con.execute("INSERT INTO t SELECT ?, ? FROM range(2000)", [NAMES[0], SSIDS[0]])
    con.execute("CHECKPOINT")
    con.close()
    data = (tmp_path / "plain.duckdb").read_bytes()
    assert NAMES[0].encode() in data and SSIDS[0].encode() in data


def test_cannot_open_without_the_key(warehouse: tuple[Path, Path], tmp_path: Path) -> None:
    root, path = warehouse
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(path), read_only=True).execute(
            "SELECT * FROM staging.identities"
        ).fetchall()
    wrong = make_keys(tmp_path).warehouse_key_hex()
    with pytest.raises(KeyError_) as caught:
        connect_encrypted(path, wrong, read_only=True)
    assert wrong not in str(caught.value)


def test_rotation_keeps_the_warehouse_openable(warehouse: tuple[Path, Path]) -> None:
    root, path = warehouse
    from core.keys import KeyProvider

    keys = KeyProvider(root / "master.key", root / "keyring.json")
    before = (root / "master.key").read_bytes()
    assert keys.rotate_master_key() >= 1
    assert (root / "master.key").read_bytes() != before
    con = connect_encrypted(path, keys.warehouse_key_hex(), read_only=True)
    try:
        rows = con.execute("SELECT count(*), min(ssid) FROM staging.identities").fetchone()
    finally:
        con.close()
    assert rows == (2000, SSIDS[0])
