"""The Splink backend of one link run, chosen by one setting (``settings.linkage_backend``).

A :class:`LinkBackend` is Splink's database API for the run plus the few things this package
does on Splink's workspace itself (run a query, keep a table, close and clean up). Two
implementations:

- :class:`DuckDBBackend`: Splink works in an *in-memory* database attached to the
  warehouse's own DuckDB instance (``WORKSPACE``), not in the warehouse file: its many
  intermediate tables never land there, and spills go to the warehouse's encrypted temp
  directory (``temp_file_encryption``), so no plaintext identifier is ever at rest. One
  instance means one ``memory_limit`` for the whole link (C2C_DUCKDB_MEMORY_LIMIT): with a
  second instance for Splink, each took the full limit, and the warehouse kept the identities
  it had just written cached while Splink scored (12.4 GB peak under a 10 GB limit at 8M
  identities). It also lets Splink read the identities straight from the warehouse, table to
  table (:meth:`DuckDBBackend.input_source`), never through a Python copy. Without a
  warehouse connection (a Spark run's training workspace) it opens an in-memory instance of
  its own, with its own encrypted spill folder.
- ``SparkBackend`` (``linkage/spark_backend.py``: the optional ``[spark]`` extra, Java 17,
  ``C2C_SPARK_MASTER``): Splink's SparkAPI on a session that is safe for identifiers.

Training is a few hundred small queries over a sample (docs/scale.md): each backend names
the backend its model is trained on (:meth:`LinkBackend.open_training`). DuckDB trains on
itself; Spark trains on a DuckDB workspace in the driver and scores on Spark.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
from splink import DuckDBAPI
from splink.internals.database_api import DatabaseAPISubClass

from core import scratch
from core.settings import Settings
from core.warehouse import load_httpfs

# Scratch folders of link runs under C2C_HOME/tmp: DuckDB workspaces' (the run's, and a Spark
# run's training workspace) and Spark's. Each live run holds its own (core.scratch).
RUN_FOLDER_PREFIXES = ("splink-", "spark-")
# The in-memory database Splink works in, attached to the warehouse's instance for one run.
WORKSPACE = "c2c_splink_workspace"
# Splink's CTEs over its whole input: every record with every model column (and the
# term-frequency columns joined on). DuckDB 1.4 materialises a CTE that a query reads more
# than once, and Splink's queries read these two or four times (the prior's rule counts, the
# term-frequency tables, EM's comparison vectors): at 8M identities each such query copied
# all 26 columns of every record first (the two term-frequency tables 22 s, the prior 20 s,
# each EM session 13-16 s). Inlined, DuckDB reads only the columns a query uses.
_INPUT_CTE = re.compile(r"^(__splink__df_concat(?:_with_tf)?) as \($", re.MULTILINE)


def inline_input_ctes(sql: str) -> str:
    """Splink's SQL with its whole-input CTEs marked NOT MATERIALIZED (``_INPUT_CTE``)."""
    return _INPUT_CTE.sub(r"\1 as NOT MATERIALIZED (", sql)


class InlinedInputsDuckDBAPI(DuckDBAPI):
    """Splink's DuckDB API, its whole-input CTEs inlined (:func:`inline_input_ctes`)."""

    def _execute_sql_against_backend(self, final_sql: str) -> duckdb.DuckDBPyRelation:
        return super()._execute_sql_against_backend(inline_input_ctes(final_sql))


