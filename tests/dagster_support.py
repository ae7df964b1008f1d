"""A small deployment for the Dagster tests: generated landing tree, master key, partners."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from governance_fixtures import clear_provider_review
from sqlalchemy.orm import Session

from core.keys import create_master_key
from core.requests import RequestKind
from dagster_project.resources import C2CResource
from governance import request_lifecycle as gr
from governance.db import upgrade
from governance.partners import import_partners_csv
from governance.request_inputs import RequestInput
from governance.request_lifecycle import Decision
from governance.users import Role, create_user
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
    upgrade(c2c.settings().governance_url)  # what `c2c migrate` does on a deployment
    if data:
        generate_small(landing, seed=7)
        (landing / "truth.parquet").rename(tmp_path / "truth.parquet")
        with c2c.governance() as session:
            import_partners_csv(session, landing / "partners.csv")
            session.commit()
    return Deployment(c2c, home, landing)


def submitted_request(c2c: C2CResource, *, approvals: int) -> tuple[str, list[int]]:
    """An aggregate request submitted by a researcher and approved by ``approvals`` of two
    board members (quorum two). Returns the request id and both board members' user ids."""
    with c2c.governance() as session:
        researcher = create_user(session, "r", [Role.RESEARCHER], None)
        board = [create_user(session, f"b{i}", [Role.BOARD], None).id for i in (1, 2)]
        request = gr.create_request(session, researcher.id, RequestInput(
            kind=RequestKind.AGGREGATE, title="Graduation by gender",
            purpose="High school graduation gaps by gender.",
            variables=["hs_graduate"], group_by=["gender"]))
        gr.submit_request(session, request.id, researcher.id)
        clear_provider_review(session, request.id)
        for member in board[:approvals]:
            approve(session, request.id, member)
        session.commit()
        return request.id, board


def approve(session: Session, request_id: str, board_member: int) -> None:
    gr.decide(session, request_id, board_member, Decision.APPROVE, "fits", quorum=2,
              default_days=30)
