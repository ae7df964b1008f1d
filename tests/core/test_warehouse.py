"""The encrypted warehouse: a second writing process gets a clear Busy error, not a key error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import Busy, KeyError_
from core.warehouse import connect_encrypted

KEY = "ab" * 32


def test_second_writer_process_is_told_the_warehouse_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    connect_encrypted(path, KEY).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from core.warehouse import connect_encrypted
            con = connect_encrypted(Path({str(path)!r}), {KEY!r})
            print("open", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(Busy, match="in use by another process") as caught:
            connect_encrypted(path, KEY)
        assert KEY not in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    connect_encrypted(path, KEY).close()  # free again once the holder is gone


def test_wrong_key_is_a_key_error_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    connect_encrypted(path, KEY).close()
    with pytest.raises(KeyError_) as caught:
        connect_encrypted(path, "cd" * 32)
    assert "cd" * 32 not in str(caught.value)
