"""A partner's very large file streams through ingest: it is never read whole (issue 26).

At the state's size a partner may send one 2 GB file (bench/bench_ingest_big.py measures peak
RSS on one). Here, at a size a test can afford, every read of the file is watched: the landing
file is read in bounded blocks while it is hashed and encrypted, and the stored copy is read by
DuckDB in requests smaller than the file, so memory does not follow the file's size. The file
must be larger than DuckDB's CSV buffer (32 MiB) for that to show, hence about 40 MB.
"""

from __future__ import annotations

import builtins
import io
from pathlib import Path
from typing import Any

import pytest

from ingest import ingest_files
from ingest.partners_csv import load_partners_csv
from ingest.rawstore import CHUNK, EncryptedReader, read_all
from synth import generate
from synth.inflate import inflate
from tests.ingest.test_batch import Store

SIZE = 40_000_000
DUCKDB_BUFFER = 32 * 1024 * 1024  # read_csv's buffer: 16 x its 2 MiB max line size


class _Watched:
    """A file object that records the size of every read asked of it."""

    def __init__(self, handle: Any, sizes: list[int]) -> None:
        self._handle = handle
        self._sizes = sizes

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._sizes.append(len(data))
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        n = int(self._handle.readinto(buffer))
        self._sizes.append(n)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _Watched:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __iter__(self) -> Any:
        return iter(self._handle)


def test_a_file_larger_than_any_buffer_is_read_in_bounded_pieces(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    generate(data, students=80, seed=5, years=["2023-24"])
    source = sorted((data / "calpads").rglob("SENR*"))[0]
    big = tmp_path / "big" / "calpads" / source.relative_to(data / "calpads")
    records, size = inflate(source, big, SIZE)
    assert size >= SIZE

    landing_reads: list[int] = []
    real_open = builtins.open

    def watching_open(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        handle = real_open(file, mode, *args, **kw)
        if "b" in mode and "r" in mode and str(file) == str(big):
            return _Watched(handle, landing_reads)
        return handle

    monkeypatch.setattr(builtins, "open", watching_open)
    monkeypatch.setattr(io, "open", watching_open)
    asked: list[int] = []  # what each read of the stored (encrypted) copy returned
    real_read = EncryptedReader.read

    def watching_read(self: EncryptedReader, size: int | None = -1) -> bytes:
        data = real_read(self, size)
        asked.append(len(data))
        return data

    monkeypatch.setattr(EncryptedReader, "read", watching_read)

    store = Store(tmp_path / "home")
    receipts = ingest_files(store.con, [big.parents[2]], store.raw_dir, store.key,
                            load_partners_csv(data / "partners.csv"))
    monkeypatch.undo()
    assert [str(r.status) for r in receipts] == ["accepted"]
    assert receipts[0].rows == records  # every record of the file loaded
    assert store.con.execute("SELECT count(*) FROM staging.calpads_senr").fetchone() == (records,)
    # the landing file: read through once, in blocks of at most one raw-store chunk
    assert sum(landing_reads) >= size and max(landing_reads) <= CHUNK
    # the stored copy: read in several pieces of at most DuckDB's CSV buffer (a constant: a
    # 2 GB file is read in the same pieces), never in one read of the whole file
    assert len(asked) > 1 and sum(asked) >= size and max(asked) <= DUCKDB_BUFFER < size
    assert read_all(store.raw_dir, receipts[0].file_id, store.key) == big.read_bytes()
    store.close()
