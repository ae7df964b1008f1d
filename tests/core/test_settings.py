"""Settings: C2C_ prefix, C2C_HOME default, every path derived from home unless set."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings


def test_defaults_live_under_dot_c2c(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("C2C_HOME", "C2C_MASTER_KEY_FILE", "C2C_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.resolved_home == tmp_path / ".c2c"
    assert settings.warehouse_path == tmp_path / ".c2c" / "warehouse.duckdb"
    assert settings.governance_url == f"sqlite:///{tmp_path / '.c2c' / 'governance.db'}"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("C2C_HOME", str(tmp_path / "svc"))
    monkeypatch.setenv("C2C_MASTER_KEY_FILE", str(tmp_path / "k" / "master.key"))
    monkeypatch.setenv("C2C_BOARD_QUORUM", "3")
    settings = Settings()
    assert settings.raw_dir == tmp_path / "svc" / "raw"
    assert settings.master_key_path == tmp_path / "k" / "master.key"
    assert settings.board_quorum == 3


def test_warehouse_spill_folder_is_per_process_and_stale_ones_go(tmp_path: Path) -> None:
    import os

    from core.warehouse import process_temp_dir

    stale = tmp_path / "duckdb-999999999"  # no such process
    stale.mkdir()
    (stale / "spill.tmp").write_bytes(b"x")
    own = process_temp_dir(tmp_path)
    assert own == tmp_path / f"duckdb-{os.getpid()}"
    assert own.is_dir() and not stale.exists()
