"""The fast load: DuckDB reads the encrypted raw store directly (ingest.rawfs), types and checks
every value in one parallel insert and numbers lines from the insertion order."""

from __future__ import annotations

import os
import struct
import typing
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from core.errors import IntegrityError_, InternalError
from core.partners import AgreementStatus
from ingest import ReceiptStatus, fileload, ingest_files, rawfs, release_held
from ingest.load_sql import _calpads_rules, _execute_load, _guard_rules, sniff_calpads, trimmed
from ingest.rawstore import CHUNK, HEADER_LEN, TAG, raw_path, store_file
from ingest.stream import NotUtf8
from tests.ingest_testdata import LEA, YEAR, Env, calpads_text, partner, write_calpads, zip_of

STAGING_COLUMNS = "ssid, first_name, last_name, birth_date, grade_level_code, line_no"


def run(ienv: Env, *paths: Path, partners: list | None = None) -> list:  # type: ignore[type-arg]
    return ingest_files(ienv.con, list(paths) or [ienv.land], ienv.raw_dir, ienv.key,
                        partners if partners is not None else [partner()])


def senr_lines(n: int) -> list[str]:
    """``n`` valid SENR-R records (distinct SSIDs), CRLF line ends kept."""
    line = calpads_text("SENR", 1)
    return [line.replace("^0000000000^", f"^{i:010d}^", 1) for i in range(n)]


def staging_rows(ienv: Env, file_id: str) -> list[tuple[object, ...]]:
    return ienv.con.execute(
        f"SELECT {STAGING_COLUMNS} FROM staging.calpads_senr WHERE file_id = ? ORDER BY line_no",
        [file_id]).fetchall()


@pytest.fixture
def no_fifo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if a load goes through the FIFO instead of reading the raw store."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the FIFO was used")

    monkeypatch.setattr(fileload, "fifo_feed", refuse)
    yield


@pytest.mark.slow
def test_direct_read_gives_the_same_rows_and_lines_as_the_fifo(ienv: Env) -> None:
    """Big enough for DuckDB to parse with both threads and write several row groups."""
    rows = 200_000
    text = "".join(senr_lines(rows)).encode("utf-8")
    assert len(text) > 24 * CHUNK
    folder = ienv.land / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    (folder / f"SENR {YEAR}.txt").write_bytes(text)
    [direct] = run(ienv)
    assert direct.status == ReceiptStatus.ACCEPTED, direct.errors
    expected = staging_rows(ienv, direct.file_id)
    assert [r[-1] for r in expected] == list(range(1, rows + 1))
    assert [r[0] for r in expected] == [f"{i:010d}" for i in range(rows)]  # file order
    # The same bytes as a zip member are read through the FIFO (the path every load used).
    zipped = zip_of(ienv.root / "senr.zip", {f"calpads/{LEA}/{YEAR}/SENR {YEAR}.txt": text})
    [piped] = run(ienv, zipped)
    assert piped.status == ReceiptStatus.ACCEPTED, piped.errors
    assert piped.rows == direct.rows == rows
    assert staging_rows(ienv, piped.file_id) == expected


def test_direct_read_uses_no_fifo_drops_the_bom_and_numbers_lines(ienv: Env, no_fifo: None
                                                                  ) -> None:
    folder = ienv.land / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    (folder / f"SENR {YEAR}.txt").write_bytes(
        b"\xef\xbb\xbf" + "".join(senr_lines(7)).encode("utf-8"))
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    rows = ienv.con.execute("SELECT record_type_code, ssid, line_no FROM staging.calpads_senr "
                           "ORDER BY line_no").fetchall()
    assert rows == [("SENR-R", f"{i:010d}", i + 1) for i in range(7)]  # no BOM in field 1


def test_bad_values_are_all_named_with_their_lines(ienv: Env) -> None:
    lines = senr_lines(10)
    lines[7] = lines[7].replace("20070115", "20070231", 1)  # line 8: bad date
    lines[8] = lines[8].replace("^0000000008^", "^12345^", 1)  # line 9: SSID not 10 digits
    path = write_calpads(ienv.land, "SENR", 0)
    path.write_bytes("".join(lines).encode("utf-8"))
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert [(e.line, e.field, e.value, e.rule) for e in receipt.errors] == [
        (8, "birth_date", "99999999", "date_ccyymmdd"),  # shapes, not values
        (9, "ssid", "99999", "id_10_digits")]
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 0


def test_broken_rule_on_a_clean_typed_row_is_caught_inside_the_insert(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 3, grade_level_code="13")
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.REJECTED
    assert {(e.line, e.rule) for e in receipt.errors} == {
        (1, "code_set_grade_level"), (2, "code_set_grade_level"), (3, "code_set_grade_level")}
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 0


def test_short_line_names_its_line(ienv: Env) -> None:
    lines = senr_lines(10)
    lines[8] = lines[8].rstrip("\r\n").rsplit("^", 3)[0] + "\r\n"
    path = write_calpads(ienv.land, "SENR", 0)
    path.write_bytes("".join(lines).encode("utf-8"))
    [receipt] = run(ienv)
    assert [(e.line, e.rule) for e in receipt.errors] == [(9, "column_count")]


