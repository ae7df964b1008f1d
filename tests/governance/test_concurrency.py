"""Two board members approving at the same moment: exactly one approval and one fulfilment job."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from core.errors import C2CError
from governance import audit
from governance import partners as gp
from governance import request_lifecycle as gr
from governance import users as gu
from governance.request_inputs import RequestInput
from tests.governance_fixtures import clear_provider_review, write_partners_csv


def _race(sessions: sessionmaker[Session], rid: str, members: list[int],
          quorum: int) -> list[str]:
    barrier = threading.Barrier(len(members))
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(member: int) -> None:
        barrier.wait()
        with sessions() as s:
            try:
                with audit.audited(s, actor=str(member), role="board", action="request.decide",
                                   target=rid):
                    gr.decide(s, rid, member, "approve", "looks right", quorum=quorum)
                result = "ok"
            except C2CError as error:
                result = error.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=approve, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.parametrize("quorum", [1, 2])
@pytest.mark.parametrize("round_", range(3))
def test_concurrent_approvals_give_exactly_one_fulfilment_job(
    sessions: sessionmaker[Session], tmp_path: Path, quorum: int, round_: int
) -> None:
    with sessions.begin() as s:
        gp.import_partners_csv(s, write_partners_csv(tmp_path / "p.csv"))
        res = gu.create_user(s, "res", ["researcher"]).id
        members = [gu.create_user(s, f"b{i}", ["board"]).id for i in range(2)]
        rid = gr.create_request(s, res, RequestInput.model_validate({
            "kind": "aggregate", "title": "Race", "purpose": "Concurrency of approvals",
            "variables": ["hs_graduate"]})).id
        gr.submit_request(s, rid, res)
        clear_provider_review(s, rid)

    outcomes = _race(sessions, rid, members, quorum)

    with sessions() as s:
        jobs = s.execute(sa.text("SELECT count(*) FROM fulfilment_jobs")).scalar_one()
        status = gr.own_request(s, rid, res).status
        ready = gr.requests_ready_for_fulfilment(s)
        assert audit.verify(s).ok
        entries = audit.verify(s).entries
    assert jobs == 1
    assert status == "approved"
    assert [r.request_id for r in ready] == [rid]
    assert entries == 2  # both attempts audited, chain intact
    # quorum 2: both approvals count; quorum 1: the second finds the request already approved
    assert outcomes == (["ok", "ok"] if quorum == 2 else ["conflict", "ok"])
