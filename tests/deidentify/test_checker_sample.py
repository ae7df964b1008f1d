"""What an output checker sees of a built package (``deidentify.opening.extract_sample``): rows
drawn at random from the whole output, the same for every checker, not its first rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pytest

import deidentify
from core.keys import KeyProvider
from core.requests import RequestKind
from deidentify.opening import _SampleReceiver, extract_sample, open_extract
from tests.deid_support import NOW, make_keys, request


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyProvider:
    return make_keys(tmp_path_factory.mktemp("keys"))


def _package(keys: KeyProvider, out: Path, rows: int, request_id: str = "R-sample") -> Path:
    # Sorted as a released extract is: the first rows are one corner of the data.
    table = pa.table({"county_code": [f"{i // 40:02d}" for i in range(rows)],
                      "students": [i for i in range(rows)]})
    req = request(request_id=request_id, kind=RequestKind.AGGREGATE, variables=["gender"])
    return deidentify.package_table(table, req, keys, out, NOW).package_path


def _all_rows(package: Path, keys: KeyProvider) -> list[list[str]]:
    opened = open_extract(package, keys=keys, now=NOW)
    return list(csv.reader(io.StringIO(opened.files["data.csv"].decode())))[1:]


def test_the_sample_is_drawn_from_the_whole_output_and_is_the_same_for_every_checker(
        keys: KeyProvider, tmp_path: Path) -> None:
    package = _package(keys, tmp_path, 2000)
    every = _all_rows(package, keys)
    sample = extract_sample(package, keys=keys, rows=50)
    assert sample.columns == ["county_code", "students"] and sample.total_rows == 2000
    assert len(sample.rows) == 50 and len({tuple(r) for r in sample.rows}) == 50
    assert all(r in every for r in sample.rows)
    assert sample.rows != every[:50]  # not the first rows of a sorted file
    positions = [every.index(r) for r in sample.rows]
    assert positions == sorted(positions)  # shown in the output's order
    assert max(positions) > 1000  # reaches the far end of the file
    assert len({r[0] for r in sample.rows}) > 10  # many counties, not one corner
    # seeded by the request: a second checker, or the same one again, sees the same rows
    assert extract_sample(package, keys=keys, rows=50).rows == sample.rows


def test_an_output_no_larger_than_the_sample_is_shown_whole(keys: KeyProvider,
                                                            tmp_path: Path) -> None:
    package = _package(keys, tmp_path, 30, request_id="R-small")
    assert extract_sample(package, keys=keys, rows=50).rows == _all_rows(package, keys)
    empty = _package(keys, tmp_path / "empty", 0, request_id="R-empty")
    got = extract_sample(empty, keys=keys, rows=50)
    assert got.rows == [] and got.columns == ["county_code", "students"]


def test_rows_cut_across_writes_and_a_last_line_without_its_break_are_kept_whole() -> None:
    """The package streams data.csv in chunks that end anywhere in a line."""
    receiver = _SampleReceiver(size=5, seed=1)
    sink = receiver.begin("data.csv")
    data = b"county_code,students\n01,40\n02,55\n03,61"
    for i in range(len(data)):
        sink.write(data[i:i + 1])
    sink.close()
    sink.close()  # closing twice changes nothing
    assert receiver.read("data.csv") == data
