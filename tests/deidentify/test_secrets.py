"""No key ever appears in an error message, an exception chain, a repr, a log or CLI output."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import deidentify
from cli.main import app
from core.errors import C2CError
from core.keys import KeyProvider, read_master_key
from core.requests import RequestKind
from core.warehouse import connect_encrypted
from tests.deid_support import NOW, make_keys, request


def _forms(key: bytes) -> list[str]:
    """Ways a key could be printed: hex (both cases), base64, urlsafe base64, bytes repr."""
    return [key.hex(), key.hex().upper(), base64.b64encode(key).decode(),
            base64.urlsafe_b64encode(key).decode(), repr(key)[2:-1]]


def _everything_printed(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[KeyProvider, Path, list[bytes]]:
    keys = make_keys(tmp_path)
    table = pa.table({"county_code": ["10"], "students": [40]})
    req = request(request_id="R-s", kind=RequestKind.AGGREGATE, variables=["gender"],
                  expires_at=NOW + timedelta(days=1))
    package = deidentify.package_table(table, req, keys, tmp_path / "out", NOW).package_path
    secrets_ = [
        read_master_key(tmp_path / "master.key"),
        keys.derive("warehouse-encryption"),
        deidentify.extract_data_key(keys, "R-s"),
        keys.derive("pseudonym:R-s"),
    ]
    return keys, package, secrets_


def test_errors_never_carry_key_material(setup: tuple[KeyProvider, Path, list[bytes]],
                                         tmp_path: Path, caplog: pytest.LogCaptureFixture
                                         ) -> None:
    keys, package, secrets_ = setup
    wrong = bytes(range(32))
    secrets_.append(wrong)

    tampered = tmp_path / "tampered" / "R-s.tar.age"
    tampered.parent.mkdir()
    data = bytearray(package.read_bytes())
    data[-3] ^= 0xFF
    tampered.write_bytes(bytes(data))
    short_key = tmp_path / "short.key"
    short_key.write_text(base64.b64encode(secrets_[2][:31]).decode())
    corrupt_master = tmp_path / "corrupt" / "master.key"
    corrupt_master.parent.mkdir()
    corrupt_master.write_text(base64.b64encode(secrets_[0]).decode()[:-3] + "!!!")
    ring = json.loads((tmp_path / "keyring.json").read_text())
    ring["extract:R-s"] = ring["extract:R-s"][:-4] + "AAAA"
    (tmp_path / "broken.json").write_text(json.dumps(ring))
    broken = KeyProvider(tmp_path / "master.key", tmp_path / "broken.json")

    provocations: list[Callable[[], object]] = [
        lambda: deidentify.open_extract(package, data_key=wrong, now=NOW),
        lambda: deidentify.open_extract(package, data_key=secrets_[2][:16], now=NOW),
        lambda: deidentify.open_extract(tampered, keys=keys, now=NOW),
        lambda: deidentify.open_extract(package, keys=keys, now=NOW + timedelta(days=2)),
        lambda: deidentify.read_key_file(short_key),
        lambda: read_master_key(corrupt_master),
        lambda: broken.stored_key("extract:R-s"),
        lambda: connect_encrypted(tmp_path / "w.duckdb", keys.warehouse_key_hex()).close()
        or connect_encrypted(tmp_path / "w.duckdb", wrong.hex()),
    ]
    caplog.set_level(logging.DEBUG)
    for provoke in provocations:
        with pytest.raises(C2CError) as caught:
            provoke()
        printed = _everything_printed(caught.value)
        for secret in secrets_:
            for form in _forms(secret):
                assert form not in printed, f"key material in: {caught.value!r}"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_:
        for form in _forms(secret):
            assert form not in logged


def test_reprs_and_results_carry_no_key(setup: tuple[KeyProvider, Path, list[bytes]]) -> None:
    keys, package, secrets_ = setup
    opened = deidentify.open_extract(package, keys=keys, now=NOW)
    verified = deidentify.verify_extract(package, keys=keys, now=NOW)
    shown = " ".join([repr(keys), repr(keys.status()),
                      repr(verified), repr(opened.manifest), str(opened.manifest)])
    for secret in secrets_:
        for form in _forms(secret):
            assert form not in shown
    assert b"".join(secrets_) and not any(s in package.read_bytes() for s in secrets_)


def test_cli_output_carries_no_key(tmp_path: Path) -> None:
    env = {"C2C_HOME": str(tmp_path)}
    runner = CliRunner()
    outputs = [runner.invoke(app, ["keys", command], env=env).output
               for command in ("init", "status", "rotate", "status")]
    keys = KeyProvider(tmp_path / "master.key", tmp_path / "keyring.json")
    secrets_ = [read_master_key(tmp_path / "master.key"), keys.derive("warehouse-encryption")]
    for output in outputs:
        for secret in secrets_:
            for form in _forms(secret):
                assert form not in output
