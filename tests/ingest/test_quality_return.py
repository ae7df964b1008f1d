"""The data-quality return to each partner (ingest/quality.py, services/quality_return.py,
``/v1/partner/quality``, its CSV and the portal page), on CALPADS files ingested through the
real pipeline for two districts that share a student.

The attack: district A asks, every way it can, for what district B sent. A student enrolled
in both (same name and birth date, different SSIDs) must never make B's SSID, B's file or
the fact of that enrolment appear anywhere in A's return; B's own duplicate pair neither.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.calpads import CURRENT_LAYOUT
from core.warehouse import open_warehouse
from governance.partners import list_partners
from ingest import ingest_files
from ingest.quality import quality_return
from tests.api_support import LEA, OTHER_LEA, ApiEnv
from tests.ingest_testdata import record

SENR = CURRENT_LAYOUT["SENR"]
SINF = CURRENT_LAYOUT["SINF"]
B_SSIDS = ("9000000001", "9000000002", "9000000003")


def _student(ssid: str, first: str, last: str, birth: str, exit_date: str, year_id: str,
             lea: str, i: int) -> str:
    return record(SENR, True, i, ssid=ssid, first_name=first, last_name=last,
                  birth_date=birth, enrollment_exit_date=exit_date, gender="F",
                  academic_year_id=year_id, reporting_lea=lea)


def _write(root: Path, lea: str, year: str, name: str, lines: list[str]) -> Path:
    folder = root / "calpads" / lea / year
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(line + "\r\n" for line in lines), encoding="utf-8")
    return path


def _districts(root: Path) -> list[Path]:
    a = LEA
    y1, y2 = "2022-2023", "2023-2024"
    return [
        # A, last year: one gap (an exit) in four rows
        _write(root, a, "2022-23", "SENR 2022-23.txt", [
            _student("1000000001", "Maria", "Lopez", "20070115", "20230601", y1, a, 0),
            _student("1000000002", "Juan", "Perez", "20080220", "20230601", y1, a, 1),
            _student("1000000003", "Ana", "Diaz", "20070301", "", y1, a, 2),
            _student("1000000004", "Luis", "Soto", "20070401", "20230601", y1, a, 3)]),
        # A, this year: capitals, a missing birth date, missing exits, and Maria Lopez under
        # a second SSID (A's own duplicate); José Ramírez is also enrolled at B
        _write(root, a, "2023-24", "SENR 2023-24.txt", [
            _student("1000000001", "MARIA", "LOPEZ", "20070115", "", y2, a, 0),
            _student("1000000005", "María", "López", "20070115", "20240601", y2, a, 1),
            _student("1000000002", "Juan", "Perez", "", "20240601", y2, a, 2),
            _student("1000000006", "José", "Ramírez", "20090909", "", y2, a, 3)]),
        # A, a file that fails validation: two bad birth dates and a short SSID
        _write(root, a, "2023-24", "SINF 2023-24.txt", [
            record(SINF, True, 0, ssid="1000000001", birth_date="20071340",
                   academic_year_id=y2, reporting_lea=a),
            record(SINF, True, 1, ssid="1000000002", birth_date="20079999",
                   academic_year_id=y2, reporting_lea=a),
            record(SINF, True, 2, ssid="12345", academic_year_id=y2, reporting_lea=a)]),
        # B: the same José Ramírez and Maria Lopez under B's SSIDs, B's own duplicate pair,
        # and a failed file of B's
        _write(root, OTHER_LEA, "2023-24", "SENR 2023-24.txt", [
            _student(B_SSIDS[0], "Jose", "Ramirez", "20090909", "", y2, OTHER_LEA, 0),
            _student(B_SSIDS[1], "Maria", "Lopez", "20070115", "", y2, OTHER_LEA, 1),
            _student(B_SSIDS[2], "MARIA", "LOPEZ", "20070115", "", y2, OTHER_LEA, 2)]),
        _write(root, OTHER_LEA, "2023-24", "SINF 2023-24.txt", [
            record(SINF, True, 0, ssid="777", academic_year_id=y2, reporting_lea=OTHER_LEA)]),
    ]


def _ingest(env: ApiEnv, root: Path) -> None:
    with env.sessions() as session:
        partners = list_partners(session)
    con = open_warehouse(env.settings)
    try:
        ingest_files(con, _districts(root), env.settings.raw_dir, b"r" * 32, partners)
    finally:
        con.close()


def test_the_return_counts_gaps_pairs_and_grouped_failures(env: ApiEnv, tmp_path: Path
                                                            ) -> None:
    _ingest(env, tmp_path)
    con = open_warehouse(env.settings, read_only=True)
    try:
        result = quality_return(con, LEA)
    finally:
        con.close()
    totals = {c.year: c for c in result.completeness if c.file is None}
    this, last = totals["2023-24"], totals["2022-23"]
    assert (this.rows, last.rows) == (4, 4)
    assert this.counts == {"missing_birth_date": 1, "missing_exit": 2, "missing_ssid": 0,
                           "names_in_capitals": 1, "missing_high_school": None}
    assert last.counts["missing_exit"] == 1 and last.counts["names_in_capitals"] == 0
    assert this.last_year == "2022-23" and this.last_year_share["missing_exit"] == 0.25
    assert this.share("missing_exit") == 0.5
    # per submission: the year's one accepted SENR file
    assert [c.file for c in result.completeness if c.year == "2023-24" and c.file] == [
        "SENR 2023-24.txt"]
    assert [(p.id_a, p.id_b, p.rule) for p in result.pairs] == [
        ("1000000001", "1000000005", "same_name_and_birth_date")]
    groups = {(f.kind, f.field): f for f in result.failures}
    assert groups[("SINF", "birth_date")].errors == 2
    assert groups[("SINF", "birth_date")].example_lines == "1, 2"
    assert groups[("SINF", "ssid")].errors == 1
    assert not any(f.capped for f in result.failures)  # every error of the file is listed
    assert all(f.year == "2023-24" for f in result.failures)


def test_attack_a_partner_never_sees_another_partners_records(env: ApiEnv, tmp_path: Path
                                                               ) -> None:
    _ingest(env, tmp_path)
    a = env.auth("partner")
    answers = [
        env.client.get("/v1/partner/quality", headers=a),
        env.client.get(f"/v1/partner/quality?org_code={OTHER_LEA}&org={OTHER_LEA}", headers=a),
        env.client.get("/v1/partner/quality.csv", headers=a),
        env.client.get(f"/v1/partner/quality.csv?org={OTHER_LEA}", headers=a),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        for ssid in (*B_SSIDS, "777"):
            assert ssid not in answer.text
        assert OTHER_LEA not in answer.text
    body = answers[0].json()
    assert body["org_code"] == LEA
    assert [(p["id_a"], p["id_b"]) for p in body["possible_multiple_ids"]] == [
        ("1000000001", "1000000005")]  # José at B makes no pair, and says nothing
    assert "section,year" in answers[2].text and "possible_multiple_ids" in answers[2].text
    # B gets its own pair and its own failure, none of A's
    b = env.client.get("/v1/partner/quality", headers=env.auth("partner_other")).json()
    assert [(p["id_a"], p["id_b"]) for p in b["possible_multiple_ids"]] == [
        (B_SSIDS[1], B_SSIDS[2])]
    assert [f["field"] for f in b["validation_failures"]] == ["ssid"]
    assert "1000000" not in str(b)
    # the portal page and its CSV, signed in as A
    signin = env.client.get("/portal/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', signin.text)
    assert token
    env.client.post("/portal/signin", data={"api_key": env.keys["partner"],
                                            "csrf_token": token.group(1)})
    for url in ("/portal/partner/quality", "/portal/partner/quality.csv"):
        page = env.client.get(url)
        assert page.status_code == 200, page.text
        assert "1000000005" in page.text
        assert not any(s in page.text for s in (*B_SSIDS, OTHER_LEA))
    # no other role reads a partner's return
    for who in ("researcher", "board", "admin"):
        assert env.client.get("/v1/partner/quality", headers=env.auth(who)).status_code == 403
