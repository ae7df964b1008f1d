"""``c2c generate`` end to end through the Typer app and the console entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app


def test_generate_command_writes_the_tree_and_reports_time(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--students", "150",
                                      "--seed", "4", "--years", "2022-23,2023-24"])
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and " s;" in result.output
    assert (tmp_path / "calpads" / "1975309" / "2022-23" / "SENR 2022-23.txt").exists()
    assert (tmp_path / "truth.parquet").exists() and (tmp_path / "partners.csv").exists()


def test_bad_years_exit_with_code_2_and_name_the_field(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "generate", "--out",
         str(tmp_path), "--students", "10", "--years", "2022-24"],
        capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "years" in done.stderr and "2022-24" in done.stderr


def test_generate_with_defects_names_the_chosen_partners(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--students", "150",
                                      "--seed", "4", "--years", "2023-24",
                                      "--defects", "upper_ascii_lea,college_no_ssid"])
    assert result.exit_code == 0, result.output
    assert "defect upper_ascii_lea:" in result.output
    assert "defect college_no_ssid:" in result.output


def test_unknown_defect_profile_exits_with_code_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "generate", "--out",
         str(tmp_path), "--students", "10", "--defects", "late_exit,bogus"],
        capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "defects" in done.stderr and "bogus" in done.stderr


def test_scale_presets_are_shares_of_the_state_and_replace_students(tmp_path: Path) -> None:
    from synth.world import SCALES, STATE_STUDENTS

    assert SCALES == {"1%": 58_500, "10%": 585_000, "100%": STATE_STUDENTS}
    for args in (["--scale", "5%"], ["--scale", "1%", "--students", "10"]):
        done = subprocess.run(
            [sys.executable, "-c", "from cli.main import main; main()", "generate", "--out",
             str(tmp_path), "--years", "2023-24", *args],
            capture_output=True, text=True, check=False)
        assert done.returncode == 2, done.stderr
        assert "scale" in done.stderr and "10%" in done.stderr and "100%" in done.stderr
