"""Issue #20 with real ``c2c`` processes: a full disk is the service's fault (exit 1, one line,
no traceback), never a rejection of the partner's file."""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

import pytest

from tests.ingest.test_cli import C2C, ROOT, c2c, setup_home
from tests.ingest_testdata import write_calpads


def _c2c_with_file_limit(env: dict[str, str], limit: int, *args: str) -> \
        subprocess.CompletedProcess[str]:
    """``c2c`` where no file may grow past ``limit`` bytes: writes fail with EFBIG, as on a
    full disk (SIGXFSZ ignored so the write returns the error instead of killing)."""
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([*C2C, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300, preexec_fn=limited)


@pytest.mark.slow
def test_disk_full_during_load_or_raw_store_is_exit_1_not_a_rejection(tmp_path: Path) -> None:
    env = setup_home(tmp_path)
    first = tmp_path / "first"
    write_calpads(first, "SENR", 3)
    assert c2c(env, "ingest", str(first)).returncode == 0  # the warehouse exists (~1.5 MB)
    land = tmp_path / "land"
    write_calpads(land, "SINF", 5000)  # ~0.9 MB: fits the raw store, not the warehouse's growth

    for limit in (1_000_000, 200_000):  # the load's writes fail / the raw store's write fails
        full = _c2c_with_file_limit(env, limit, "ingest", str(land))
        assert full.returncode == 1, full.stdout + full.stderr
        assert "Traceback" not in full.stderr and "rejected" not in full.stdout
        assert "disk full" in full.stderr and "not of the file" in full.stderr

    again = c2c(env, "ingest", str(land))  # space back: the same file loads, nothing half-done
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 accepted, 0 held, 0 rejected" in again.stdout
