"""A small deployment for the Dagster tests: generated landing tree, master key, partners."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from core.keys import create_master_key
from dagster_project.resources import C2CResource
from governance.partners import import_partners_csv
from synth import generate_small


@dataclass
class Deployment:
    c2c: C2CResource
    home: Path
    landing: Path


def make_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, data: bool) -> Deployment:
    home, landing = tmp_path / "home", tmp_path / "landing"
    home.mkdir()
    landing.mkdir()
    monkeypatch.setenv("C2C_LANDING_DIR", str(landing))
    for name in ("C2C_MASTER_KEY_FILE", "C2C_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    create_master_key(home / "master.key")
    c2c = C2CResource(home=str(home))
    if data:
        generate_small(landing, seed=7)
        (landing / "truth.parquet").rename(tmp_path / "truth.parquet")
        with c2c.governance() as session:
            import_partners_csv(session, landing / "partners.csv")
            session.commit()
    return Deployment(c2c, home, landing)
