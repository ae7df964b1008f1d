"""`c2c ingest` / `c2c submissions` as subprocesses: exit codes, SIGKILL mid-file, no plaintext."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from core.warehouse import connect_encrypted
from governance.db import session_factory, upgrade
from governance.partners import import_partners_csv
from tests.ingest_testdata import LEA, YEAR, calpads_text, write_calpads

ROOT = Path(__file__).resolve().parents[2]
C2C = [sys.executable, "-c", "from cli.main import main; main()"]
PARTNERS = ("org_code,name,kind,charter,agreement_status,agreement_start,agreement_end,"
            "liaison_contact,data_security_contact,swp_rounds\n"
            f"{LEA},Test Unified,lea,false,executed,2018-07-01,,a@x.org,s@x.org,5\n")


def setup_home(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    create_master_key(home / "master.key")
    upgrade(Settings(home=home).governance_url)  # the operator's `c2c migrate`
    (home / "partners.csv").write_text(PARTNERS, encoding="utf-8")
    sessions = session_factory(Settings(home=home).governance_url)
    with sessions.begin() as session:  # the operator's `c2c partners import`
        import_partners_csv(session, home / "partners.csv")
    sessions.kw["bind"].dispose()
    return {**os.environ, "C2C_HOME": str(home), "PYTHONPATH": str(ROOT)}


def c2c(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*C2C, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def open_warehouse(env: dict[str, str]):  # type: ignore[no-untyped-def]
    settings = Settings(home=Path(env["C2C_HOME"]))
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    return connect_encrypted(settings.warehouse_path, keys.warehouse_key_hex(),
                             temp_dir=settings.tmp_dir)


@pytest.mark.slow
def test_exit_codes_receipts_report_and_no_plaintext_at_rest(tmp_path: Path) -> None:
    env = setup_home(tmp_path)
    land = tmp_path / "land"
    write_calpads(land, "SENR", 3, last_name="Zyxwvutsrq")
    ok = c2c(env, "ingest", str(land))
    assert ok.returncode == 0, ok.stderr
    assert "1 accepted, 0 held, 0 rejected" in ok.stdout
    write_calpads(land, "SINF", 2, gender="Q")
    bad = c2c(env, "ingest", str(land))
    assert bad.returncode == 2
    assert "field gender" in bad.stdout and "code_set_gender" in bad.stdout
    report = tmp_path / "submissions.csv"
    done = c2c(env, "submissions", "--csv", str(report))
    assert done.returncode == 0, done.stderr
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("Org_Name,Academic_Year,CRSC,SCSC,SCTE,SELA,SENR,SINF,SPRG")
    assert lines[1].startswith("Test Unified,2022-23,0,0,0,0,3,0,0")
    home = Path(env["C2C_HOME"])
    for path in home.rglob("*"):
        if path.is_file():
            assert b"Zyxwvutsrq" not in path.read_bytes(), path


@pytest.mark.slow
def test_a_partners_csv_left_in_the_home_registers_nobody(tmp_path: Path) -> None:
    """``c2c ingest`` once fell back to ``$C2C_HOME/partners.csv`` when the governance store had
    no partners, a registry nobody imported or audited. Now only the store (or an explicit
    ``--partner-registry``) registers partners: the file is held, not accepted."""
    home = tmp_path / "home"
    home.mkdir()
    create_master_key(home / "master.key")
    upgrade(Settings(home=home).governance_url)
    (home / "partners.csv").write_text(PARTNERS, encoding="utf-8")
    env = {**os.environ, "C2C_HOME": str(home), "PYTHONPATH": str(ROOT)}
    land = tmp_path / "land"
    write_calpads(land, "SENR", 3)
    done = c2c(env, "ingest", str(land))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 accepted, 1 held, 0 rejected" in done.stdout, done.stdout
    named = c2c(env, "ingest", "--partner-registry", str(home / "partners.csv"), str(land))
    assert named.returncode == 0, named.stdout + named.stderr


def test_killed_mid_file_leaves_nothing_half_loaded_and_rerun_completes(tmp_path: Path) -> None:
    env = setup_home(tmp_path)
    folder = tmp_path / "land" / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    rows = 250_000
    line = calpads_text("SENR", 1)
    with open(folder / f"SENR {YEAR}.txt", "w", encoding="utf-8", newline="") as handle:
        for i in range(rows):
            handle.write(line.replace("^0000000000^", f"^{i:010d}^", 1))
    proc = subprocess.Popen([*C2C, "ingest", "--verbose", str(tmp_path / "land")], env=env,
                            cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for text in proc.stderr:
        if text.startswith("loading "):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    con = open_warehouse(env)
    assert con.execute("SELECT status FROM ingest.files").fetchall() == [("received",)]
    assert con.execute("SELECT count(*) FROM staging.calpads_senr").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM ingest.receipts").fetchone() == (0,)
    con.close()
    again = c2c(env, "ingest", str(tmp_path / "land"))
    assert again.returncode == 0, again.stderr
    con = open_warehouse(env)
    assert con.execute("SELECT status FROM ingest.files").fetchall() == [("accepted",)]
    assert con.execute("SELECT count(*), count(DISTINCT ssid) FROM staging.calpads_senr"
                       ).fetchone() == (rows, rows)
    assert con.execute("SELECT rows FROM ingest.receipts").fetchone() == (rows,)
    con.close()
