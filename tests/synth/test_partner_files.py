"""College and CCGI CSVs use the core layouts; partners.csv is a valid registry."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest

from core.partner_formats import CCGI_ACTIVITY, COLLEGE_AWARDS, COLLEGE_ENROLLMENTS, CSV_FORMATS
from core.partners import AgreementStatus, Partner, PartnerKind
from synth import generate
from synth.orgs import COLLEGES, LEAS
from tests.synth_support import calpads_rows, csv_rows, truth


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("partners")
    generate(out, students=1000, seed=5, years=["2021-22", "2022-23", "2023-24"])
    return out


def _kind(path: Path) -> str:
    return re.sub(r"_(\d{3}|\d{4}-\d{2}-\d{2})$", "", path.stem)


def test_csv_headers_equal_core_formats_and_values_follow_code_sets(tree: Path) -> None:
    paths = sorted((tree / "college").glob("*/*.csv")) + sorted((tree / "ccgi").glob("*.csv"))
    assert len(paths) == len(COLLEGES) * 6 * 3 + len(list((tree / "ccgi").glob("*.csv")))
    rows_seen = 0
    for path in paths:
        fmt = CSV_FORMATS[_kind(path)]
        with path.open(encoding="utf-8", newline="") as fh:
            assert next(csv.reader(fh)) == list(fmt.columns)
        codes = dict(fmt.code_sets)
        for line_no, row in csv_rows(path):
            rows_seen += 1
            assert None not in row and None not in row.values(), (path.name, line_no)
            for name in fmt.required:
                assert row[name], (path.name, line_no, name)
            for name, allowed in codes.items():
                assert row[name] in allowed, (path.name, line_no, name, row[name])
            for name in fmt.date_columns:
                if row[name]:
                    date.fromisoformat(row[name])
    assert rows_seen > 5000


def test_college_identity_fields(tree: Path) -> None:
    statuses = {"S": 0, "C": 0}
    with_ssid = total = 0
    upper_seen = False
    for path in sorted((tree / "college").glob("*/college_students_*.csv")):
        college, term = path.parent.name, path.stem.rsplit("_", 1)[1]
        for _, row in csv_rows(path):
            total += 1
            assert row["college_code"] == college
            statuses[row["student_id_status"]] += 1
            if row["student_id_status"] == "S":
                assert re.fullmatch(r"\d{9}", row["student_id"])
            assert row["first_term_id"] <= term  # YYT sorts in time order
            if row["ssid"]:
                with_ssid += 1
                assert re.fullmatch(r"\d{10}", row["ssid"])
            upper_seen |= college == "231" and row["last_name"].isupper()
    assert statuses["S"] > 0 and statuses["C"] > 0
    assert 0.1 < with_ssid / total < 0.6  # SSID populated for a fraction only
    assert upper_seen


def test_the_high_school_a_college_record_names(tree: Path) -> None:
    """CCCApply's high school last attended: a school the student attended (SENR), unless
    the truth tags it misreported; blank for some; adults with no K-12 record here name a
    school now and then."""
    owner = {(r["file"], r["line_no"]): r for r in truth(tree)}
    attended: dict[object, set[str]] = {}
    for path in sorted((tree / "calpads").glob("*/*/SENR *.txt")):
        rel = path.relative_to(tree).as_posix()
        for line_no, row in calpads_rows(path):
            person = owner[(rel, line_no)]["true_person_id"]
            attended.setdefault(person, set()).add(row["school_of_attendance"])
    named = blank = misreported = adults_named = adults = 0
    for path in sorted((tree / "college").glob("*/college_students_*.csv")):
        rel = path.relative_to(tree).as_posix()
        for line_no, row in csv_rows(path):
            record = owner[(rel, line_no)]
            tags = str(record["noise"]).split(";")
            cds = row["high_school_cds"]
            assert cds == "" or re.fullmatch(r"\d{14}", cds), (rel, line_no, cds)
            schools = attended.get(record["true_person_id"])
            if schools is None:
                adults += 1
                adults_named += bool(cds)
            elif not cds:
                blank += 1
            elif "high_school_wrong" in tags:
                misreported += 1
            else:
                named += 1
                assert cds[7:] in schools, (rel, line_no, cds, schools)
    assert named > 300 and 0.05 < blank / (named + blank + misreported) < 0.3
    assert misreported < named / 10
    assert 0 < adults_named < adults


def test_enrollments_have_vocational_sam_codes_and_awards_have_sp02_codes(tree: Path) -> None:
    sams: set[str] = set()
    awards: set[str] = set()
    for path in (tree / "college").glob("*/college_enrollments_*.csv"):
        for _, row in csv_rows(path):
            sams.add(row["sam_code"])
            assert re.fullmatch(r"\d{6}", row["top_code"])
            float(row["units_earned"])
    for path in (tree / "college").glob("*/college_awards_*.csv"):
        awards.update(row["award_type"] for _, row in csv_rows(path))
    assert sams & {"A", "B", "C", "D"} and "E" in sams
    assert awards and awards <= set(dict(COLLEGE_AWARDS.code_sets)["award_type"])
    assert COLLEGE_ENROLLMENTS.columns[0] == "college_code"


def test_ccgi_weekly_files(tree: Path) -> None:
    files = sorted((tree / "ccgi").glob("ccgi_activity_*.csv"))
    days = [date.fromisoformat(p.stem.rsplit("_", 1)[1]) for p in files]
    assert all(d.weekday() == 0 for d in days)
    assert all((b - a).days == 7 for a, b in zip(days, days[1:], strict=False))
    with_ssid = total = 0
    for path, day in zip(files, days, strict=True):
        for _, row in csv_rows(path):
            total += 1
            assert row["activity_week"] == day.isoformat()
            assert len(row["school_cds"]) == 14 and row["grade_level"] in ("09", "10", "11", "12")
            with_ssid += bool(row["ssid"])
    assert total > 500 and with_ssid / total > 0.8
    assert CCGI_ACTIVITY.columns[-1] == "activity_week"


def test_partners_csv_is_a_valid_registry_covering_every_sender(tree: Path) -> None:
    with (tree / "partners.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    partners = []
    for row in rows:
        partners.append(Partner(
            org_code=row["org_code"], name=row["name"], kind=PartnerKind(row["kind"]),
            charter=row["charter"] == "true",
            agreement_status=AgreementStatus(row["agreement_status"]),
            agreement_start=_date(row["agreement_start"]),
            agreement_end=_date(row["agreement_end"]),
            swp_rounds=[int(r) for r in row["swp_rounds"].split(";") if r],
        ))
    by_code = {p.org_code: p for p in partners}
    senders = {p.name for p in (tree / "calpads").iterdir()} | {
        p.name for p in (tree / "college").iterdir()} | {"CCGI"}
    for code in senders:
        assert by_code[code].agreement_active(date(2024, 7, 1)), code
    assert sum(1 for lea in LEAS if by_code[lea.code].charter) >= 1
    assert {p.agreement_status for p in partners} >= {
        AgreementStatus.EXECUTED, AgreementStatus.PENDING, AgreementStatus.EXPIRED,
        AgreementStatus.NONE}
    assert all(len(p.org_code) == 7 for p in partners if p.kind in ("lea", "coe"))
    assert all(len(p.org_code) == 3 for p in partners if p.kind == "college")
