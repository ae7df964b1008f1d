"""The link works from one small LEA's first year up: training that cannot estimate a level
falls back to documented values and says so; Splink's own warnings are summarised, not
printed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

import linkage
import synth
from cli.main import app
from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from core.warehouse import connect_encrypted
from ingest import ingest_files
from ingest.partners_csv import load_partners_csv
from linkage import training
from linkage.training import TrainingReport, captured_splink_messages, summarise_message

SPLINK_RAW = ("unable to train", "You have called predict()", "not fully trained")


@pytest.fixture()
def pilot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """60 generated students, one academic year, ingested into an encrypted warehouse (the
    size at which Splink's EM used to fail with 'm_probability value 8.7e-307')."""
    home = tmp_path / "home"
    monkeypatch.setenv("C2C_HOME", str(home))
    monkeypatch.delenv("C2C_MASTER_KEY_FILE", raising=False)
    settings = Settings()
    create_master_key(settings.master_key_path)
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    landing = tmp_path / "landing"
    synth.generate(landing, students=60, seed=1, years=["2023-24"])
    con = connect_encrypted(settings.warehouse_path, keys.warehouse_key_hex(),
                            temp_dir=settings.tmp_dir)
    ingest_files(con, [landing / d for d in ("calpads", "college", "ccgi")], settings.raw_dir,
                 keys.derive("raw-store"), load_partners_csv(landing / "partners.csv"))
    con.close()
    return settings


@pytest.mark.slow
def test_link_on_sixty_students_one_year_succeeds_and_says_what_fell_back(
    pilot: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(app, ["link", "--run-id", "pilot-1"])
    assert result.exit_code == 0, result.output
    assert "training:" in result.output
    assert "documented fixed values" in result.output or "skipped" in result.output
    out, err = capfd.readouterr()
    for raw in SPLINK_RAW:  # Splink's own lines are summarised, not printed
        assert raw not in result.output + out + err
    summary = json.loads((pilot.runs_dir / "pilot-1" / "summary.json").read_text())
    assert summary["training"]["sessions_skipped"] or summary["training"]["steps_failed"]


@pytest.mark.slow
def test_em_that_fails_on_tiny_data_falls_back_instead_of_crashing(
    pilot: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # run EM however few pairs there are: on this data it drives an m below 1e-300, which
    # Splink refuses with a ValueError; the run goes on with the documented values
    monkeypatch.setattr(training, "EM_MIN_PAIRS", 0)
    keys = KeyProvider(pilot.master_key_path, pilot.keyring_path)
    con = connect_encrypted(pilot.warehouse_path, keys.warehouse_key_hex(),
                            temp_dir=pilot.tmp_dir)
    try:
        summary = linkage.run_annual_link(con, settings=pilot, run_id="pilot-em",
                                          runs_dir=pilot.runs_dir)
    finally:
        con.close()
    report = TrainingReport(**summary.training)
    assert any("EM on" in s for s in report.steps_failed), report.steps_failed
    assert report.fallback_levels or report.neutral_levels
    assert summary.clusters > 0


def test_splink_log_lines_are_captured_and_summarised() -> None:
    report = TrainingReport()
    logger = logging.getLogger("splink.internals.expectation_maximisation")
    with captured_splink_messages(report):
        for level in ("exact", "typo"):
            logger.warning(f"WARNING:\nLevel {level} on comparison dob not observed in "
                           "dataset, unable to train m value\n")
        logging.getLogger("splink.internals.linker").warning(
            "\n -- WARNING --\nYou have called predict(), but there are some parameter "
            "estimates which have neither been estimated or specified")
    assert report.splink_messages == {
        "Level exact on comparison dob not observed in dataset: unable to train m value": 1,
        "Level typo on comparison dob not observed in dataset: unable to train m value": 1,
        "predict() called with untrained parameters (defaults used)": 1,
    }
    assert summarise_message("WARNING: Deterministic matching rules led to no observed "
                             "matches!\nmore") == ("Deterministic matching rules led to no "
                                                   "observed matches!")
