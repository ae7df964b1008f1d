"""The link works from one small LEA's first year up: training that cannot estimate a level
falls back to documented values and says so; Splink's own warnings are summarised, not
printed."""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

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
    # run EM however few pairs there are, on the birth date alone: on this data it drives an
    # m below 1e-300, which Splink refuses with a ValueError; the run goes on with the
    # documented values
    monkeypatch.setattr(training, "EM_MIN_PAIRS", 0)
    monkeypatch.setattr(training, "EM_SESSIONS", (
        ("train_em_names", (("first_name", "last_name"),)), ("train_em_dob", (("dob",),))))
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


def test_a_level_em_drove_to_zero_takes_its_fallback_not_a_veto() -> None:
    """At the state's size EM's name and birth-date samples hold few true pairs, and it drove
    m of the levels those missed towards zero: a surname one keystroke off at -148 bits, an
    equal city at -220. Absence of true pairs in a sample is not evidence: such a level is
    filled as untrained (the 50k model's value), and the run summary says which."""
    from types import SimpleNamespace

    from linkage.model import comparisons
    from linkage.training import M_FLOOR, fill_untrained

    built = [c.get_comparison("duckdb") for c in comparisons()]
    by_name = {c.output_column_name: c for c in built}

    def level(comparison: str, label: str) -> Any:
        return next(lv for lv in by_name[comparison].comparison_levels
                    if lv.label_for_charts == label)

    typo = level("last_name", "surname one keystroke apart (Damerau-Levenshtein 1)")
    city = level("city", "Exact match on city")
    kept = level("last_name", "Jaro-Winkler distance of last_name >= 0.92")
    for lv, m in ((typo, 1.5e-48), (city, 6.4e-69), (kept, 0.02)):
        lv.m_probability, lv.u_probability = m, 0.001
    linker = SimpleNamespace(_settings_obj=SimpleNamespace(comparisons=built))
    report = TrainingReport()
    fill_untrained(linker, report)  # type: ignore[arg-type]
    fallback = json.loads(resources.files("linkage").joinpath(
        "data", "fallback_parameters.json").read_text(encoding="utf-8"))["comparisons"]
    for lv, comparison in ((typo, "last_name"), (city, "city")):
        # the 50k model's value, or neutral (m = u) for a level the table does not know
        want = fallback.get(comparison, {}).get(lv.label_for_charts, {}).get("m", 0.001)
        assert lv.m_probability == want > M_FLOOR
    assert kept.m_probability == 0.02  # a trained m above the floor stays EM's
    assert [c.split(":")[0] for c in report.collapsed_levels] == [
        "last_name / surname one keystroke apart (Damerau-Levenshtein 1)",
        "city / Exact match on city"]
    assert any("no true pair seen" in line for line in report.lines())


@pytest.mark.slow
def test_em_trains_the_names_on_dense_blocks_when_a_birth_date_is_shared_by_hundreds(
    tmp_path: Path,
) -> None:
    """At the state's size a birth date is shared by ~1,500 records: EM's sample of that block
    held a few hundred true pairs among 500k, and its "match" class filled with strangers or
    missed whole levels (a surname one keystroke off at -148 bits). Here 1,500 people share
    two birth dates, about as sparse. On the birth date alone EM gave a wholly different
    first name m 0.43 (strangers counted as matches) and a dropped second surname -6 bits
    (it is the fixture's commonest college variant). The names are now trained on the birth
    date with the other name beside it, a block hundreds of times denser."""
    import duckdb

    from core.settings import Settings
    from linkage.choose_backend import open_backend
    from linkage.identity_extras import identity_extras
    from linkage.model import EM_MAX_PAIRS, SEED, U_MAX_PAIRS, _linker
    from linkage.standardise import build_identities
    from linkage.training import EM_FIRST_NAME, train
    from tests.link_fixtures import make_population, write_staging

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_staging(con, make_population(1500, birth_days=2))
    records = sum(build_identities(con, "sparse", extras=identity_extras(con)).values())
    engine = open_backend(Settings(home=tmp_path / "home"), "sparse", warehouse=con)
    report = TrainingReport()
    try:
        with captured_splink_messages(report):
            linker = _linker(con, engine, [])
            train(linker, con, report, records=records, u_max_pairs=U_MAX_PAIRS,
                  em_max_pairs=EM_MAX_PAIRS, seed=SEED)
    finally:
        engine.close()
    sessions = {line.split(":")[0]: line.split("trains ")[1].split(", ")
                for line in report.em_sessions}
    assert set(sessions) == {"first_name, last_name", "last_name, dob", f"{EM_FIRST_NAME}, dob"}
    assert "first_name" in sessions["last_name, dob"]
    assert "last_name" in sessions[f"{EM_FIRST_NAME}, dob"]
    # the operator's `c2c link` prints each session
    assert any(line.startswith("EM on last_name, dob: ") for line in report.lines())
    m = {(c.output_column_name, lv.label_for_charts): lv.m_probability
         for c in linker._settings_obj.comparisons
         for lv in c._comparison_levels_excluding_null}
    # EM's match class holds the same people: a wholly different name is rare among them
    assert m[("first_name", "All other comparisons")] < 0.1
    assert m[("last_name", "All other comparisons")] < 0.1
    # the fixture's college variants, seen and weighed as evidence for a match
    assert m[("last_name", "one record keeps only the first surname of the other's two")] > 0.01
    assert m[("first_name", "nickname-equivalent (nicknames table)")] > 0.03
