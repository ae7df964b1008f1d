"""`c2c ingest` on a folder the generator wrote; progress is one line in a log; held files
stand apart from accepted ones; the submissions view fits 80 columns."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.main import app
from cli.submissions_view import print_submissions, row_line
from core.keys import create_master_key
from core.swp_rounds import load_rounds, rounds_within
from ingest.submissions import SubmissionRow
from synth import generate
from synth.orgs import LEAS

runner = CliRunner()


@pytest.mark.slow
def test_ingest_accepts_a_generated_folder(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    home, out = tmp_path / "home", tmp_path / "gen"
    monkeypatch.setenv("C2C_HOME", str(home))
    for name in ("C2C_MASTER_KEY_FILE", "C2C_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    create_master_key(home / "master.key")
    generate(out, students=50, seed=3, years=["2023-24"])
    # one LEA's agreement not yet executed: its files are held, not loaded
    registry = tmp_path / "partners.csv"
    pending = LEAS[0].code
    registry.write_text("".join(
        line.replace(",executed,", ",pending,") if line.startswith(pending + ",") else line
        for line in (out / "partners.csv").read_text().splitlines(keepends=True)))

    result = runner.invoke(app, ["ingest", str(out), "--partner-registry", str(registry)])
    assert result.exit_code == 0, result.output
    assert re.search(r"skipped \S*partners\.csv: the partner registry", result.output)
    assert re.search(r"skipped \S*truth\.parquet: the generator's answer key", result.output)
    files = [p for p in out.rglob("*") if p.is_file()]
    # not a terminal: no bars, one summary line with N of M and bytes
    assert re.search(rf"ingest files: {len(files) - 2} of {len(files) - 2}, [\d.]+ [kM]B in",
                     result.output)
    summary = re.search(r"(\d+) accepted, (\d+) held, 0 rejected \(held files are stored, "
                        r"not loaded\)", result.output)
    assert summary and int(summary.group(1)) > 0 and int(summary.group(2)) > 0
    assert "HELD, not loaded" in result.output and "c2c release-held" in result.output
    held_lines = [line for line in result.output.splitlines() if line.startswith("held ")]
    assert held_lines and all(pending in line for line in held_lines)


def test_synthetic_partners_are_only_in_rounds_of_generated_years(tmp_path: Path) -> None:
    assert rounds_within(["2021-22", "2022-23", "2023-24"]) == [4, 5]
    assert rounds_within(["2023-24"]) == []
    generate(tmp_path / "g", students=50, seed=1, years=["2021-22", "2022-23", "2023-24"])
    rounds = load_rounds()
    with (tmp_path / "g" / "partners.csv").open(newline="") as handle:
        partners = list(csv.DictReader(handle))
    for row in partners:
        listed = [int(r) for r in row["swp_rounds"].split(";") if r]
        for number in listed:
            assert set(rounds[number].years) <= {"2021-22", "2022-23", "2023-24"}


def test_submissions_fit_80_columns_and_status_only_where_a_round_requires() -> None:
    rows = [
        SubmissionRow("0161119", "A Very Long Unified School District Name Indeed", "2021-22",
                      {t: 12345 for t in ("CRSC", "SCSC", "SCTE", "SELA", "SENR", "SINF",
                                          "SPRG")}, rounds=[4], missing=["SPRG"],
                      deadline=date(2022, 11, 1), deadline_status="overdue by 1490 days"),
        SubmissionRow("0161119", "x", "2023-24", {"SENR": 3, "SINF": 0}, rounds=[],
                      deadline_status="not required"),
    ]
    buffer = io.StringIO()
    print_submissions(Console(file=buffer, width=80), rows, "CALPADS submissions")
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)
    assert "overdue by 1490 days" in lines[1] and "0161119 2021-22" in lines[1]
    assert lines[2].endswith("not required") and "overdue" not in lines[2]
    assert "overdue" not in row_line(rows[1])
