"""The state's partner registry (2,493 partners) through the batched import and the paged list."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from core.partners import AgreementStatus
from governance import partners as gp
from synth.orgs import write_partners
from synth.world import state_world


def test_state_registry_imports_once_and_pages(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = state_world()
    path = tmp_path / "partners.csv"
    rows = write_partners(path, world.leas, world.colleges, world.silent)
    assert rows == 2493
    with sessions.begin() as s:
        imported = gp.import_partners_csv(s, path)
    assert len(imported) == rows and [p.org_code for p in imported][:1] == [world.leas[0].code]
    with sessions.begin() as s:  # re-import: nothing changed, so no new agreement versions
        gp.import_partners_csv(s, path)
        agreements = s.execute(sa.text("SELECT count(*) FROM agreements")).scalar_one()
    assert agreements == rows
    with sessions() as s:
        total, first = gp.list_partners_page(s, limit=1000, offset=0)
        _, last = gp.list_partners_page(s, limit=1000, offset=2000)
        everyone = gp.list_partners(s)
    assert total == rows and len(first) == 1000 and len(last) == rows - 2000
    codes = [p.org_code for p in first + last]
    assert codes == sorted(codes)
    assert [p.org_code for p in everyone] == sorted(p.org_code for p in everyone)
    assert all(p.agreement_status == AgreementStatus.EXECUTED for p in everyone)


def test_changed_agreement_in_a_batch_import_adds_one_version(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "partners.csv"
    write_partners(path)  # the small world's registry
    with sessions.begin() as s:
        gp.import_partners_csv(s, path)
    text = path.read_text(encoding="utf-8").replace(
        "0161119,Bayview Unified School District,lea,false,executed,2021-07-01,",
        "0161119,Bayview Unified School District,lea,false,expired,2021-07-01,2024-06-30")
    path.write_text(text, encoding="utf-8")
    with sessions.begin() as s:
        gp.import_partners_csv(s, path)
    with sessions() as s:
        bayview = gp.get_partner(s, "0161119")
        versions = s.execute(sa.text(
            "SELECT count(*) FROM agreements WHERE org_code = '0161119'")).scalar_one()
    assert bayview.agreement_status == AgreementStatus.EXPIRED and versions == 2
