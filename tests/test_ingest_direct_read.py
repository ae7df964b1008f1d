"""DuckDB reading the encrypted raw store directly (ingest.rawfs): same rows, no FIFO, no leak."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from ingest_testdata import LEA, YEAR, Env, calpads_text, partner, write_calpads, zip_of

from core.errors import IntegrityError_
from core.partners import AgreementStatus
from ingest import ReceiptStatus, ingest_files, pipeline, rawfs, release_held
from ingest.load import _execute_load
from ingest.rawstore import CHUNK, HEADER_LEN, TAG, raw_path, store_file
from ingest.stream import NotUtf8

pytest_plugins = ["ingest_testdata"]  # provides the env fixture

STAGING_COLUMNS = "ssid, first_name, last_name, birth_date, grade_level_code, line_no"


def run(env: Env, *paths: Path, partners: list | None = None) -> list:  # type: ignore[type-arg]
    return ingest_files(env.con, list(paths) or [env.land], env.raw_dir, env.key,
                        partners if partners is not None else [partner()])


def senr_lines(n: int) -> list[str]:
    """``n`` valid SENR-R records (distinct SSIDs), CRLF line ends kept."""
    line = calpads_text("SENR", 1)
    return [line.replace("^0000000000^", f"^{i:010d}^", 1) for i in range(n)]


def staging_rows(env: Env, file_id: str) -> list[tuple[object, ...]]:
    return env.con.execute(
        f"SELECT {STAGING_COLUMNS} FROM staging.calpads_senr WHERE file_id = ? ORDER BY line_no",
        [file_id]).fetchall()


@pytest.fixture
def split_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut even small CALPADS files into one piece per thread (the path big files take)."""
    monkeypatch.setattr(pipeline, "SPLIT_MIN_BYTES", 0)


@pytest.fixture
def no_fifo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if a load goes through the FIFO instead of reading the raw store."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the FIFO was used")

    monkeypatch.setattr(pipeline, "fifo_feed", refuse)
    yield


