"""Submission report (K12 SWP rounds as data), partners CSV loader, asset-check validators."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from core.errors import InputRejected
from core.partners import AgreementStatus
from ingest import IngestOptions, ingest_files
from ingest.partners_csv import load_partners_csv
from ingest.staging_checks import no_files_left_received, row_counts_match_receipts
from ingest.submissions import CSV_COLUMNS, load_rounds, submission_report, write_csv
from tests.ingest_testdata import LEA, OTHER_LEA, Env, partner, write_calpads


def test_rounds_table_is_data_with_the_required_years() -> None:
    rounds = load_rounds()
    assert rounds[1].years == ("2018-19", "2019-20", "2020-21", "2021-22")
    assert rounds[2].years == ("2019-20", "2020-21", "2021-22", "2022-23")
    assert rounds[3].years == ("2020-21", "2021-22", "2022-23")
    assert rounds[4].years == ("2021-22", "2022-23")
    assert rounds[5].years == ("2022-23",)
    assert {r.deadline_month_day for r in rounds.values()} == {(11, 1)}


def test_report_counts_missing_and_deadline(ienv: Env, tmp_path: Path) -> None:
    for file_type, n in (("SENR", 4), ("SINF", 3), ("CRSC", 2)):
        write_calpads(ienv.land, file_type, n)
    partners = [partner(rounds=[5]), partner(OTHER_LEA, rounds=[4])]
    ingest_files(ienv.con, [ienv.land], ienv.raw_dir, ienv.key, partners,
                 options=IngestOptions(today=date(2023, 9, 15)))
    rows = submission_report(ienv.con, partners, date(2023, 10, 1))
    by_key = {(r.org_code, r.academic_year): r for r in rows}
    assert sorted(by_key) == [(LEA, "2022-23"), (OTHER_LEA, "2021-22"), (OTHER_LEA, "2022-23")]
    mine = by_key[(LEA, "2022-23")]
    assert mine.counts == {"CRSC": 2, "SCSC": 0, "SCTE": 0, "SELA": 0, "SENR": 4, "SINF": 3,
                           "SPRG": 0}
    assert mine.missing == ["SCSC", "SCTE", "SELA", "SPRG"]
    assert mine.deadline == date(2023, 11, 1) and mine.deadline_status == "due in 31 days"
    late = submission_report(ienv.con, partners, date(2023, 11, 11))
    assert {r.deadline_status for r in late if r.org_code == OTHER_LEA} == {
        "overdue by 10 days", f"overdue by {(date(2023, 11, 11) - date(2022, 11, 1)).days} days"}
    out = tmp_path / "report.csv"
    write_csv(rows, out)
    with open(out, encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert tuple(records[0]) == CSV_COLUMNS
    assert records[0]["Org_Name"] == f"District {LEA}" and records[0]["SENR"] == "4"
    assert records[0]["Missing"] == "SCSC;SCTE;SELA;SPRG"


def test_complete_year_reports_complete(ienv: Env) -> None:
    for file_type in ("CRSC", "SCSC", "SCTE", "SELA", "SENR", "SINF", "SPRG"):
        write_calpads(ienv.land, file_type, 2)
    partners = [partner(rounds=[5])]
    ingest_files(ienv.con, [ienv.land], ienv.raw_dir, ienv.key, partners,
                 options=IngestOptions(today=date(2023, 9, 15)))
    assert submission_report(ienv.con, partners, date(2023, 9, 14))[0].missing == [
        "CRSC", "SCSC", "SCTE", "SELA", "SENR", "SINF", "SPRG"]
    [row] = submission_report(ienv.con, partners, date(2023, 10, 1))
    assert row.missing == [] and row.deadline_status == "complete"
    assert row.counts["SPRG"] == 2


def test_partners_csv_loader(tmp_path: Path) -> None:
    path = tmp_path / "partners.csv"
    path.write_text(
        "org_code,name,kind,charter,agreement_status,agreement_start,agreement_end,"
        "liaison_contact,data_security_contact,swp_rounds\n"
        "0112345,Test USD,lea,false,executed,2021-07-01,,a@x.org,s@x.org,1;3\n"
        "111,Test College,college,false,pending,,,,,\n", encoding="utf-8")
    first, second = load_partners_csv(path)
    assert first.swp_rounds == [1, 3] and first.agreement_active(date(2024, 1, 1))
    assert second.agreement_status == AgreementStatus.PENDING and second.swp_rounds == []
    path.write_text("org_code,name,kind,agreement_start\n1,X,lea,someday\n", encoding="utf-8")
    with pytest.raises(InputRejected) as caught:
        load_partners_csv(path)
    assert caught.value.location is not None and caught.value.location.line == 2
    assert caught.value.location.field == "agreement_start"


def test_checks_pass_and_detect_tampering(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 3)
    ingest_files(ienv.con, [ienv.land], ienv.raw_dir, ienv.key, [partner()])
    assert row_counts_match_receipts(ienv.con).passed
    assert no_files_left_received(ienv.con).passed
    ienv.con.execute("DELETE FROM staging.calpads_senr WHERE line_no = 2")
    result = row_counts_match_receipts(ienv.con)
    assert not result.passed and result.metadata["mismatched_files"] == 1
