"""Request rules a researcher, a board member or the fulfilment job meets: what a draft may
say and how it is edited, what stops a submission, what the board may see, and when a failed
output may be re-grouped (the lifecycle itself: tests/governance/test_store.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Conflict, NotFound, UserError
from core.requests import RequestKind
from governance import partners as gp
from governance import request_lifecycle as gr
from governance import users as gu
from governance.extract_registry import ExtractInfo, extract_for_download, mark_fulfilled
from governance.models import DataRequest
from governance.request_inputs import RequestInput, RequestPatch
from tests.governance_fixtures import clear_provider_review, write_partners_csv


def _people(s: Session, tmp_path: Path) -> dict[str, int]:
    gp.import_partners_csv(s, write_partners_csv(tmp_path / "partners.csv"))
    roles = {"res": ["researcher"], "res2": ["researcher"], "b1": ["board"],
             "c1": ["checker"], "c2": ["checker"]}
    return {name: gu.create_user(s, name, r).id for name, r in roles.items()}


def _draft(**extra: object) -> RequestInput:
    values: dict[str, object] = {
        "kind": RequestKind.AGGREGATE,
        "title": "Dual enrollment and CTE",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"],
        "group_by": ["gender", "race_ethnicity"],
    }
    values.update(extra)
    return RequestInput.model_validate(values)


# ------------------------------------------------------------------ what a draft may say
@pytest.mark.parametrize(("fields", "message"), [
    ({"variables": ["cte_completer", "cte_completer"]}, "variables lists a variable twice"),
    ({"group_by": ["gender", "gender"]}, "group_by lists a variable twice"),
    ({"group_by": ["person_id"]}, "group_by cannot use person_id"),
    ({"group_by": ["shoe_size"]}, "unknown group_by shoe_size"),
])
def test_drafts_and_patches_refuse_repeats_unknowns_and_person_grouping(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _draft(**fields)
    with pytest.raises(ValidationError, match=message):
        RequestPatch.model_validate(fields)


def test_a_patch_may_clear_only_the_optional_fields() -> None:
    with pytest.raises(ValidationError, match="title, variables cannot be null"):
        RequestPatch.model_validate({"title": None, "variables": None})
    cleared = RequestPatch.model_validate({"irb_reference": None, "requested_expiry": None})
    assert cleared.model_dump(exclude_unset=True) == {"irb_reference": None,
                                                      "requested_expiry": None}
    with pytest.raises(ValidationError, match="valid dictionary"):  # a JSON list, not an object
        RequestPatch.model_validate(["title"])


def test_every_draft_field_can_be_edited_and_lists_show_only_own_requests(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        ids = _people(s, tmp_path)
        first = gr.create_request(s, ids["res"], _draft()).id
        second = gr.create_request(s, ids["res"], _draft(title="Second")).id
        gr.create_request(s, ids["res2"], _draft(title="Someone else's"))
    with sessions.begin() as s:
        before = gr.own_request(s, first, ids["res"]).updated_at
        assert gr.update_request(s, first, ids["res"], RequestPatch()).updated_at == before
        patch = RequestPatch.model_validate({
            "kind": "individual", "title": "  Trimmed title  ", "purpose": "A new purpose here",
            "purpose_code": "program_evaluation", "variables": ["person_id", "hs_graduate"],
            "cohort": {"academic_years": ["2022-23"]}, "group_by": [],
            "requested_expiry": "2030-01-31", "training_attested": True,
            "irb_reference": "  IRB-7  ",
        })
        assert patch.model_fields_set == set(RequestPatch.model_fields)  # every field
        gr.update_request(s, first, ids["res"], patch)
    with sessions.begin() as s:
        req = gr.own_request(s, first, ids["res"])
        assert (req.kind, req.title, req.purpose, req.purpose_code) == (
            "individual", "Trimmed title", "A new purpose here", "program_evaluation")
        assert (req.variables, req.group_by, req.cohort["academic_years"]) == (
            ["person_id", "hs_graduate"], [], ["2022-23"])
        assert (req.requested_expiry, req.training_attested, req.irb_reference) == (
            date(2030, 1, 31), True, "IRB-7")
        gr.update_request(s, first, ids["res"], RequestPatch.model_validate(
            {"irb_reference": "   ", "requested_expiry": None}))
    with sessions() as s:
        req = gr.own_request(s, first, ids["res"])
        assert (req.irb_reference, req.requested_expiry) == (None, None)
        with pytest.raises(UserError, match="purpose_code cannot be removed"):
            gr.update_request(s, first, ids["res"],
                              RequestPatch.model_validate({"purpose_code": None}))
        assert [r.id for r in gr.list_own_requests(s, ids["res"])[1]] == [first, second]
        assert gr.list_own_requests(s, ids["b1"]) == (0, [])


# ------------------------------------------------------------------ what stops a submission
def _unsaved(**fields: object) -> DataRequest:
    values: dict[str, object] = {"kind": "aggregate", "variables": ["hs_graduate"],
                                 "group_by": [], "training_attested": False,
                                 "irb_reference": None, "requested_expiry": None}
    values.update(fields)
    return DataRequest(**values)


def test_submission_problems_say_what_to_fix() -> None:
    today = date(2026, 11, 30)
    assert gr.submission_problems(_unsaved(), today) == []
    assert gr.submission_problems(_unsaved(variables=[]), today) == [
        "list at least one variable from the catalog"]
    assert gr.submission_problems(_unsaved(variables=["person_id"]), today) == [
        "aggregate requests cannot include person_id"]
    assert gr.submission_problems(
        _unsaved(kind="individual", training_attested=True, irb_reference="IRB-1",
                 group_by=["gender"]), today) == ["group_by applies to aggregate requests only"]
    # requested_expiry: yesterday and today are refused, tomorrow is the first future date
    for day, problems in ((today - timedelta(days=1), 1), (today, 1),
                          (today + timedelta(days=1), 0)):
        found = gr.submission_problems(_unsaved(requested_expiry=day), today)
        assert found == ["requested_expiry must be a future date"] * problems


def test_a_draft_with_problems_is_not_submitted(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        ids = _people(s, tmp_path)
        rid = gr.create_request(s, ids["res"], _draft(variables=[])).id
    with sessions() as s, pytest.raises(UserError,
                                        match="cannot submit: list at least one variable"):
        gr.submit_request(s, rid, ids["res"])
    with sessions() as s:
        assert gr.own_request(s, rid, ids["res"]).status == "draft"


# ------------------------------------------------------------------ the board's view
def test_the_board_sees_no_drafts_and_decided_requests_stay_visible(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        ids = _people(s, tmp_path)
        draft = gr.create_request(s, ids["res"], _draft()).id
        rid = gr.create_request(s, ids["res"], _draft()).id
        gr.submit_request(s, rid, ids["res"])
    with sessions() as s:
        for missing in (draft, "req-000000000000"):
            with pytest.raises(NotFound, match="no submitted request"):
                gr.get_for_board(s, missing)
            with pytest.raises(NotFound, match="no submitted request"):
                gr.decide(s, missing, ids["b1"], "approve", "looks fine", quorum=1)
        with pytest.raises(Conflict, match="never approved"):  # nothing to fulfil yet
            gr.to_approved(gr.get_for_board(s, rid))
    with sessions.begin() as s:
        gr.decide(s, rid, ids["b1"], "deny", "cohort too small", quorum=1)
    with sessions() as s:
        assert gr.get_for_board(s, rid).status == "denied"


# ------------------------------------------------------------------ fulfilment and regroup
def _approved(sessions: sessionmaker[Session], tmp_path: Path) -> tuple[dict[str, int], str]:
    with sessions.begin() as s:
        ids = _people(s, tmp_path)
        rid = gr.create_request(s, ids["res"], _draft()).id
        gr.submit_request(s, rid, ids["res"])
        clear_provider_review(s, rid)
        gr.decide(s, rid, ids["b1"], "approve", "sound design", quorum=1)
    return ids, rid


def test_the_requested_expiry_applies_up_to_the_default_term(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The board's default term (``default_days``) is the longest an extract lives: a requested
    expiry a day before its end is kept (end of that day, UTC), one a day after is cut."""
    term = 30
    with sessions.begin() as s:
        ids = _people(s, tmp_path)
    expiries = {}
    for offset in (-1, 1):
        wanted = (datetime.now(UTC) + timedelta(days=term + offset)).date()
        with sessions.begin() as s:
            rid = gr.create_request(s, ids["res"], _draft(requested_expiry=wanted)).id
            gr.submit_request(s, rid, ids["res"])
            clear_provider_review(s, rid)
            start = datetime.now(UTC)
            expires = gr.decide(s, rid, ids["b1"], "approve", "fine", quorum=1,
                                default_days=term).expires_at
            expiries[offset] = (wanted, start, expires, datetime.now(UTC))
    wanted, _, expires, _ = expiries[-1]
    assert expires == datetime(wanted.year, wanted.month, wanted.day, 23, 59, 59, tzinfo=UTC)
    _, start, expires, end = expiries[1]  # the decision's moment plus the term
    assert expires is not None
    assert start + timedelta(days=term) <= expires <= end + timedelta(days=term)


