"""Issue #20 item 11, second half: two extracts of different requests cannot be paired person by
person on the variables they share (docs/deidentify.md, "Extracts of different requests").

The attacker holds both decrypted extracts. Pseudonyms differ, so they join on what both hold:
each person's sequence of rows over the shared columns. A sequence that occurs once in each
extract pairs two pseudonyms one-to-one, and with them the variables of both requests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import permutations
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import deidentify
from core.keys import KeyProvider
from core.requests import ApprovedRequest, CohortFilter, RequestKind
from core.warehouse import connect_encrypted, open_warehouse
from deidentify.crossextract import cross_extract
from deidentify.pseudonym import pseudonym_key, pseudonymise
from governance import request_lifecycle as gr
from governance.extract_registry import individual_extracts
from governance.models import DataRequest, ExtractRecord
from governance.request_inputs import RequestInput
from governance.users import Role, create_user
from services.fulfil import build_package, fulfil_approved
from tests.api_support import ApiEnv
from tests.dagster_support import approve, make_deployment
from tests.deid_support import NOW, make_keys, make_student_year, request, student_year_sql
from tests.governance_fixtures import clear_provider_review
from tests.portal.test_preview import in_band

PERSONS = 400
K = 11
# Two studies of the same cohort. Both hold the English-learner and homeless flags per year
# (sensitive attributes, not quasi-identifiers): 64 possible three-year sequences.
FIRST = ["person_id", "academic_year", "gender", "english_learner", "homeless", "hs_graduate"]
SECOND = ["person_id", "academic_year", "race_ethnicity", "english_learner", "homeless",
          "cc_enrolled_within_1yr"]
# Shares no variable with either.
THIRD = ["person_id", "birth_year", "cte_completer"]


def sequences(table: pa.Table, shared: list[str]) -> dict[str, tuple[tuple[object, ...], ...]]:
    """Each pseudonym's rows over ``shared``, in a canonical order (what the attacker joins on)."""
    rows: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for row in table.to_pylist():
        rows[row["pseudonym_id"]].append(tuple(row[c] for c in shared))
    return {pid: tuple(sorted(r, key=repr)) for pid, r in rows.items()}


def attack(first: pa.Table, second: pa.Table) -> tuple[list[tuple[str, str]], Counter[object]]:
    """Pairs of pseudonyms (first, second) whose shared-column sequence is unique in both
    extracts; and how many people of ``second`` hold each sequence."""
    shared = [c for c in first.column_names if c in second.column_names and c != "pseudonym_id"]
    assert shared  # the two extracts do overlap
    a, b = sequences(first, shared), sequences(second, shared)
    in_a, in_b = Counter(a.values()), Counter(b.values())
    by_seq_b = {seq: pid for pid, seq in b.items()}
    pairs = [(pid, by_seq_b[seq]) for pid, seq in a.items() if in_a[seq] == 1 and in_b[seq] == 1]
    return pairs, in_b


def truth(con: duckdb.DuckDBPyConnection, keys: KeyProvider, first: str, second: str
          ) -> set[tuple[str, str]]:
    """(pseudonym in ``first``, pseudonym in ``second``) of every person: what pairs really are."""
    ids = con.execute("SELECT DISTINCT person_id FROM analytics.student_year"
                      ).fetch_arrow_table().column(0)
    a = pseudonymise(ids, pseudonym_key(keys, first)).to_pylist()
    b = pseudonymise(ids, pseudonym_key(keys, second)).to_pylist()
    return set(zip(a, b, strict=True))


def opened(result: deidentify.ExtractResult, keys: KeyProvider, out: Path) -> pa.Table:
    return deidentify.open_extract(result.package_path, keys=keys, now=NOW, out_dir=out).table()


