"""One transaction helper, one timer, one catalog lookup (issue 17)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.duck import StageTimer, columns_of, memory_only, table_exists, transaction


def test_catalog_lookups_see_only_the_current_database(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "a.duckdb"))
    con.execute("CREATE SCHEMA s")
    con.execute("CREATE TABLE s.t (x INTEGER, y VARCHAR)")
    con.execute(f"ATTACH '{tmp_path / 'b.duckdb'}' AS other")
    con.execute("CREATE SCHEMA other.s")
    con.execute("CREATE TABLE other.s.only_there (z INTEGER)")
    assert table_exists(con, "s.t") and columns_of(con, "s.t") == {"x", "y"}
    # the copy without table_catalog = current_database() answered True here
    assert not table_exists(con, "s.only_there") and columns_of(con, "s.only_there") == set()
    con.execute("CREATE TABLE plain (a INTEGER)")
    assert table_exists(con, "plain") and columns_of(con, "main.plain") == {"a"}
    con.close()


def test_transaction_commits_rolls_back_and_can_end_early() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(KeyboardInterrupt), transaction(con):
        con.execute("INSERT INTO t VALUES (2)")
        raise KeyboardInterrupt  # anything, not only Exception, rolls back
    with transaction(con) as tx:
        con.execute("INSERT INTO t VALUES (3)")
        tx.rollback()
        assert not tx.open
    assert con.execute("SELECT list(x) FROM t").fetchone() == ([1],)


def test_stage_timer_closes_each_stage_at_the_next_lap() -> None:
    timer = StageTimer()
    timer.lap("one")
    timer.lap("two")
    assert list(timer.stages) == ["one", "two"]
    assert all(seconds >= 0 for seconds in timer.stages.values())


def test_an_in_memory_connection_for_identifiers_never_spills_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An in-memory DuckDB spills to ``.tmp`` in the working directory, unencrypted, by
    default; the provisional link's in-memory work on new records' names must fail instead."""
    monkeypatch.chdir(tmp_path)
    con = memory_only()
    try:
        con.execute("SET memory_limit = '40MB'")
        with pytest.raises(duckdb.OutOfMemoryException):
            con.execute("CREATE TABLE t AS SELECT i, repeat('SMITH', 30) || i AS last_name "
                        "FROM range(3000000) r(i) ORDER BY last_name DESC")
    finally:
        con.close()
    assert not any(tmp_path.iterdir())  # no .tmp folder: nothing written at rest