def test_fulfilment_of_an_unknown_request_and_a_naive_expiry(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids, rid = _approved(sessions, tmp_path)
    with sessions() as s, pytest.raises(Conflict, match="is approved; it has no extract yet"):
        extract_for_download(s, rid, ids["res"])
    info = ExtractInfo(package_path="p", sha256="c" * 64,
                          expires_at=datetime(2031, 6, 30, 12, 0))  # no zone: taken as UTC
    with sessions() as s, pytest.raises(NotFound, match="no request 'req-none'"):
        mark_fulfilled(s, "req-none", info)
    with sessions.begin() as s:
        record = mark_fulfilled(s, rid, info)
    assert record.expires_at == datetime(2031, 6, 30, 12, 0, tzinfo=UTC)


def _fulfilled(sessions: sessionmaker[Session], tmp_path: Path, *, checks_pass: bool
               ) -> tuple[dict[str, int], str]:
    ids, rid = _approved(sessions, tmp_path)
    detail = {"output_checks": [{"check": "differencing_snapshot", "passed": checks_pass}]}
    with sessions.begin() as s:
        mark_fulfilled(s, rid, ExtractInfo(package_path="/x/old.c2cx", sha256="d" * 64,
                                                 detail=detail))
    return ids, rid


def test_regroup_needs_failed_output_and_a_coarser_table(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids, rid = _fulfilled(sessions, tmp_path, checks_pass=False)
    with sessions() as s:
        with pytest.raises(UserError, match="keep at least one variable"):
            gr.regroup(s, rid, ids["res"], group_by=["gender"], variables=[])
        with pytest.raises(UserError, match="drop at least one grouping or outcome variable"):
            gr.regroup(s, rid, ids["res"], group_by=["race_ethnicity", "gender"])
        with pytest.raises(UserError, match="homeless were not approved"):
            gr.regroup(s, rid, ids["res"], group_by=["gender", "homeless"])
    with sessions.begin() as s:
        request, old = gr.regroup(s, rid, ids["res"], group_by=["gender"],
                                  variables=["cte_completer"])
        assert (request.status, request.group_by, request.variables, old) == (
            "approved", ["gender"], ["cte_completer"], "/x/old.c2cx")
    with sessions() as s:
        assert [r.request_id for r in gr.requests_ready_for_fulfilment(s)] == [rid]


def test_output_awaiting_checkers_cannot_be_regrouped_but_rejected_output_can(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from governance import output_release

    ids, rid = _fulfilled(sessions, tmp_path, checks_pass=True)
    with sessions() as s, pytest.raises(Conflict, match="is awaiting_checkers; only output"):
        gr.regroup(s, rid, ids["res"], group_by=["gender"])
    with sessions.begin() as s:
        for checker in ("c1", "c2"):
            output_release.checker_decide(s, rid, checker_id=ids[checker], decision="reject",
                                        reason="a cell is too small")
    with sessions.begin() as s:
        request, _ = gr.regroup(s, rid, ids["res"], group_by=["gender"])
        assert request.status == "approved"
    with sessions() as s:  # the rejected output's reviews went with it
        assert gr.own_request(s, rid, ids["res"]).output_reviews == []