def test_the_second_extract_cannot_be_paired_with_the_first(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    con = connect_encrypted(tmp_path / "w.duckdb", keys.warehouse_key_hex(),
                            temp_dir=tmp_path / "tmp")
    make_student_year(con, PERSONS, years=3)
    first = deidentify.build_extract(con, request("R-A", FIRST), keys, tmp_path / "a", k=K,
                                     now=NOW, earlier_extracts={})
    a = opened(first, keys, tmp_path / "open-a")

    # Built as if R-A did not exist (what the code did before): people pair one-to-one, and
    # the pairs are right.
    blind = deidentify.build_extract(con, request("R-B", SECOND), keys, tmp_path / "b0", k=K,
                                     now=NOW, earlier_extracts={})
    pairs, _ = attack(a, opened(blind, keys, tmp_path / "open-b0"))
    assert pairs and set(pairs) <= truth(con, keys, "R-A", "R-B")

    # Built knowing what R-A released: every sequence over the shared columns is held by at
    # least k people of R-B, so no one pairs, and every person of R-A has k candidates.
    second = deidentify.build_extract(con, request("R-B", SECOND), keys, tmp_path / "b1", k=K,
                                      now=NOW, earlier_extracts={"R-A": first.variables})
    b = opened(second, keys, tmp_path / "open-b1")
    pairs, held_by = attack(a, b)
    assert pairs == [] and min(held_by.values()) >= K
    assert b.num_rows == second.rows > 0

    cross = second.disclosure.cross_extract if second.disclosure else {}
    assert cross["earlier_requests"] == cross["linked_requests"] == ["R-A"]
    assert cross["linkage_variables"] == ["academic_year", "english_learner", "homeless"]
    assert cross["variables_unknown_for"] == []
    suppressed = PERSONS * 3 - second.rows
    assert second.suppressed_rows == suppressed == cross["suppressed_rows"] > 0
    assert cross["suppressed_persons"] * 3 == cross["suppressed_rows"]
    # Before suppressing, the search coarsened the quasi-identifiers: patterns that more people
    # share lose fewer of them (all of them would be lost at the blind build's rungs).
    assert second.disclosure is not None and blind.disclosure is not None
    raised = [s for s in second.disclosure.steps if s["rule"] == "cross-extract"]
    assert raised and second.disclosure.generalisations != blind.disclosure.generalisations
    assert cross["suppressed_rows"] < raised[0]["rows_at_risk_before"]
    released = {pid for pid in b.column("pseudonym_id").to_pylist()}
    assert len(released) == PERSONS - cross["suppressed_persons"]
    # The report's classes are those of the released rows.
    assert second.disclosure is not None
    classes: dict[tuple[object, ...], set[str]] = defaultdict(set)
    for row in b.to_pylist():
        classes[(row["academic_year"], row["race_ethnicity"])].add(row["pseudonym_id"])
    assert second.disclosure.equivalence_classes == len(classes)
    assert second.disclosure.smallest_class == min(len(p) for p in classes.values()) >= K
    con.close()


def test_an_extract_of_unknown_variables_counts_as_sharing_everything(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    con = connect_encrypted(tmp_path / "w.duckdb", keys.warehouse_key_hex(),
                            temp_dir=tmp_path / "tmp")
    make_student_year(con, PERSONS, years=3)
    plan = deidentify.plan_for_request(con, request("R-B", SECOND), k=K,
                                       earlier_extracts={"R-old": None, "R-agg": ["gender"]})
    assert plan.cross.unknown_requests == ["R-old"] and plan.cross.linked_requests == ["R-old"]
    assert plan.cross.linkage_variables == [v for v in SECOND if v != "person_id"]
    assert plan.linkage_suppressed_rows > 0
    assert plan.released_rows + plan.suppressed_rows == plan.rows == PERSONS * 3
    con.close()


def test_which_variables_link() -> None:
    outputs = ["academic_year", "homeless", "hs_graduate"]
    # The request itself (a rebuild) is not an earlier extract; ids never link.
    same = cross_extract("R-1", outputs, {"R-1": None, "R-2": ["pseudonym_id", "cte_completer"]})
    assert same.earlier_requests == ["R-2"] and same.linked_requests == []
    assert same.linkage_variables == [] and same.unknown_requests == []
    some = cross_extract("R-3", outputs, {"R-2": ["hs_graduate", "academic_year", "gender"],
                                          "R-1": ["homeless"]})
    assert some.earlier_requests == some.linked_requests == ["R-1", "R-2"]
    assert some.linkage_variables == outputs  # in this request's order
    unknown = cross_extract("R-3", outputs, {"R-9": None})
    assert unknown.unknown_requests == ["R-9"] and unknown.linkage_variables == outputs


# -- through fulfilment (`c2c fulfil` and the Dagster research_extracts asset) ----------------


def _approved(session: object, researcher: int, board: list[int], variables: list[str],
              title: str) -> str:
    created = gr.create_request(session, researcher, RequestInput(  # type: ignore[arg-type]
        kind=RequestKind.INDIVIDUAL, title=title, purpose="Outcomes of English learners.",
        variables=variables, training_attested=True, irb_reference="IRB-2026-7"))
    gr.submit_request(session, created.id, researcher)  # type: ignore[arg-type]
    clear_provider_review(session, created.id)  # type: ignore[arg-type]
    for member in board:
        approve(session, created.id, member)  # type: ignore[arg-type]
    return created.id


@pytest.mark.slow
def test_fulfilment_keeps_later_extracts_unlinkable(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    dep = make_deployment(tmp_path, monkeypatch, data=False)
    settings = dep.settings()
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    con = connect_encrypted(settings.warehouse_path, keys.warehouse_key_hex())
    make_student_year(con, PERSONS, years=3)
    con.close()
    with dep.governance.session() as session:
        researcher = create_user(session, "r", [Role.RESEARCHER], None).id
        board = [create_user(session, f"b{i}", [Role.BOARD], None).id for i in (1, 2)]
        first = _approved(session, researcher, board, FIRST, "English learners and diplomas")
        second = _approved(session, researcher, board, SECOND, "English learners and college")
        third = _approved(session, researcher, board, THIRD, "CTE completion by age")
        session.commit()

    # One run fulfils all three in queue order; each sees the ones fulfilled before it.
    built = {r.request_id: r for r in fulfil_approved(
        settings=settings, sessions=dep.governance.sessions(), keys=keys).built}
    assert list(built) == [first, second, third]
    a, b, c = (opened(built[r], keys, tmp_path / r) for r in (first, second, third))

    pairs, held_by = attack(a, b)
    assert pairs == [], f"{len(pairs)} people pair one-to-one across {first} and {second}"
    assert min(held_by.values()) >= K
    cross = built[second].manifest["disclosure"]["cross_extract"]
    assert cross["earlier_requests"] == [first]
    assert cross["linkage_variables"] == ["academic_year", "english_learner", "homeless"]
    with dep.governance.session() as session:
        record = session.get(DataRequest, second).extract  # type: ignore[union-attr]
        # the release report holds the count as the egress gate releases it (rounded to 5)
        reported = record.detail["cross_extract"]["suppressed_rows"]
        assert cross["suppressed_rows"] > 0 and reported % 5 == 0
        assert abs(reported - cross["suppressed_rows"]) <= 4
        checks = {c["check"]: c for c in record.detail["output_checks"]}
        assert checks["cross_extract_linkage"]["passed"]
        assert first in checks["cross_extract_linkage"]["detail"]

    # The third shares nothing: the same rows as a build that knew of no earlier extract, and
    # its report names the two it considered.
    third_cross = built[third].manifest["disclosure"]["cross_extract"]
    assert third_cross["earlier_requests"] == sorted([first, second])
    assert third_cross["linked_requests"] == third_cross["linkage_variables"] == []
    con = open_warehouse(settings, read_only=True)
    try:
        alone = deidentify.build_extract(
            con, built_request(third, THIRD), keys, tmp_path / "alone", k=K,
            now=datetime.now(UTC), earlier_extracts={})
        # ... and, as a control, the second built blind to the first pairs people.
        blind = deidentify.build_extract(
            con, built_request(second, SECOND), keys, tmp_path / "blind", k=K,
            now=datetime.now(UTC), earlier_extracts={})
    finally:
        con.close()
    assert opened(alone, keys, tmp_path / "alone-open").equals(c)
    assert attack(a, opened(blind, keys, tmp_path / "blind-open"))[0]


def built_request(request_id: str, variables: list[str]) -> ApprovedRequest:
    return ApprovedRequest(request_id=request_id, kind=RequestKind.INDIVIDUAL, title="t",
                           purpose="p", variables=variables, cohort=CohortFilter(),
                           expires_at=datetime.now(UTC) + timedelta(days=3), requester="r")


# -- the governance store's answer, and the preview ------------------------------------------


def _register(session: object, researcher: int, request_id: str, kind: str,
              variables: list[str], detail: dict[str, object], status: str = "expired",
              cohort: dict[str, object] | None = None) -> None:
    """An extract some earlier fulfilment registered (as the store keeps it)."""
    now = datetime.now(UTC)
    session.add(DataRequest(  # type: ignore[attr-defined]
        id=request_id, requester_id=researcher, kind=kind, title="earlier", purpose="earlier",
        variables=variables, cohort=cohort or {}, group_by=[], status="fulfilled",
        expires_at=now))
    session.add(ExtractRecord(  # type: ignore[attr-defined]
        request_id=request_id, package_path=f"/x/{request_id}.c2cx", sha256="0" * 64,
        expires_at=now, status=status, detail=detail))
    session.flush()  # type: ignore[attr-defined]


def test_the_store_lists_every_earlier_individual_extract(env: ApiEnv) -> None:
    with env.sessions.begin() as s:
        researcher = create_user(s, "someone", [Role.RESEARCHER], None).id
        _register(s, researcher, "R-rel", "individual", ["person_id", "homeless"],
                  {"variables": ["pseudonym_id", "homeless"]}, status="available",
                  cohort={"subgroup_equals": {"english_learner": True}})
        _register(s, researcher, "R-old", "individual", ["person_id", "hs_graduate"], {})
        _register(s, researcher, "R-lost", "individual", [], {"rows": 3})
        _register(s, researcher, "R-agg", "aggregate", ["hs_graduate"], {})
    with env.sessions() as s:
        assert individual_extracts(s) == {
            "R-rel": ["english_learner", "homeless", "pseudonym_id"],  # released + cohort-fixed
            "R-old": ["hs_graduate", "person_id"],  # no release record: what was approved
            "R-lost": None,  # nothing known: the builder assumes it shares everything
        }
        assert "R-rel" not in individual_extracts(s, excluding="R-rel")


def test_preview_counts_what_linkage_suppresses_as_the_build_does(env: ApiEnv) -> None:
    con = open_warehouse(env.settings)
    con.execute(student_year_sql(PERSONS, years=3))
    con.close()
    with env.sessions.begin() as s:
        researcher = create_user(s, "earlier-researcher", [Role.RESEARCHER], None).id
        _register(s, researcher, "R-early", "individual", FIRST,
                  {"variables": ["pseudonym_id", *FIRST[1:]]})
    body = {"kind": "individual", "variables": SECOND}
    got = env.client.post("/v1/requests/preview", json=body, headers=env.auth("researcher"))
    assert got.status_code == 200, got.text
    shown = got.json()
    assert shown["linkage_variables"] == ["academic_year", "english_learner", "homeless"]
    assert any("earlier extract" in note for note in shown["notes"])

    keys = KeyProvider(env.settings.master_key_path, env.settings.keyring_path)
    with env.sessions() as s:
        earlier = individual_extracts(s, excluding="R-preview")
    con = open_warehouse(env.settings)
    try:
        result = build_package(con, built_request("R-preview", SECOND), keys,
                               env.settings.extracts_dir, min_cell=11, k=11,
                               earlier_extracts=earlier)
    finally:
        con.close()
    assert result.disclosure is not None
    # the preview's numbers are the egress gate's bands around what the build does
    assert in_band(shown["expected_rows"], result.rows)
    assert in_band(shown["suppressed_rows"], result.suppressed_rows)
    assert in_band(shown["linkage_suppressed_rows"],
                   result.disclosure.cross_extract["suppressed_rows"])
    assert result.disclosure.cross_extract["suppressed_rows"] > 0


def test_the_search_stops_at_the_top_of_every_ladder(tmp_path: Path) -> None:
    """Fewer people than k: the search raises every rung, finds nothing left to raise, and
    every row is suppressed and counted."""
    keys = make_keys(tmp_path)
    con = connect_encrypted(tmp_path / "w.duckdb", keys.warehouse_key_hex(),
                            temp_dir=tmp_path / "tmp")
    make_student_year(con, 5, years=2)
    plan = deidentify.plan_for_request(con, request("R-few", SECOND), k=K,
                                       earlier_extracts={"R-A": FIRST})
    assert set(plan.rung_names().values()) == {"withheld"}
    assert plan.released_rows == 0 and plan.suppressed_rows == plan.rows == 10
    assert plan.classes == 0 and plan.smallest_class is None
    con.close()


# --- issue 25: a variable implied by another links two extracts as a shared one does ---

IMPLIED_FIRST = ["person_id", "academic_year", "english_learner", "homeless", "cte_completer"]
IMPLIED_SECOND = ["person_id", "academic_year", "english_learner", "homeless", "cte_participant"]


def candidates(first: pa.Table, second: pa.Table) -> list[int]:
    """For each person of ``first``, how many people of ``second`` could be them - what an
    attacker holding both extracts narrows to: rows that pair one to one with the same flags
    and year (a generalised year matches any), a participant in every year they completed
    (completer => participant)."""
    Row = tuple[object, bool, bool, bool]

    def rows(table: pa.Table, flag: str) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = defaultdict(list)
        for r in table.to_pylist():
            out[r["pseudonym_id"]].append((r["academic_year"], r["english_learner"],
                                           r["homeless"], bool(r[flag])))
        return out

    def fits(p: Row, q: Row) -> bool:
        return (q[0] in {"*", p[0]} and q[1:3] == p[1:3]) and (q[3] or not p[3])

    a, b = rows(first, "cte_completer"), rows(second, "cte_participant")
    return [sum(1 for rows_b in b.values() if len(rows_b) == len(rows_a) and any(
                all(fits(p, q) for p, q in zip(rows_a, order, strict=True))
                for order in permutations(rows_b)))
            for rows_a in a.values()]


def test_an_implied_variable_narrows_no_one_below_k(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    con = connect_encrypted(tmp_path / "w.duckdb", keys.warehouse_key_hex(),
                            temp_dir=tmp_path / "tmp")
    make_student_year(con, PERSONS, years=3)
    # the definition holds in the data, as it does in analytics.metrics
    con.execute("UPDATE analytics.student_year SET cte_participant = cte_participant "
                "OR cte_completer")
    first = deidentify.build_extract(con, request("R-A", IMPLIED_FIRST), keys, tmp_path / "a",
                                     k=K, now=NOW, earlier_extracts={})
    a = opened(first, keys, tmp_path / "open-a")
    second = deidentify.build_extract(con, request("R-B", IMPLIED_SECOND), keys,
                                      tmp_path / "b", k=K, now=NOW,
                                      earlier_extracts={"R-A": first.variables})
    b = opened(second, keys, tmp_path / "open-b")
    cross = second.disclosure.cross_extract if second.disclosure else {}
    assert "cte_participant" in cross["linkage_variables"]
    # every candidate set is empty (the person was suppressed) or holds at least k people
    narrowed = [n for n in candidates(a, b) if 0 < n < K]
    assert narrowed == [], f"{len(narrowed)} people narrowed to {sorted(narrowed)[:10]}"
    assert b.num_rows > 0
    con.close()


def test_implied_variables_link() -> None:
    assert cross_extract("R-B", ["cte_participant", "gender"],
                         {"R-A": ["cte_completer"]}).linkage_variables == ["cte_participant"]
    assert cross_extract("R-B", ["cte_completer"],
                         {"R-A": ["cte_participant"]}).linkage_variables == ["cte_completer"]
    assert cross_extract("R-B", ["hs_graduate"],
                         {"R-A": ["cte_completer"]}).linkage_variables == []