class LinkBackend(Protocol):
    """Splink's workspace for one run (see the module docstring)."""

    name: str
    db_api: DatabaseAPISubClass
    # what the engine says of the run, complete once closed (Spark: the driver JVM's peak
    # memory and CPU, its job count, which Jaro-Winkler scored); the run summary's ``engine``
    facts: dict[str, Any]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run on the workspace."""

    def materialise(self, name: str, select_sql: str) -> None:
        """Table ``name`` := ``select_sql`` on the workspace, computed now."""

    def receive(self, name: str, batches: pa.RecordBatchReader) -> None:
        """Table ``name`` := the rows of ``batches``, read a batch at a time."""

    def open_training(self) -> LinkBackend:
        """The backend the model is trained on (``self``, or a new one the caller closes)."""

    def input_source(self, warehouse: duckdb.DuckDBPyConnection, table: str) -> str | None:
        """How the workspace names warehouse ``table`` when it can read it directly (it shares
        the warehouse's instance), else None (hand the rows over as Arrow)."""

    def close(self) -> None:
        """Close the workspace and remove every file it wrote (failed run or not)."""


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, settings: Settings, run_id: str,
                 warehouse: duckdb.DuckDBPyConnection | None = None) -> None:
        self.tmp_dir = workspace_tmp(settings, run_id)
        self.held = scratch.hold(self.tmp_dir)
        try:
            self.attached = warehouse is not None
            self.con = (_attached_workspace(warehouse) if warehouse is not None
                        else _duckdb_workspace(self.tmp_dir, settings))
        except BaseException:
            release_folder(self.held, self.tmp_dir)
            raise
        self.db_api: DatabaseAPISubClass = InlinedInputsDuckDBAPI(connection=self.con)
        self.facts: dict[str, Any] = {}  # DuckDB's cost is this process's (the run summary's)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def materialise(self, name: str, select_sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {select_sql}")

    def receive(self, name: str, batches: pa.RecordBatchReader) -> None:
        self.con.register("_c2c_received", batches)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _c2c_received")
        finally:
            self.con.unregister("_c2c_received")

    def open_training(self) -> LinkBackend:
        return self

    def input_source(self, warehouse: duckdb.DuckDBPyConnection, table: str) -> str | None:
        if not self.attached:
            return None
        row = warehouse.execute("SELECT current_database()").fetchone()
        return f'"{row[0]}".{table}' if row else None

    def close(self) -> None:
        # DuckDB refuses to open a database with temp_file_encryption while stale temp
        # files sit in its temp directory, so a run must not leave any behind.
        try:
            _close_workspace(self.con, attached=self.attached)
        finally:
            release_folder(self.held, self.tmp_dir)


def release_folder(held: int, folder: Path) -> None:
    """Let go of a run folder held with :func:`core.scratch.hold` and remove it."""
    scratch.release(held)
    shutil.rmtree(folder, ignore_errors=True)


def workspace_tmp(settings: Settings, run_id: str) -> Path:
    """Spill folder of one run's Splink workspace, apart from the warehouse's own."""
    return settings.tmp_dir / f"splink-{run_id}"


def _attached_workspace(warehouse: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con = warehouse.cursor()  # a connection of its own (its own USE), the same instance
    con.execute(f"DETACH DATABASE IF EXISTS {WORKSPACE}")  # left by a run that crashed
    con.execute(f"ATTACH ':memory:' AS {WORKSPACE}")
    con.execute(f"USE {WORKSPACE}")
    return con


def _close_workspace(con: duckdb.DuckDBPyConnection, *, attached: bool) -> None:
    try:
        if attached:
            # frees every Splink table (and its spilled blocks) before the run goes on
            other = con.execute(
                "SELECT database_name FROM duckdb_databases() WHERE NOT internal "
                "AND database_name <> ? ORDER BY database_name LIMIT 1", [WORKSPACE]
            ).fetchone()
            if other:  # DuckDB detaches only a database not in USE
                con.execute(f'USE "{other[0]}"')
                con.execute(f"DETACH DATABASE IF EXISTS {WORKSPACE}")
    finally:  # a run that failed may have left the instance unusable: close regardless
        con.close()


def _duckdb_workspace(tmp_dir: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        ":memory:",
        config={"threads": settings.duckdb_threads, "memory_limit": settings.duckdb_memory_limit},
    )
    load_httpfs(con)  # OpenSSL for the encrypted temp files
    tmp_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = '{tmp_dir}'")
    con.execute("SET temp_file_encryption = true")
    return con
