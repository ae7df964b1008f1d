"""A small deployment for the Dagster tests: generated landing tree, master key, partners."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.keys import create_master_key
from core.requests import RequestKind
from core.settings import Settings
from dagster_project.resources import (
    GovernanceResource,
    KeysResource,
    WarehouseResource,
    deployment_resources,
)
from governance import request_lifecycle as gr
from governance.db import upgrade
from governance.partners import import_partners_csv
from governance.request_inputs import RequestInput
from governance.request_lifecycle import Decision
from governance.users import Role, create_user
from synth import generate_small
from tests.governance_fixtures import clear_provider_review


@dataclass
class Deployment:
    resources: dict[str, Any]  # what build_definitions and the sensor contexts take
    home: Path
    landing: Path

    def settings(self) -> Settings:
        return self.resources["deployment"].settings()  # type: ignore[no-any-return]

    @property
    def warehouse(self) -> WarehouseResource:
        return self.resources["warehouse"]  # type: ignore[no-any-return]

    @property
    def keys(self) -> KeysResource:
        return self.resources["keys"]  # type: ignore[no-any-return]

    @property
    def governance(self) -> GovernanceResource:
        return self.resources["governance"]  # type: ignore[no-any-return]


def make_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, data: bool) -> Deployment:
    home, landing = tmp_path / "home", tmp_path / "landing"
    home.mkdir()
    landing.mkdir()
    monkeypatch.setenv("C2C_LANDING_DIR", str(landing))
    for name in ("C2C_MASTER_KEY_FILE", "C2C_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    create_master_key(home / "master.key")
    dep = Deployment(deployment_resources(home=str(home)), home, landing)
    upgrade(dep.settings().governance_url)  # what `c2c migrate` does on a deployment
    if data:
        generate_small(landing, seed=7)
        (landing / "truth.parquet").rename(tmp_path / "truth.parquet")
        with dep.governance.session() as session:
            import_partners_csv(session, landing / "partners.csv")
            session.commit()
    return dep


def submitted_request(dep: Deployment, *, approvals: int) -> tuple[str, list[int]]:
    """An aggregate request submitted by a researcher and approved by ``approvals`` of two
    board members (quorum two). Returns the request id and both board members' user ids."""
    with dep.governance.session() as session:
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
