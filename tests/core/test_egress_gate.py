"""The egress gate (``core.gate``): one function every released number passes, and a type
that only it can make.

- the gated types cannot be made elsewhere, and a model field typed with them refuses a bare
  integer: a route cannot hand out a count that skipped the gate;
- a walk over every route of the app (its OpenAPI document: every path, method and success
  answer, with every schema reachable from it) finds every number an answer can carry; each
  is the gate's type, or is named below with why it is not a count of people. A new route or
  field with a number fails here until someone decides which it is;
- the routes and pages that show counts are called and their values checked against the
  standard (a multiple of 5 at or above the shown floor, or hidden; previews as bands).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from core.gate import (
    GatedBand,
    GatedCount,
    gate_band,
    gate_cell,
    gate_count,
    gate_figures,
    gate_published,
    plain,
)
from tests.api.test_preview_and_stall_attacks import _world
from tests.api_support import ApiEnv

# Numbers in answers that are not counts of people, and why. Keyed "Schema.field".
NOT_PERSON_COUNTS = {
    "Page.count": "rows of a list (requests, submissions, partners, published cells)",
    "Page.limit": "paging", "Page.offset": "paging",
    "AggregatePage.count": "published cells matching the filters",
    "AggregatePage.limit": "paging", "AggregatePage.offset": "paging",
    "AggregateRow.rate": "the shown numerator over the shown denominator, both gated",
    "AggregateRow.link_band_low": "an interval computed from the shown rate and the link's "
    "estimated precision / recall, none on a suppressed rate (analytics/link_quality.py)",
    "AggregateRow.link_band_high": "the same interval's upper end",
    **{f"LinkQualityRow.{name}": "an estimate from the clerical sample, shown only when the "
       "domain's linked pairs pass the gate (analytics/link_quality.py)"
       for name in ("precision", "precision_low", "precision_high", "recall", "recall_low",
                    "recall_high")},
    "PublicLogEntry.provider_review[]": "how many partners answered what",
    "ReleaseOut.approvals": "output checkers' decisions",
    "ReleaseOut.rejections": "output checkers' decisions",
    "NewKey.user_id": "an id", "UserOut.id": "an id", "KeyOut.user_id": "an id",
    "Grant.id": "an id", "Grant.user_id": "an id", "GrantRequested.grant_id": "an id",
    "SubmissionOut.id": "an id", "SubmissionOut.size_bytes": "a file's size",
    "Partner.swp_rounds[]": "funding round numbers",
    "AuditEntryOut.seq": "audit sequence", "AuditVerifyOut.entries": "audit entries",
    "AuditVerifyOut.head_seq": "audit sequence", "AuditVerifyOut.first_bad_seq": "audit seq",
    "Preview.k": "the protection parameter applied",
    # the data-quality return: the calling partner's own rows, read from its own files only
    # (ingest.quality; tests/ingest/test_quality_return.py attacks the isolation)
    "CompletenessOut.rows": "the partner's own rows", "CompletenessOut.counts[]": "the "
    "partner's own rows with a gap", "CompletenessOut.shares[]": "the same, as shares",
    "CompletenessOut.last_year_shares[]": "the partner's own rows, its previous year",
    "FailureOut.errors": "the partner's own rows that failed validation",
    "FailureOut.files": "the partner's own files",
}
# Untyped parts of answers (JSON objects of any shape), and why what they hold is safe.
UNTYPED = {
    "AggregatePage.snapshot": "snapshot_info: run id, min_cell, numbers of published cells",
    "ReleaseReport.detail": "the release report, gated when stored (core.gate.gate_figures)",
    "UsageOut.release_detail": "the same release report",
    "SubmissionOut.receipt": "the partner's own file: its rows and errors by line",
    "GET /v1/metrics[]": "metric names and definitions",
    "ReleaseOut.failed_checks[]": "automated check results: names, verdicts and texts built "
    "with gated numbers (services.fulfil)",
    "GET /v1/snapshot": "snapshot_info (numbers of published cells)",
    "GET /health": "status text",
    "GET /v1/partner/missing[]": "the partner's own files: rows it sent per file type, rounds",
}
# Answers that are not JSON (files), and why.
NOT_JSON = {
    "GET /v1/partner/quality.csv": "the data-quality return as CSV: the same numbers as "
    "GET /v1/partner/quality (the partner's own rows and files)",
    "GET /v1/requests/{request_id}/extract": "the encrypted package: individual extracts are "
    "k-anonymous, aggregate tables made by analytics.disclosure.release (the gate's rule)",
    "GET /v1/requests/{request_id}/extract/key.txt": "the package's age identity (a key, no "
    "number derived from person-level data)",
}


def _walk(schema: dict[str, Any], where: str, comps: dict[str, Any], seen: set[str],
          found: list[tuple[str, str]]) -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            _walk(comps[name], name.split("_")[0], comps, seen, found)
        return
    if "x-egress-gate" in schema:
        return
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types or "number" in types:
        found.append(("number", where))
    if "object" in types and not schema.get("properties") and \
            schema.get("additionalProperties", True) in (True, {}):
        found.append(("untyped", where))
    if schema == {}:
        found.append(("untyped", where))
    for key, sub in schema.get("properties", {}).items():
        _walk(sub, f"{where}.{key}", comps, seen, found)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict) and schema[key]:
            _walk(schema[key], f"{where}[]", comps, seen, found)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            _walk(sub, where, comps, seen, found)


def test_the_gated_types_are_made_only_by_the_gate() -> None:
    with pytest.raises(TypeError):
        GatedCount(15, None, _token=object())
    with pytest.raises(TypeError):
        GatedBand(15, 99, "15-99", _token=object())

    class Answer(BaseModel):
        count: GatedCount

    with pytest.raises(ValidationError):
        Answer.model_validate({"count": 15})
    shown = Answer(count=gate_count(23, 100, 11))
    assert shown.model_dump_json() in ('{"count":20}', '{"count":25}')


def test_the_gate_applies_the_published_standard() -> None:
    for count in range(0, 200):
        for key in (0, 1000, 4095):
            gated = gate_count(count, key, 11)
            assert gated.value is None or (gated.value % 5 == 0 and gated.value >= 15
                                           and abs(gated.value - count) <= 4)
            assert (gated.value is None) == (count < 11 or gated.value is None)
    cell = gate_cell(3, 10, 100, 500, 11)
    assert cell.numerator.value is None and cell.denominator.value is not None
    assert cell.suppression_reason == "count_below_min"
    band = gate_band(640, 77, 11)
    assert (band.low, band.high) == (100, 999)
    assert gate_band(9, 5, 11).label == "fewer than 15"
    assert gate_published(20, 11).value == 20  # already released: passes as it is
    assert gate_published(21, 11, label="x").value in (20, 25)  # not the standard: gated
    report = plain(gate_figures({"rows": 1234, "k": 11, "note": "x", "nested": {"n": 3}},
                                11, label="r"))
    assert report["k"] == 11 and report["nested"]["n"] is None
    assert report["rows"] % 5 == 0 and abs(report["rows"] - 1234) <= 4


def test_every_route_returns_numbers_only_through_the_gate(env: ApiEnv) -> None:
    spec = env.client.app.openapi()  # type: ignore[attr-defined]
    comps = spec["components"]["schemas"]
    unexplained = []
    routes = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            routes += 1
            for code, answer in operation.get("responses", {}).items():
                if not code.startswith("2"):
                    continue
                for ctype, content in answer.get("content", {}).items():
                    if ctype != "application/json":
                        if route not in NOT_JSON:
                            unexplained.append(f"{route}: {ctype} answer")
                        continue
                    found: list[tuple[str, str]] = []
                    _walk(content.get("schema", {}), "", comps, set(), found)
                    for kind, where in found:
                        name = where if where and not where.startswith("[") \
                            else f"{route}{where}"
                        allowed = NOT_PERSON_COUNTS if kind == "number" else UNTYPED
                        if name not in allowed and route not in allowed:
                            unexplained.append(f"{route}: {kind} {name}")
    assert routes > 40
    assert not sorted(set(unexplained)), "\n".join(sorted(set(unexplained)))


def _standard(value: Any) -> bool:
    return value is None or (isinstance(value, int) and value % 5 == 0 and value >= 15)


def test_counts_from_an_old_snapshot_leave_through_the_gate(env: ApiEnv) -> None:
    """The test snapshot holds exact counts (an older rule): the API, the dashboard and its
    CSV show them gated, never as stored."""
    page = env.client.get("/v1/aggregates?limit=1000").json()
    assert page["data"]
    for row in page["data"]:
        assert _standard(row["numerator"]) and _standard(row["denominator"]), row
    note, _, table = env.client.get("/portal/public/aggregates.csv").text.partition("\n")
    assert note.startswith("# "), note  # the snapshot and rounding note comes first
    for row in csv.DictReader(io.StringIO(table)):
        for name in ("numerator", "denominator"):
            assert row[name] == "" or _standard(int(row[name])), row


def test_preview_answers_and_page_show_bands(env: ApiEnv) -> None:
    e = env
    _world(e)
    answer = e.client.post("/v1/requests/preview", headers=e.auth("researcher"), json={
        "kind": "individual", "variables": ["birth_year", "cte_completer"]}).json()
    for name in ("cohort_rows", "expected_rows", "persons", "suppressed_rows",
                 "linkage_suppressed_rows"):
        assert set(answer[name]) == {"low", "high", "label"}, (name, answer[name])
    board = e.client.get("/v1/board/requests", headers=e.auth("board"))
    assert board.status_code == 200
