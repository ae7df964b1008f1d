"""Governance store: partners, users and keys, the request lifecycle and board decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session, sessionmaker

from core.errors import (
    Conflict,
    Expired,
    InputRejected,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    UserError,
)
from core.partners import AgreementStatus, PartnerKind
from core.requests import RequestKind
from governance import grants as gg
from governance import partners as gp
from governance import request_lifecycle as gr
from governance import users as gu
from governance.bootstrap import create_demo_users
from governance.db import make_engine
from governance.extract_registry import (
    ExtractInfo,
    expire_due,
    extract_for_download,
    mark_fulfilled,
)
from governance.models import ApiKey, Base
from governance.public_log import public_log
from governance.request_inputs import RequestInput, RequestPatch
from tests.governance_fixtures import clear_provider_review, release_output, write_partners_csv


def test_migrations_create_exactly_the_models(store_url: str) -> None:
    engine = make_engine(store_url)
    with engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), Base.metadata)
    engine.dispose()
    assert diff == []


def test_import_partners_csv_gives_partner_records(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_partners_csv(tmp_path / "partners.csv")
    with sessions.begin() as s:
        gp.import_partners_csv(s, path)
    with sessions() as s:
        partners = {p.org_code: p for p in gp.list_partners(s)}
    assert sorted(partners) == ["1964733", "3467439", "3768338", "841", "CCGI"]
    lausd = partners["1964733"]
    assert lausd.kind == PartnerKind.LEA
    assert lausd.agreement_status == AgreementStatus.EXECUTED
    assert lausd.agreement_start == date(2024, 7, 1)
    assert lausd.swp_rounds == [1, 3]
    assert lausd.data_security_contact == "sec@lausd.ex"
    assert lausd.agreement_active(date(2025, 1, 1))
    assert not partners["3768338"].agreement_active(date(2025, 1, 1))
    assert partners["3467439"].charter is True
    assert not partners["3467439"].agreement_active(date(2025, 1, 1))


def test_reimport_records_a_new_agreement_version_only_when_it_changed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_partners_csv(tmp_path / "partners.csv")
    with sessions.begin() as s:
        gp.import_partners_csv(s, path)
        gp.import_partners_csv(s, path)
    with sessions.begin() as s:
        count = s.execute(sa.text("SELECT count(*) FROM agreements WHERE org_code='1964733'"))
        assert count.scalar_one() == 1
        gp.record_agreement(s, "3768338", AgreementStatus.EXECUTED, date(2025, 1, 1), None)
    with sessions() as s:
        sd = gp.get_partner(s, "3768338")
    assert sd.agreement_status == AgreementStatus.EXECUTED
    assert sd.agreement_active(date(2025, 6, 1))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("9999999,X,school,false,none,,,,,", "kind"),
        ("9999999,X,lea,maybe,none,,,,,", "charter"),
        ("9999999,X,lea,false,executed,2024-13-01,,,,", "agreement_start"),
        ("9999999,X,lea,false,signed,,,,,", "agreement_status"),
        ("9999999,X,lea,false,none,,,,,1;x", "swp_rounds"),
        (",X,lea,false,none,,,,,", "org_code"),
        ("' OR 1=1,X,lea,false,none,,,,,", "org_code"),
        ("9999999,X,college,false,none,,,,,", "org_code"),
    ],
)
def test_bad_partner_rows_are_rejected_with_line_and_field(
    sessions: sessionmaker[Session], tmp_path: Path, row: str, field: str
) -> None:
    path = tmp_path / "partners.csv"
    path.write_text(",".join(gp.CSV_COLUMNS) + "\n1111111,Ok,lea,false,none,,,,,\n" + row + "\n")
    with sessions() as s, pytest.raises(InputRejected) as info:
        gp.import_partners_csv(s, path)
    assert info.value.location is not None
    assert info.value.location.line == 3
    assert info.value.location.field == field
    with sessions() as s:
        assert gp.list_partners(s) == []  # nothing written from a bad file


def _setup_people(s: Session, tmp_path: Path) -> dict[str, int]:
    gp.import_partners_csv(s, write_partners_csv(tmp_path / "partners.csv"))
    ids = {}
    for name, roles in [("res", ["researcher"]), ("res2", ["researcher"]), ("b1", ["board"]),
                        ("b2", ["board"]), ("b3", ["board"]), ("rb", ["researcher", "board"])]:
        ids[name] = gu.create_user(s, name, roles).id
    return ids


def _draft(kind: RequestKind = RequestKind.AGGREGATE, **extra: object) -> RequestInput:
    values: dict[str, object] = {
        "kind": kind,
        "title": "Dual enrollment and CTE",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"],
        "group_by": ["gender"] if kind == RequestKind.AGGREGATE else [],
    }
    values.update(extra)
    return RequestInput.model_validate(values)


def test_keys_authenticate_are_hashed_and_revocable(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        gp.import_partners_csv(s, write_partners_csv(tmp_path / "p.csv"))
        user = gu.create_user(s, "pat", ["partner"], "1964733")
        issued = gu.issue_key(s, user.id)
    with sessions() as s:
        principal = gu.authenticate(s, issued.token)
        assert principal.roles == {gu.Role.PARTNER} and principal.org_code == "1964733"
        stored = s.execute(sa.select(ApiKey)).scalar_one()
        assert stored.key_hash != issued.token and issued.token not in stored.key_hash
        assert stored.key_hash == gu.hash_token(issued.token)
        with pytest.raises(NotAuthenticated):
            gu.authenticate(s, issued.token[:-2] + "xx")
        with pytest.raises(NotAuthenticated):
            gu.authenticate(s, "not-a-key")
    with sessions.begin() as s:
        gu.revoke_key(s, issued.key_id)
    with sessions() as s, pytest.raises(gu.KeyRefused):
        gu.authenticate(s, issued.token)


def test_partner_users_need_an_existing_partner(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as s:
        with pytest.raises(UserError):
            gu.create_user(s, "p", ["partner"])
        with pytest.raises(NotFound):
            gu.create_user(s, "p", ["partner"], "0000000")
        with pytest.raises(UserError):
            gu.create_user(s, "r", ["researcher"], "1964733")
        with pytest.raises(UserError):
            gu.create_user(s, "r", ["superuser"])


def test_request_lifecycle_draft_edit_submit(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        ids = _setup_people(s, tmp_path)
        req = gr.create_request(s, ids["res"], _draft())
        rid = req.id
        assert req.status == "draft"
    with sessions.begin() as s:
        gr.update_request(s, rid, ids["res"], RequestPatch(title="A better title"))
        with pytest.raises(NotFound):  # someone else's request does not exist for you
            gr.update_request(s, rid, ids["res2"], RequestPatch(title="Hijack"))
        gr.submit_request(s, rid, ids["res"])
    with sessions() as s:
        with pytest.raises(Conflict):
            gr.update_request(s, rid, ids["res"], RequestPatch(title="Too late"))
        req = gr.own_request(s, rid, ids["res"])
        assert (req.title, req.status) == ("A better title", "submitted")
        assert [r.id for r in gr.list_submitted(s)] == [rid]


def test_individual_request_needs_training_and_irb(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        ids = _setup_people(s, tmp_path)
        rid = gr.create_request(s, ids["res"], _draft(RequestKind.INDIVIDUAL)).id
    with sessions() as s, pytest.raises(UserError) as info:
        gr.submit_request(s, rid, ids["res"])
    assert "attestation" in str(info.value) and "IRB" in str(info.value)
    with sessions.begin() as s:
        gr.update_request(s, rid, ids["res"], RequestPatch(training_attested=True,
                                                              irb_reference="IRB-2026-014"))
        assert gr.submit_request(s, rid, ids["res"]).status == "submitted"


def test_unknown_catalog_variables_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown variables ssn"):
        _draft(variables=["ssn"])


def _submitted(
    sessions: sessionmaker[Session], tmp_path: Path
) -> tuple[dict[str, int], str]:
    with sessions.begin() as s:
        ids = _setup_people(s, tmp_path)
        rid = gr.create_request(s, ids["res"], _draft()).id
        gr.submit_request(s, rid, ids["res"])
        clear_provider_review(s, rid)
    return ids, rid


def test_quorum_of_distinct_board_members_then_one_fulfilment(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids, rid = _submitted(sessions, tmp_path)
    with sessions.begin() as s:
        first = gr.decide(s, rid, ids["b1"], "approve", "sound design", quorum=2)
        assert first.status == "submitted"
    with sessions() as s, pytest.raises(Conflict):
        gr.decide(s, rid, ids["b1"], "approve", "again", quorum=2)
    with sessions() as s:
        assert gr.requests_ready_for_fulfilment(s) == []
    with sessions.begin() as s:
        assert gr.decide(s, rid, ids["b2"], "approve", "fine", quorum=2).status == "approved"
    with sessions() as s:
        ready = gr.requests_ready_for_fulfilment(s)
    assert [r.request_id for r in ready] == [rid]
    assert ready[0].requester == "res" and ready[0].group_by == ["gender"]
    with sessions() as s, pytest.raises(Conflict):
        gr.decide(s, rid, ids["b3"], "approve", "late", quorum=2)
    info = ExtractInfo(package_path="/x/extract.zip", sha256="a" * 64)
    with sessions.begin() as s:
        mark_fulfilled(s, rid, info)
    with sessions() as s:
        assert gr.requests_ready_for_fulfilment(s) == []
        with pytest.raises(Conflict):
            mark_fulfilled(s, rid, info)
    with sessions.begin() as s:
        release_output(s, rid)
    with sessions() as s:
        assert extract_for_download(s, rid, ids["res"]).sha256 == "a" * 64
        with pytest.raises(NotFound):
            extract_for_download(s, rid, ids["res2"])


def test_nobody_decides_on_their_own_request(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        ids = _setup_people(s, tmp_path)
        rid = gr.create_request(s, ids["rb"], _draft()).id
        gr.submit_request(s, rid, ids["rb"])
    with sessions() as s, pytest.raises(PermissionDenied):
        gr.decide(s, rid, ids["rb"], "approve", "my own", quorum=1)
    with sessions() as s:
        assert gr.own_request(s, rid, ids["rb"]).status == "submitted"


def test_one_denial_with_reason_ends_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids, rid = _submitted(sessions, tmp_path)
    with sessions() as s, pytest.raises(UserError):
        gr.decide(s, rid, ids["b1"], "deny", "  ", quorum=2)
    with sessions.begin() as s:
        gr.decide(s, rid, ids["b1"], "approve", "fine", quorum=2)
        req = gr.decide(s, rid, ids["b2"], "deny", "identifiable cohort", quorum=2)
        assert req.status == "denied" and req.denial_reason == "identifiable cohort"
    with sessions() as s, pytest.raises(Conflict):
        gr.decide(s, rid, ids["b3"], "approve", "overrule", quorum=2)


def test_download_after_expiry_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids, rid = _submitted(sessions, tmp_path)
    with sessions.begin() as s:
        gr.decide(s, rid, ids["b1"], "approve", "fine", quorum=1)
        expires = datetime.now(UTC) + timedelta(days=2)
        mark_fulfilled(s, rid, ExtractInfo(package_path="p", sha256="b" * 64,
                                                 expires_at=expires))
        release_output(s, rid)
    later = datetime.now(UTC) + timedelta(days=3)
    with sessions() as s:
        assert extract_for_download(s, rid, ids["res"]).status == "available"
        with pytest.raises(Expired):
            extract_for_download(s, rid, ids["res"], now=later)
    with sessions.begin() as s:
        assert expire_due(s, later) == [rid]
    with sessions() as s:
        assert gr.own_request(s, rid, ids["res"]).status == "expired"
        with pytest.raises(Expired):
            extract_for_download(s, rid, ids["res"])


def test_withdraw_and_public_log_has_no_personal_data(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        ids = _setup_people(s, tmp_path)
        draft = gr.create_request(s, ids["res"], _draft(title="Private draft")).id
        sub = gr.create_request(s, ids["res"], _draft(title="Submitted one")).id
        gr.submit_request(s, sub, ids["res"])
        gr.withdraw_request(s, sub, ids["res"])
    with sessions() as s:
        total, log = public_log(s)
        with pytest.raises(Conflict):
            gr.withdraw_request(s, sub, ids["res"])
    assert total == 1 and [e.request_id for e in log] == [sub]
    assert log[0].status == "withdrawn" and draft not in {e.request_id for e in log}
    assert "res" not in log[0].model_dump_json().replace("research", "").replace("result", "")


def test_demo_users_one_key_per_role(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        gp.import_partners_csv(s, write_partners_csv(tmp_path / "p.csv"))
        keys = create_demo_users(s, today=date(2025, 1, 1))
        with pytest.raises(Conflict, match="empty C2C_HOME"):
            create_demo_users(s, today=date(2025, 1, 1))  # a second run needs a fresh store
    assert set(keys) == {"partner", "researcher", "board", "board_2", "admin", "admin_2",
                         "reviewer", "checker", "checker_2"}
    with sessions() as s:
        partner = gu.authenticate(s, keys["partner"])
        assert partner.org_code in {"1964733", "841", "CCGI"}
        assert gu.authenticate(s, keys["admin_2"]).roles == {gu.Role.ADMIN}
        assert gu.authenticate(s, keys["board_2"]).roles == {gu.Role.BOARD}
        # every privileged demo account came from a grant two admins agreed on
        grants = {g.user_name: g for g in gg.list_grants(s)}
        assert grants["demo-board-1"].approved_by == "demo-admin-2"
        assert grants["demo-board-2"].approved_by == "demo-admin"


def test_an_operators_quorum_out_of_bounds_is_a_service_fault(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A board member must not get a 422 for an operator's setting (issue 17)."""
    from core.errors import ConfigError

    ids, rid = _submitted(sessions, tmp_path)
    for bad in ({"quorum": 0}, {"quorum": 2, "default_days": 0}):
        with sessions() as s, pytest.raises(ConfigError) as caught:
            gr.decide(s, rid, ids["b1"], "approve", "sound design", **bad)  # type: ignore[arg-type]
        assert not isinstance(caught.value, UserError)
    with sessions.begin() as s:  # at the floor: one approval is a quorum of one
        assert gr.decide(s, rid, ids["b1"], "approve", "fine", quorum=1,
                         default_days=1).status == "approved"