def test_invalid_utf8_falls_back_to_windows_1252(ienv: Env) -> None:
    lines = senr_lines(10)
    lines[8] = lines[8].replace("^Ana^", "^Zoë^", 1)  # DuckDB rejects line 9 as not UTF-8
    path = write_calpads(ienv.land, "SENR", 0)
    path.write_bytes("".join(lines).encode("cp1252"))
    [receipt] = run(ienv)
    assert receipt.status == ReceiptStatus.ACCEPTED, receipt.errors
    assert receipt.warnings[0] == "not valid UTF-8: read as Windows-1252"
    assert ienv.scalar("SELECT first_name FROM staging.calpads_senr WHERE line_no = 9") == "Zoë"
    assert ienv.scalar("SELECT encoding FROM ingest.files") == "cp1252"


def test_duckdb_utf8_exception_is_not_utf8(tmp_path: Path) -> None:
    """Without a rejects table DuckDB raises instead of rejecting the line: same fallback."""
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"a^b\nJos\xe9^c\n")
    con = duckdb.connect(config={"threads": 2})
    sql = (f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', delim = '^', header = false, "
           "auto_detect = false, columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})")
    with pytest.raises(NotUtf8):
        _execute_load(con, sql)
    con.close()


def test_a_load_that_would_lose_file_order_is_refused(tmp_path: Path) -> None:
    """An IN list of 5+ constants becomes a join: DuckDB then inserts out of file order."""
    path = tmp_path / "codes.txt"
    path.write_bytes(b"a^b\nc^d\n")
    con = duckdb.connect(config={"threads": 2})
    rows = (f"FROM read_csv('{path}', delim = '^', header = false, auto_detect = false, "
            "columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})")
    with pytest.raises(InternalError, match="insertion order"):
        _execute_load(con, f"CREATE TABLE t AS SELECT a NOT IN ('1', '2', '3', '4', '5') {rows}")
    assert _execute_load(con, f"CREATE TABLE t AS SELECT a {rows}") == 2
    con.close()


