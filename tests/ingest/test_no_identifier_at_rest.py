"""Issue #20, the ingest side: no identifier value at rest in receipts, errors or run metadata."""

from __future__ import annotations

from dagster_project.assets.ingest import receipt_metadata
from ingest import ReceiptStatus, ingest_files
from tests.ingest_testdata import Env, partner, write_calpads

# the ienv fixture (a real encrypted warehouse and raw store) comes from tests/conftest.py

ISO_DOB = "2007-01-15"
BAD_SSID = "12345678A9"


def test_rejection_names_file_line_field_but_never_the_value(ienv: Env) -> None:
    write_calpads(ienv.land, "SINF", 3, birth_date=ISO_DOB, ssid=BAD_SSID)
    [receipt] = ingest_files(ienv.con, [ienv.land], ienv.raw_dir, ienv.key, [partner()])
    assert receipt.status == ReceiptStatus.REJECTED
    fields = {(e.line, e.field) for e in receipt.errors}
    assert {(1, "birth_date"), (1, "ssid")} <= fields
    dob = next(e for e in receipt.errors if e.field == "birth_date")
    assert dob.value == "9999-99-99"  # the shape tells what is wrong, not whose date it is
    assert "line 1, field birth_date" in dob.describe()
    stored = receipt.model_dump_json()
    metadata = str(receipt_metadata([receipt]))
    for text in (stored, metadata, receipt.message):
        assert ISO_DOB not in text and BAD_SSID not in text



def test_shape_mask() -> None:
    from core.errors import masked_value

    assert masked_value("2007-01-15") == "9999-99-99"
    assert masked_value("Ana María") == "Aaa Aaaaa"
    assert masked_value("x" * 40) == "a" * 16 + "…"


def test_a_killed_link_run_is_marked_abandoned_when_the_next_one_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import secrets
    from datetime import datetime

    import pytest

    from core import tables
    from core.errors import InputRejected
    from core.settings import Settings
    from core.warehouse import connect_encrypted
    from linkage.run import run_annual_link
    from linkage.schema import ensure_schema

    con = connect_encrypted(tmp_path / "wh.duckdb", secrets.token_hex(32), temp_dir=tmp_path)
    ensure_schema(con)
    # What kill -9 leaves: the run's row is written at its start, autocommitted, never finished.
    con.execute(f"INSERT INTO {tables.LINK_RUNS} (run_id, started_at, status) "
                "VALUES ('killed-1', ?, 'running')", [datetime(2026, 11, 1)])
    with pytest.raises(InputRejected):  # nothing staged: this run stops early, but it started
        run_annual_link(con, settings=Settings(home=tmp_path), run_id="next-1",
                        runs_dir=tmp_path / "runs")
    status, finished = con.execute(f"SELECT status, finished_at FROM {tables.LINK_RUNS} "
                                   "WHERE run_id = 'killed-1'").fetchone()
    assert status == "abandoned" and finished is not None
    con.close()
