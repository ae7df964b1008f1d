"""Clerical review from the CLI: list (field agreement for anyone, identities for a reviewer,
audited), decide, and the decision used by the next link run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import linkage
from cli.main import app
from core.errors import PermissionDenied
from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from core.warehouse import connect_encrypted, warehouse
from governance.db import session_factory
from governance.models import AuditEntry
from governance.users import Role, create_user, issue_key
from tests.link_fixtures import make_population, write_staging

runner = CliRunner()


@pytest.mark.slow
def test_review_list_decide_and_next_run_uses_the_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("C2C_HOME", str(home))
    for name in ("C2C_MASTER_KEY_FILE", "C2C_DATABASE_URL", "C2C_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # a wide review band so this small population surely queues pairs
    monkeypatch.setenv("C2C_REVIEW_LOWER_THRESHOLD", "0.001")
    monkeypatch.setenv("C2C_LINK_MATCH_THRESHOLD", "0.999")
    settings = Settings()
    create_master_key(settings.master_key_path)
    key = KeyProvider(settings.master_key_path, settings.keyring_path).warehouse_key_hex()
    people = make_population(120, seed=5, twins=3, second_ssid=2)
    con = connect_encrypted(settings.warehouse_path, key, temp_dir=settings.tmp_dir)
    write_staging(con, people)
    con.close()
    with warehouse(settings) as con:
        first = linkage.run_annual_link(con, settings=settings, run_id="r1",
                                        runs_dir=settings.runs_dir)
    assert first.review_queue_size > 0

    sessions = session_factory(settings.governance_url, migrate=True)  # as `c2c migrate`
    with sessions() as session:
        reviewer = issue_key(session, create_user(session, "rita", [Role.REVIEWER]).id).token
        outsider = issue_key(session, create_user(session, "bob", [Role.BOARD]).id).token
        session.commit()
    surnames = {p.last.split("-")[0] for p in people if len(p.last) >= 6}

    masked = runner.invoke(app, ["review", "list", "--limit", "5"])
    assert masked.exit_code == 0, masked.output
    assert "field agreement only" in masked.output and "last_name" in masked.output
    assert not [s for s in surnames if s in masked.output.upper()]  # no identifier shown

    refused = runner.invoke(app, ["review", "list", "--show-identities"],
                            env={"C2C_API_KEY": outsider})
    assert isinstance(refused.exception, PermissionDenied)
    assert not [s for s in surnames if s in refused.output.upper()]

    shown = runner.invoke(app, ["review", "list", "--limit", "5", "--show-identities"],
                          env={"C2C_API_KEY": reviewer})
    assert shown.exit_code == 0, shown.output
    assert "shown to rita, audited" in shown.output
    assert [s for s in surnames if s in shown.output.upper()]  # both records, side by side
    with sessions() as session:
        actions = [(e.actor, e.action, e.outcome) for e in session.scalars(select(AuditEntry))]
    assert ("bob", "review.identities", "denied") in actions
    assert ("rita", "review.identities", "ok") in actions

    with warehouse(settings, read_only=True) as con:
        pair = linkage.review.queued_pairs(con, 1)[0]
    decided = runner.invoke(app, ["review", "decide", str(pair["pair_id"]), "non_match"],
                            env={"C2C_API_KEY": reviewer})
    assert decided.exit_code == 0, decided.output
    assert "by rita" in decided.output
    not_allowed = runner.invoke(app, ["review", "decide", str(pair["pair_id"]), "match"],
                                env={"C2C_API_KEY": outsider})
    assert isinstance(not_allowed.exception, PermissionDenied)

    with warehouse(settings) as con:
        second = linkage.run_annual_link(con, settings=settings, run_id="r2",
                                         runs_dir=settings.runs_dir)
        queued = {p["pair_id"] for p in linkage.review.queued_pairs(con)}
        left, right = pair["left"], pair["right"]
        ids = con.execute(
            "SELECT DISTINCT person_id FROM mdm.crosswalk WHERE (source_system, partner_org, "
            "source_person_id) IN ((?, ?, ?), (?, ?, ?))",
            [left["source_system"], left["partner_org"], left["source_person_id"],
             right["source_system"], right["partner_org"], right["source_person_id"]],
        ).fetchall()
    assert second.review_labels_used == 1  # the decision is a label in the next run
    assert pair["pair_id"] not in queued  # and the pair is not asked again
    assert len(ids) == 2  # non_match: the two records are different persons
    with sessions() as session:
        decisions = [e for e in session.scalars(select(AuditEntry))
                     if e.action == "review.decide"]
    assert [(e.actor, e.target) for e in decisions] == [("rita", f"pair:{pair['pair_id']}")]

    # the run's clerical quality sample is worked through the same path (issue 28 item 2)
    sample = runner.invoke(app, ["review", "list", "--sample", "--limit", "3",
                                 "--show-identities"], env={"C2C_API_KEY": reviewer})
    assert sample.exit_code == 0, sample.output
    assert "quality sample, undecided" in sample.output and "shown to rita" in sample.output
    with warehouse(settings) as con:
        sampled = linkage.review.queued_pairs(con, 1, sample_run="r2")[0]
    assert sampled["reason"].startswith(("calpads-", "college-", "ccgi-"))  # its stratum
    decided = runner.invoke(app, ["review", "decide", str(sampled["pair_id"]), "match"],
                            env={"C2C_API_KEY": reviewer})
    assert decided.exit_code == 0, decided.output
    estimate = runner.invoke(app, ["quality", "estimate"])
    assert estimate.exit_code == 0, estimate.output
    # one decision of a sample of many strata: no figures, and the command says what to do
    assert "awaiting_review" in estimate.output and "c2c review list --sample" in estimate.output
    with sessions() as session:
        targets = [e.target for e in session.scalars(select(AuditEntry))
                   if e.action == "review.identities" and e.actor == "rita"]
    assert "mdm.quality_sample" in targets


def test_the_queue_is_keyed_in_sql_as_pair_id_keys_it_in_python() -> None:
    """The queue is written in SQL (millions of pairs at the state's size): each pair's id is
    the one ``pair_id`` gives the sorted unit keys, a decided pair stays out, and a pair listed
    twice keeps its last row."""
    import duckdb
    import pyarrow as pa

    from linkage.review import pair_id, write_queue
    from linkage.schema import ensure_schema

    con = duckdb.connect()
    ensure_schema(con)
    con.execute("CREATE TABLE mdm.identities (unit_id BIGINT, source_system VARCHAR, "
                "partner_org VARCHAR, source_person_id VARCHAR)")
    units = {1: ("calpads", "0110017", "2000000001"), 2: ("college", "061", "A77"),
             3: ("ccgi", "CCGI", "ü-9"), 4: ("calpads", "0110017", "2000000002")}
    con.executemany("INSERT INTO mdm.identities VALUES (?, ?, ?, ?)",
                    [(u, *k) for u, k in units.items()])
    decided = pair_id(units[1], units[4])
    con.execute("INSERT INTO mdm.review_decisions (pair_id, decision, reviewer) "
                "VALUES (?, 'match', 'r')", [decided])
    pairs = pa.table({"unit_l": [2, 3, 1, 3], "unit_r": [1, 2, 4, 2],
                      "p": [0.5, 0.6, 0.7, 0.95],
                      "reason": ["uncertain_band", "uncertain_band", "uncertain_band",
                                 "cannot_link"]})
    assert write_queue(con, "run-1", pairs) == 2
    queued = con.execute("SELECT pair_id, source_system_l, source_person_id_r, "
                         "match_probability, reason FROM mdm.review_queue ORDER BY 2").fetchall()
    assert queued == [
        (pair_id(units[1], units[2]), "calpads", "A77", 0.5, "uncertain_band"),
        (pair_id(units[2], units[3]), "ccgi", "A77", 0.95, "cannot_link"),
    ]