class Recording:
    """A DuckDB connection that remembers the statements it ran."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        self.statements.append(sql)
        return self.con.execute(sql, *args)


def test_the_plan_is_checked_once_per_statement_shape(tmp_path: Path) -> None:
    """Planning a load costs as much as loading a small file: a second file loaded with the
    same statement (other path, file id, pinned values) is not planned twice; a statement of
    another shape still is, and is still refused when it would lose the file order."""
    con = duckdb.connect(config={"threads": 2})
    recording = Recording(con)
    loads = typing.cast(duckdb.DuckDBPyConnection, recording)
    con.execute("CREATE TABLE t (a VARCHAR, b VARCHAR, id VARCHAR)")

    def insert(name: str, extra: str = "") -> str:
        path = tmp_path / f"{name}.txt"
        path.write_bytes(b"a^b\nc^d\n")
        return (f"INSERT INTO t SELECT a, b, '{name}' FROM read_csv('{path}', delim = '^', "
                "header = false, auto_detect = false, "
                "columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})" + extra)

    def explains() -> int:
        return sum(s.startswith("EXPLAIN") for s in recording.statements)

    assert _execute_load(loads, insert("lea-0112345-2022")) == 2
    assert explains() == 1
    assert _execute_load(loads, insert("lea-0199999-2023")) == 2
    assert explains() == 1  # same shape: checked already
    with pytest.raises(InternalError, match="insertion order"):
        _execute_load(loads, insert("other", " WHERE a NOT IN ('1', '2', '3', '4', '5')"))
    assert explains() == 2
    assert con.execute("SELECT count(*) FROM t").fetchone() == (4,)
    con.close()


def test_filesystem_is_unregistered_after_accepted_and_rejected_loads(ienv: Env) -> None:
    write_calpads(ienv.land, "SENR", 3)
    write_calpads(ienv.land, "SINF", 2, gender="Q")
    receipts = run(ienv)
    assert sorted(r.status for r in receipts) == [ReceiptStatus.ACCEPTED, ReceiptStatus.REJECTED]
    assert rawfs.PROTOCOL not in ienv.con.list_filesystems()
    setting = ienv.scalar("SELECT current_setting('preserve_insertion_order')")
    assert setting is True


def tamper_chunk(path: Path, index: int) -> None:
    """Flip one ciphertext byte inside chunk ``index`` of a stored file."""
    offset = HEADER_LEN + index * (CHUNK + TAG) + 10
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(struct.pack("B", byte[0] ^ 0xFF))


def test_altered_raw_file_is_an_integrity_error_and_nothing_loads(ienv: Env) -> None:
    folder = ienv.land / "calpads" / LEA / YEAR
    folder.mkdir(parents=True)
    (folder / f"SENR {YEAR}.txt").write_bytes("".join(senr_lines(15_000)).encode("utf-8"))
    pending = partner(status=AgreementStatus.PENDING)
    [held] = run(ienv, partners=[pending])
    assert held.status == ReceiptStatus.HELD
    tamper_chunk(raw_path(ienv.raw_dir, held.file_id), 2)  # line 1 (chunk 0) still reads
    with pytest.raises(IntegrityError_, match="integrity check at chunk 2"):
        release_held(ienv.con, ienv.raw_dir, ienv.key, [partner()])
    assert ienv.scalar("SELECT count(*) FROM staging.calpads_senr") == 0
    assert ienv.scalar("SELECT status FROM ingest.files") == "received"
    assert rawfs.PROTOCOL not in ienv.con.list_filesystems()


def test_wrong_key_through_the_filesystem_is_an_integrity_error(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"a^b\nc^d\n")
    stored = store_file(source, tmp_path / "raw", os.urandom(32))
    con = duckdb.connect()
    with rawfs.registered(con, tmp_path / "raw", os.urandom(32)) as fs, \
            pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM read_csv('{rawfs.stored_path(stored.sha256)}', "
                    "delim = '^', header = false, auto_detect = false, "
                    "columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})").fetchall()
    assert isinstance(fs.error, IntegrityError_)
    assert rawfs.PROTOCOL not in con.list_filesystems()
    con.close()


def test_filesystem_serves_the_plaintext_at_any_offset(tmp_path: Path) -> None:
    data = b"".join(b"%06d^" % i + b"x" * (i % 50) + b"\r\n" for i in range(40_000))
    source = tmp_path / "in.txt"
    source.write_bytes(data)
    key = os.urandom(32)
    stored = store_file(source, tmp_path / "raw", key)
    path = rawfs.stored_path(stored.sha256)
    fs = rawfs.RawStoreFileSystem(tmp_path / "raw", key)
    assert fs.info(path)["size"] == len(data)
    with fs.open(path) as handle:
        handle.seek(CHUNK - 3)
        assert handle.read(10) == data[CHUNK - 3: CHUNK + 7]
        handle.seek(0)
        assert handle.read() == data
    with pytest.raises(FileNotFoundError):
        fs.info("c2craw://not-a-sha.txt")
    con = duckdb.connect()
    with rawfs.registered(con, tmp_path / "raw", key):
        count = con.execute(f"SELECT count(*) FROM read_csv('{path}', delim = '^', "
                            "header = false, auto_detect = false, "
                            "columns = {'a': 'VARCHAR', 'b': 'VARCHAR'})").fetchone()
        assert count == (40_000,)
    con.close()


def test_trimmed_is_nullif_trim_for_every_kind_of_value() -> None:
    values = ["", " ", "  ", "a", " a", "a ", " a ", "a b", "José", "José ", " Zoë",
              "\u00a0x\u00a0", "\u3000y", "z\u2003", "\u2003", "a\tb", "\t", "\ta\t", "é",
              "\u200bq", "x\u00a0y", None]
    con = duckdb.connect()
    con.execute("CREATE TABLE v (c VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[v] for v in values])
    rows = con.execute(f"SELECT c, {trimmed('c')}, nullif(trim(c), '') FROM v").fetchall()
    assert [r[1] for r in rows] == [r[2] for r in rows]
    assert rows[4][1] == "a" and rows[11][1] == "x" and rows[0][1] is None
    con.close()


def test_fast_path_skips_only_rules_a_valid_pinned_value_implies() -> None:
    shape = sniff_calpads(calpads_text("SENR", 1).rstrip("\r\n"), "SENR.txt")
    con = duckdb.connect()
    rules = _calpads_rules(shape, "2022-2023", LEA)
    kept = {(r.field, r.rule) for r in _guard_rules(con, rules, {
        "academic_year_id": "2022-2023", "reporting_lea": LEA})}
    assert ("reporting_lea", "id_7_digits") not in kept
    assert ("academic_year_id", "academic_year_ccyy_ccyy") not in kept
    assert {("reporting_lea", "required"), ("reporting_lea", "name_content_lea"),
            ("academic_year_id", "name_content_year"), ("ssid", "id_10_digits")} <= kept
    odd = _calpads_rules(shape, "2022-2023", "12345")  # a pinned value that breaks a rule
    kept_odd = {(r.field, r.rule) for r in _guard_rules(con, odd, {"reporting_lea": "12345"})}
    assert ("reporting_lea", "id_7_digits") in kept_odd
    con.close()


def test_a_pinned_column_that_differs_is_reported_with_every_rule_it_breaks(ienv: Env) -> None:
    lines = senr_lines(3)
    lines[1] = lines[1].replace(f"^{LEA}^", "^12345^", 1)
    path = write_calpads(ienv.land, "SENR", 0)
    path.write_bytes("".join(lines).encode("utf-8"))
    [receipt] = run(ienv)
    assert {(e.line, e.field, e.rule) for e in receipt.errors} == {
        (2, "reporting_lea", "id_7_digits"), (2, "reporting_lea", "name_content_lea")}