@pytest.mark.parametrize("split", [False, True], ids=["whole", "pieces"])
def test_direct_read_gives_the_same_rows_and_lines_as_the_fifo(
    env: Env, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    if split:
        monkeypatch.setattr(pipeline, "SPLIT_MIN_BYTES", 0)
    text = "".join(senr_lines(15_000)).encode("utf-8")  # several 1 MiB raw-store chunks
    assert len(text) > 2 * CHUNK
    folder = env.land / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    (folder / f"SENR {YEAR}.txt").write_bytes(text)
    [direct] = run(env)
    assert direct.status == ReceiptStatus.ACCEPTED, direct.errors
    # The same bytes as a zip member are read through the FIFO (the path every load used).
    zipped = zip_of(env.root / "senr.zip", {f"calpads/{LEA}/{YEAR}/SENR {YEAR}.txt": text})
    expected_direct = staging_rows(env, direct.file_id)
    [piped] = run(env, zipped)
    assert piped.status == ReceiptStatus.ACCEPTED, piped.errors
    assert piped.rows == direct.rows == 15_000
    assert staging_rows(env, piped.file_id) == expected_direct
    assert [r[-1] for r in expected_direct] == list(range(1, 15_001))
    assert [r[0] for r in expected_direct] == [f"{i:010d}" for i in range(15_000)]


def test_pieces_use_no_fifo_and_keep_line_numbers(env: Env, split_every_file: None,
                                                  no_fifo: None) -> None:
    folder = env.land / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    (folder / f"SENR {YEAR}.txt").write_bytes(
        b"\xef\xbb\xbf" + "".join(senr_lines(7)).encode("utf-8"))  # BOM, odd line count
    [receipt] = run(env)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    rows = env.con.execute("SELECT record_type_code, ssid, line_no FROM staging.calpads_senr "
                           "ORDER BY line_no").fetchall()
    assert rows == [("SENR-R", f"{i:010d}", i + 1) for i in range(7)]  # no BOM in field 1


def test_bad_values_in_the_second_piece_are_named_with_their_file_line(
    env: Env, split_every_file: None
) -> None:
    lines = senr_lines(10)
    lines[7] = lines[7].replace("20070115", "20070231", 1)  # line 8: bad date
    lines[8] = lines[8].replace("^0000000008^", "^12345^", 1)  # line 9: SSID not 10 digits
    path = write_calpads(env.land, "SENR", 0)
    path.write_bytes("".join(lines).encode("utf-8"))
    [receipt] = run(env)
    assert receipt.status == ReceiptStatus.REJECTED
    assert [(e.line, e.field, e.value, e.rule) for e in receipt.errors] == [
        (8, "birth_date", "20070231", "date_ccyymmdd"),
        (9, "ssid", "12345", "id_10_digits")]
    assert env.scalar("SELECT count(*) FROM staging.calpads_senr") == 0


def test_broken_rule_on_a_clean_typed_row_is_caught_inside_the_insert(env: Env) -> None:
    write_calpads(env.land, "SENR", 3, grade_level_code="13")
    [receipt] = run(env)
    assert receipt.status == ReceiptStatus.REJECTED
    assert {(e.line, e.rule) for e in receipt.errors} == {
        (1, "code_set_grade_level"), (2, "code_set_grade_level"), (3, "code_set_grade_level")}
    assert env.scalar("SELECT count(*) FROM staging.calpads_senr") == 0


def test_short_line_in_the_second_piece_names_its_file_line(env: Env,
                                                            split_every_file: None) -> None:
    lines = senr_lines(10)
    lines[8] = lines[8].rstrip("\r\n").rsplit("^", 3)[0] + "\r\n"
    path = write_calpads(env.land, "SENR", 0)
    path.write_bytes("".join(lines).encode("utf-8"))
    [receipt] = run(env)
    assert [(e.line, e.rule) for e in receipt.errors] == [(9, "column_count")]


@pytest.mark.parametrize("split", [False, True], ids=["whole", "pieces"])
def test_invalid_utf8_falls_back_to_windows_1252(
    env: Env, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    if split:
        monkeypatch.setattr(pipeline, "SPLIT_MIN_BYTES", 0)
    lines = senr_lines(10)
    lines[8] = lines[8].replace("^Ana^", "^Zoë^", 1)  # late in the file: second piece
    path = write_calpads(env.land, "SENR", 0)
    path.write_bytes("".join(lines).encode("cp1252"))
    [receipt] = run(env)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    assert receipt.warnings[0] == "not valid UTF-8: read as Windows-1252"
    assert env.scalar("SELECT first_name FROM staging.calpads_senr WHERE line_no = 9") == "Zoë"
    assert env.scalar("SELECT encoding FROM ingest.files") == "cp1252"


def test_duckdb_utf8_exception_is_not_utf8(tmp_path: Path) -> None:
    """Without a rejects table DuckDB raises instead of rejecting the line: same fallback."""
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"a^b\nJos\xe9^c\n")
    con = duckdb.connect()
    sql = (f"SELECT count(*) FROM read_csv('{path}', delim = '^', header = false, "
           "auto_detect = false, columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})")
    with pytest.raises(NotUtf8):
        _execute_load(con, sql)
    con.close()


def test_filesystem_is_unregistered_after_accepted_rejected_and_failed_loads(
    env: Env, split_every_file: None
) -> None:
    write_calpads(env.land, "SENR", 3)
    write_calpads(env.land, "SINF", 2, gender="Q")
    receipts = run(env)
    assert sorted(r.status for r in receipts) == [ReceiptStatus.ACCEPTED, ReceiptStatus.REJECTED]
    assert rawfs.PROTOCOL not in env.con.list_filesystems()
    setting = env.scalar("SELECT current_setting('preserve_insertion_order')")
    assert setting is True


def tamper_chunk(path: Path, index: int) -> None:
    """Flip one ciphertext byte inside chunk ``index`` of a stored file."""
    offset = HEADER_LEN + index * (CHUNK + TAG) + 10
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(struct.pack("B", byte[0] ^ 0xFF))


@pytest.mark.parametrize("split", [False, True], ids=["whole", "pieces"])
def test_altered_raw_file_is_an_integrity_error_and_nothing_loads(
    env: Env, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    if split:
        monkeypatch.setattr(pipeline, "SPLIT_MIN_BYTES", 0)
    folder = env.land / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    (folder / f"SENR {YEAR}.txt").write_bytes("".join(senr_lines(15_000)).encode("utf-8"))
    pending = partner(status=AgreementStatus.PENDING)
    [held] = run(env, partners=[pending])
    assert held.status == ReceiptStatus.HELD
    tamper_chunk(raw_path(env.raw_dir, held.file_id), 2)  # line 1 (chunk 0) still reads
    with pytest.raises(IntegrityError_, match="integrity check at chunk 2"):
        release_held(env.con, env.raw_dir, env.key, [partner()])
    assert env.scalar("SELECT count(*) FROM staging.calpads_senr") == 0
    assert env.scalar("SELECT status FROM ingest.files") == "received"
    assert rawfs.PROTOCOL not in env.con.list_filesystems()


def test_wrong_key_through_the_filesystem_is_an_integrity_error(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"a^b\nc^d\n")
    stored = store_file(source, tmp_path / "raw", os.urandom(32))
    con = duckdb.connect()
    with rawfs.registered(con, tmp_path / "raw", os.urandom(32)) as fs, \
            pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM read_csv('{rawfs.whole_path(stored.sha256)}', "
                    "delim = '^', header = false, auto_detect = false, "
                    "columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})").fetchall()
    assert isinstance(fs.error, IntegrityError_)
    assert rawfs.PROTOCOL not in con.list_filesystems()
    con.close()


def test_filesystem_serves_plaintext_and_line_aligned_ranges(tmp_path: Path) -> None:
    lines = [b"%06d^" % i + b"x" * (i % 50) + b"\r\n" for i in range(40_000)]
    data = b"".join(lines) + b"last^line-without-newline"
    source = tmp_path / "in.txt"
    source.write_bytes(data)
    key = os.urandom(32)
    stored = store_file(source, tmp_path / "raw", key)
    for parts in (1, 2, 3, 7):
        ranges = rawfs.line_ranges(tmp_path / "raw", stored.sha256, key, parts)
        assert len(ranges) == parts
        assert ranges[0].start == 0 and ranges[-1].end == len(data)
        for before, after in zip(ranges, ranges[1:], strict=False):
            assert before.end == after.start and data[after.start - 1:after.start] == b"\n"
            assert after.lines_before == data[:after.start].count(b"\n")
    tiny = store_file(_write(tmp_path / "tiny.txt", b"one\ntwo"), tmp_path / "raw", key)
    assert rawfs.line_ranges(tmp_path / "raw", tiny.sha256, key, 4) == [
        rawfs.LineRange(0, 4, 0), rawfs.LineRange(4, 7, 1)]
    con = duckdb.connect()
    with rawfs.registered(con, tmp_path / "raw", key):
        fs = rawfs.RawStoreFileSystem(tmp_path / "raw", key)
        assert fs.info(rawfs.whole_path(stored.sha256))["size"] == len(data)
        with fs.open(rawfs.whole_path(stored.sha256)) as handle:
            handle.seek(CHUNK - 3)
            assert handle.read(10) == data[CHUNK - 3: CHUNK + 7]
        piece = rawfs.line_ranges(tmp_path / "raw", stored.sha256, key, 2)[1]
        with fs.open(rawfs.range_path(stored.sha256, piece)) as handle:
            assert handle.read() == data[piece.start:]
        count = con.execute(f"SELECT count(*) FROM read_csv('{rawfs.whole_path(stored.sha256)}'"
                            ", delim = '^', header = false, auto_detect = false, "
                            "columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})").fetchone()
        assert count == (40_001,)
    con.close()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
