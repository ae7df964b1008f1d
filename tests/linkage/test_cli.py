"""`c2c link`, `c2c evaluate`, `c2c export crosswalk` on a real encrypted warehouse."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.errors import NotFound
from tests.link_fixtures import encrypted_home_with_staging, make_population, truth_table


@pytest.mark.slow
def test_link_evaluate_export_on_encrypted_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    people = make_population(150, seed=2, twins=3, second_ssid=2)
    encrypted_home_with_staging(home, monkeypatch, people)
    pq.write_table(truth_table(people), tmp_path / "truth.parquet")

    runner = CliRunner()
    early = runner.invoke(app, ["link-provisional"])  # nothing to score against yet
    assert isinstance(early.exception, NotFound)
    assert "no finished annual link run" in str(early.exception)
    linked = runner.invoke(app, ["link", "--run-id", "cli-1"])
    assert linked.exit_code == 0, linked.output
    assert "pairs scored" in linked.output and "match rates" in linked.output
    assert (home / "runs" / "cli-1" / "model.json").exists()

    # every record is in the crosswalk: no new record, no id changed
    provisional = runner.invoke(app, ["link-provisional", "--run-id", "w1"])
    assert provisional.exit_code == 0, provisional.output
    assert "0 new records" in provisional.output and "PROVISIONAL" in provisional.output
    # --file keeps the search to the rows of the files named (here a file that sent nothing)
    scoped = runner.invoke(app, ["link-provisional", "--run-id", "w2", "--file", "none-such"])
    assert scoped.exit_code == 0 and "0 new records" in scoped.output, scoped.output
    judged = runner.invoke(app, ["link-provisional", "--agreement"])
    assert judged.exit_code == 0 and "judged 0" in judged.output, judged.output

    evaluated = runner.invoke(app, ["evaluate", "--truth", str(tmp_path / "truth.parquet")])
    assert evaluated.exit_code == 0, evaluated.output
    assert "precision" in evaluated.output and "twins kept apart" in evaluated.output

    out = tmp_path / "out" / "crosswalk.parquet"
    exported = runner.invoke(app, ["export", "crosswalk", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    table = pq.read_table(out)
    assert table.num_rows == len(pq.read_table(tmp_path / "truth.parquet"))
    assert set(table.column("run_id").to_pylist()) == {"cli-1"}

    # nothing under C2C_HOME holds a plaintext identifier (warehouse encrypted, runs clean)
    # Only names of 6+ letters: a 3-letter name such as LEE turns up by chance in a few MB of
    # ciphertext (about once per 16 MB); 6 letters by chance is ~1e-8 per file.
    surnames = {p.last.split("-")[0].encode() for p in people}
    surnames = {s for s in surnames if len(s) >= 6}
    assert surnames
    for path in home.rglob("*"):
        if path.is_file() and path.name not in ("master.key", "keyring.json"):
            data = path.read_bytes()
            leaked = [s for s in surnames if s in data]
            assert not leaked, f"{path} holds {leaked[:3]}"
