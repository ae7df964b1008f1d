"""End to end: the synthetic landing tree (synth.generate_small) through ingest and the report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.calpads import FILE_TYPES
from ingest import ReceiptStatus, ingest_files
from ingest.partners_csv import load_partners_csv
from ingest.staging_checks import no_files_left_received, row_counts_match_receipts
from ingest.submissions import submission_report
from synth.generator import generate_small
from tests.ingest_testdata import Env


def test_generated_tree_ingests_and_reports(ienv: Env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate_small(out, seed=7)
    partners = load_partners_csv(out / "partners.csv")
    lea = sorted(p.name for p in (out / "calpads").iterdir())[0]
    college = sorted(p.name for p in (out / "college").iterdir())[0]
    paths = [out / "calpads" / lea, out / "college" / college]
    receipts = ingest_files(ienv.con, paths, ienv.raw_dir, ienv.key, partners)
    sent = sorted(p for base in paths for p in base.rglob("*") if p.is_file())
    assert len(receipts) == len(sent)
    for receipt in receipts:
        if receipt.status == ReceiptStatus.REJECTED:  # the generator writes empty CALPADS files
            assert [e.rule for e in receipt.errors] == ["file_not_empty"], receipt.message
        else:
            assert receipt.status == ReceiptStatus.ACCEPTED, receipt.message
    accepted = [r for r in receipts if r.status == ReceiptStatus.ACCEPTED]
    assert {r.kind for r in accepted} >= {"SENR", "SINF", "college_students"}
    assert row_counts_match_receipts(ienv.con).passed
    assert no_files_left_received(ienv.con).passed
    rows = submission_report(ienv.con, partners, date.today())
    mine = [r for r in rows if r.org_code == lea]
    assert {r.academic_year for r in mine} >= {"2022-23", "2023-24"}
    for row in mine:
        expected = {t: sum(r.rows for r in accepted if r.partner_org == lea and r.kind == t
                           and r.period == row.academic_year) for t in FILE_TYPES}
        assert row.counts == expected
