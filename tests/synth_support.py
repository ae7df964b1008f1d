"""Shared helpers for the synth tests: read generated files back."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from core.calpads import CURRENT_LAYOUT


def calpads_files(out: Path) -> list[Path]:
    return sorted((out / "calpads").glob("*/*/*.txt"))


def calpads_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {field: value}) per record, split on '^' with no quoting (reference §6)."""
    text = path.read_bytes().decode("utf-8")
    file_type = path.name[:4]
    names = CURRENT_LAYOUT[file_type].column_names(ods=True)
    for n, line in enumerate(text.split("\r\n")[:-1], start=1):
        values = line.split("^")
        yield n, dict(zip(names, values, strict=True))


def csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        yield from enumerate(csv.DictReader(fh), start=2)


def truth(out: Path) -> list[dict[str, object]]:
    return pq.read_table(out / "truth.parquet").to_pylist()
