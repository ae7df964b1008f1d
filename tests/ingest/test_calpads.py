"""CALPADS files: every type, both record-type forms, every layout version, rejections."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import tables
from core.calpads import LAYOUTS, Layout
from core.partners import AgreementStatus
from ingest import ReceiptStatus, ingest_files, release_held
from ingest.rawstore import read_all
from tests.ingest_testdata import (
    LEA,
    OTHER_LEA,
    YEAR,
    Env,
    calpads_text,
    partner,
    write_calpads,
)


def run(ienv: Env, *paths: Path, partners: list | None = None) -> list:  # type: ignore[type-arg]
    return ingest_files(ienv.con, list(paths) or [ienv.land], ienv.raw_dir, ienv.key,
                        partners if partners is not None else [partner()])


@pytest.mark.parametrize("ods", [True, False], ids=["ods", "upload"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"{lay.file_type}-{lay.version}")
def test_every_layout_and_form_loads_typed_rows(ienv: Env, layout: Layout, ods: bool) -> None:
    path = write_calpads(ienv.land, layout.file_type, 4, layout=layout, ods=ods)
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    assert (receipt.kind, receipt.partner_org, receipt.period, receipt.rows) == (
        layout.file_type, LEA, YEAR, 4)
    table = tables.calpads_staging(layout.file_type)
    ssid = "ssid" if "ssid" in layout.column_names(False) else "NULL"
    rows = ienv.con.execute(
        f"SELECT {ssid}, reporting_lea, line_no, file_id FROM {table} ORDER BY line_no"
    ).fetchall()
    assert [r[2] for r in rows] == [1, 2, 3, 4]
    assert all(r[1] == LEA and r[3] == receipt.file_id for r in rows)
    if rows[0][0] is not None:
        assert [r[0] for r in rows] == ["0000000000", "0000000001", "0000000002", "0000000003"]
    kinds = dict(ienv.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = 'staging' AND table_name = '{table.split('.')[1]}'").fetchall())
    for spec in layout.fields:
        assert kinds[spec.name] == ("DATE" if spec.kind == "date" else "VARCHAR")
    assert path.read_bytes() == read_all(ienv.raw_dir, receipt.file_id, ienv.key)


def test_year_first_name_form_and_utf8_bom_lf(ienv: Env) -> None:
    folder = ienv.land / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    text = calpads_text("SENR", 2, newline="\n")
    (folder / f"{YEAR} SENR.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    names = ienv.con.execute("SELECT record_type_code, first_name FROM staging.calpads_senr "
                            "ORDER BY line_no").fetchall()
    assert names == [("SENR-R", "Ana"), ("SENR-R", "José")]


def test_windows_1252_falls_back_and_warns(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 2, encoding="cp1252")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED
    assert any("Windows-1252" in w for w in receipt.warnings)
    first = ienv.con.execute("SELECT first_name FROM staging.calpads_senr WHERE line_no = 2")
    assert first.fetchone() == ("José",)


def rejected_one(ienv: Env) -> object:
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert receipt.error_count >= 1 and receipt.errors
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 0
    stored = ienv.scalar(f"SELECT count(*) FROM {tables.LOAD_ERRORS} WHERE file_id = ?",
                        [receipt.file_id])
    assert stored == len(receipt.errors)
    return receipt


def test_empty_file_rejected(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 0)
    receipt = rejected_one(ienv)
    assert receipt.errors[0].rule == "file_not_empty"  # type: ignore[attr-defined]


def test_wrong_delimiter_rejected(ienv: Env) -> None:
    path = write_calpads(ienv.land, "SENR", 2)
    path.write_text(path.read_text(encoding="utf-8").replace("^", ","), encoding="utf-8")
    error = rejected_one(ienv).errors[0]  # type: ignore[attr-defined]
    assert (error.rule, error.value, error.line) == ("delimiter_caret", ",", 1)


def test_wrong_column_count_on_line_one_rejected(ienv: Env) -> None:
    path = write_calpads(ienv.land, "SENR", 2)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\r\n".join(line + "^extra" for line in lines) + "\r\n", encoding="utf-8")
    error = rejected_one(ienv).errors[0]  # type: ignore[attr-defined]
    assert error.rule == "column_count" and error.value == "38" and "37 or 41" in error.message


def test_wrong_column_count_mid_file_names_the_line(ienv: Env) -> None:
    path = write_calpads(ienv.land, "SENR", 4)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit("^", 3)[0]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    receipt = rejected_one(ienv)
    assert [(e.line, e.rule) for e in receipt.errors] == [(3, "column_count")]  # type: ignore[attr-defined]


def test_bad_date_rejected_with_line_field_value(ienv: Env) -> None:
    path = write_calpads(ienv.land, "SENR", 3)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("20070115", "20070231", 1)
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    receipt = rejected_one(ienv)
    error = receipt.errors[0]  # type: ignore[attr-defined]
    assert (error.line, error.field, error.value, error.rule) == (
        2, "birth_date", "99999999", "date_ccyymmdd")  # the shape, never the value
    assert f"{error.file}, line 2, field birth_date" in error.describe()


def test_unknown_code_rejected(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 2, grade_level_code="13")
    errors = rejected_one(ienv).errors  # type: ignore[attr-defined]
    assert {(e.line, e.field, e.value, e.rule) for e in errors} == {
        (1, "grade_level_code", "99", "code_set_grade_level"),
        (2, "grade_level_code", "99", "code_set_grade_level")}


def test_name_content_type_mismatch_names_both(ienv: Env) -> None:
    write_calpads(ienv.land, "SINF", 2, name=f"SENR {YEAR}.txt")
    error = rejected_one(ienv).errors[0]  # type: ignore[attr-defined]
    assert error.rule == "name_content_type"
    assert "SENR" in error.message and "SINF" in error.message


def test_name_content_year_mismatch_names_both(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 2, name="SENR 2021-22.txt")
    error = rejected_one(ienv).errors[0]  # type: ignore[attr-defined]
    assert error.rule == "name_content_year"
    assert "2021-22" in error.message and "2022-2023" in error.message


def test_folder_lea_differs_from_content(ienv: Env) -> None:
    path = write_calpads(ienv.land, "SENR", 2)
    moved = ienv.land / "calpads" / OTHER_LEA / YEAR
    moved.mkdir(parents=True)
    path.rename(moved / path.name)
    [receipt] = run(ienv, partners=[partner(), partner(OTHER_LEA)])
    assert receipt.status == ReceiptStatus.REJECTED
    assert {e.rule for e in receipt.errors} == {"name_content_lea"}


def test_bad_file_does_not_stop_the_good_ones(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 2, grade_level_code="99")
    write_calpads(ienv.land, "SINF", 3)
    receipts = run(ienv)
    assert sorted((r.kind, r.status) for r in receipts) == [
        ("SENR", ReceiptStatus.REJECTED), ("SINF", ReceiptStatus.ACCEPTED)]
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_sinf") == 3


def test_resend_is_a_no_op_with_the_same_receipt(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 3)
    [first] = run(ienv)
    [again] = run(ienv)
    assert again == first
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 3
    assert ienv.scalar(f"SELECT count(*) FROM {tables.FILES}") == 1


def test_newer_file_supersedes_older_in_staging_both_kept_raw(ienv: Env) -> None:
    path = write_calpads(ienv.land, "SENR", 3)
    [old] = run(ienv)
    path.write_text(calpads_text("SENR", 5), encoding="utf-8")
    [new] = run(ienv)
    assert new.superseded == [old.file_id]
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 5
    assert ienv.scalar("SELECT count(DISTINCT file_id) FROM staging.calpads_senr") == 1
    status = ienv.scalar(f"SELECT status FROM {tables.FILES} WHERE file_id = ?", [old.file_id])
    assert status == "superseded"
    assert read_all(ienv.raw_dir, old.file_id, ienv.key).count(b"\r\n") == 3
    assert read_all(ienv.raw_dir, new.file_id, ienv.key).count(b"\r\n") == 5


def test_no_agreement_is_held_then_released(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 2)
    pending = partner(status=AgreementStatus.PENDING)
    [held] = run(ienv, partners=[pending])
    assert held.status == ReceiptStatus.HELD
    assert "no active data-sharing agreement" in held.message
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 0
    assert release_held(ienv.con, ienv.raw_dir, ienv.key, [pending]) == []
    [released] = release_held(ienv.con, ienv.raw_dir, ienv.key, [partner()])
    assert released.status == ReceiptStatus.ACCEPTED and released.file_id == held.file_id
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 2


def test_unregistered_partner_is_held(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 2)
    [held] = run(ienv, partners=[])
    assert held.status == ReceiptStatus.HELD and "not in the partner registry" in held.message


def test_unidentifiable_file_rejected(ienv: Env) -> None:
    (ienv.land / "notes.txt").write_text("hello,world\n", encoding="utf-8")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert receipt.errors[0].rule == "file_identification"
