"""The Splink backend, chosen by one setting (``settings.linkage_backend``).

On DuckDB, Splink works in an *in-memory* database attached to the warehouse's own DuckDB
instance (``WORKSPACE``), not in the warehouse file: its many intermediate tables never land
there, and spills go to the warehouse's encrypted temp directory (``temp_file_encryption``),
so no plaintext identifier is ever at rest. One instance means one ``memory_limit`` for the
whole link (C2C_DUCKDB_MEMORY_LIMIT): with a second instance for Splink, each took the full
limit, and the warehouse kept the identities it had just written cached while Splink scored
(12.4 GB peak under a 10 GB limit at 8M identities). It also lets Splink read the identities
straight from the warehouse, never through a Python copy.
``spark`` runs the same model through Splink's SparkAPI (``linkage/spark_backend.py``: the
optional ``[spark]`` extra, Java 17, ``C2C_SPARK_MASTER``); the few SQL statements this
package runs on Splink's workspace go through :func:`query` / :func:`materialise`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
from splink import DuckDBAPI
from splink.internals.database_api import DatabaseAPISubClass

from core import scratch
from core.errors import ConfigError
from core.settings import Settings
from core.warehouse import load_httpfs

# Scratch folders of link runs under C2C_HOME/tmp: the DuckDB workspace's, and Spark's.
RUN_FOLDER_PREFIXES = ("splink-", "spark-")
# The run folder each live run holds (core.scratch), by run id, until close_db_api.
_held: dict[str, int] = {}
# The in-memory database Splink works in, attached to the warehouse's instance for one run.
WORKSPACE = "c2c_splink_workspace"


def create_db_api(
    settings: Settings, run_id: str, warehouse: duckdb.DuckDBPyConnection | None = None
) -> DatabaseAPISubClass:
    """A fresh Splink database API for one run (close it with :func:`close_db_api`).

    DuckDB: a workspace attached to ``warehouse``'s instance (its memory limit and encrypted
    temp directory); without one, a separate in-memory instance of its own.
    First removes the folders of earlier runs no living process holds (a run killed with
    ``kill -9`` leaves its spill files behind; issue 25), then holds this run's own."""
    backend = settings.linkage_backend
    if backend not in {"duckdb", "spark"}:
        raise ConfigError(
            f"unknown C2C_LINKAGE_BACKEND {settings.linkage_backend!r}: use duckdb or spark")
    scratch.remove_unheld(settings.tmp_dir, RUN_FOLDER_PREFIXES)
    _held[run_id] = scratch.hold(run_folder(settings, run_id))
    try:
        if backend == "duckdb":
            if warehouse is not None:
                return DuckDBAPI(connection=_attached_workspace(warehouse))
            return DuckDBAPI(connection=_duckdb_workspace(workspace_tmp(settings, run_id),
                                                          settings))
        from linkage import spark_backend

        api: DatabaseAPISubClass = spark_backend.create_spark_api(
            settings, run_id, dict(os.environ))
        return api
    except BaseException:
        _release(settings, run_id)
        raise


def run_folder(settings: Settings, run_id: str) -> Path:
    """The scratch folder a run holds: its DuckDB workspace's or its Spark directories."""
    if settings.linkage_backend == "spark":
        from linkage.spark_backend import spark_work_dir

        return spark_work_dir(settings, run_id)
    return workspace_tmp(settings, run_id)


def _release(settings: Settings, run_id: str) -> None:
    fd = _held.pop(run_id, None)
    if fd is not None:
        scratch.release(fd)
    shutil.rmtree(run_folder(settings, run_id), ignore_errors=True)


def is_spark(db_api: DatabaseAPISubClass) -> bool:
    return db_api.sql_dialect.sql_dialect_str == "spark"


def query(db_api: DatabaseAPISubClass, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run on Splink's workspace (DuckDB or Spark)."""
    if is_spark(db_api):
        from linkage import spark_backend

        return spark_backend.query(db_api, sql)
    con: duckdb.DuckDBPyConnection = db_api.duckdb_con  # type: ignore[attr-defined]
    return con.execute(sql).fetchall()


def materialise(db_api: DatabaseAPISubClass, name: str, select_sql: str) -> None:
    """Table ``name`` := ``select_sql`` in Splink's workspace (Spark: a cached view)."""
    if is_spark(db_api):
        from linkage import spark_backend

        spark_backend.materialise(db_api, name, select_sql)
        return
    query(db_api, f"CREATE OR REPLACE TABLE {name} AS {select_sql}")


def workspace_tmp(settings: Settings, run_id: str) -> Path:
    """Spill folder of one run's Splink workspace, apart from the warehouse's own."""
    return settings.tmp_dir / f"splink-{run_id}"


def close_db_api(db_api: DatabaseAPISubClass, settings: Settings, run_id: str) -> None:
    """Close the workspace and remove its (encrypted) spill files.

    DuckDB refuses to open a database with ``temp_file_encryption`` while stale temp files
    sit in its temp directory, so a run must not leave any behind.
    """
    if is_spark(db_api):
        from linkage import spark_backend

        spark_backend.stop_session(db_api, settings, run_id)
    else:
        con = getattr(db_api, "duckdb_con", None)
        if con is not None:
            _close_workspace(con)
    _release(settings, run_id)


def _close_workspace(con: duckdb.DuckDBPyConnection) -> None:
    try:
        if _uses_attached_workspace(con):
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


def input_source(db_api: DatabaseAPISubClass, warehouse: duckdb.DuckDBPyConnection,
                 table: str) -> str | None:
    """How Splink's workspace names warehouse ``table`` when it can read it directly (the
    workspace shares the warehouse's instance), else None (hand the rows over as Arrow)."""
    con = getattr(db_api, "duckdb_con", None)
    if is_spark(db_api) or con is None or not _uses_attached_workspace(con):
        return None
    row = warehouse.execute("SELECT current_database()").fetchone()
    return f'"{row[0]}".{table}' if row else None


def _attached_workspace(warehouse: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con = warehouse.cursor()  # a connection of its own (its own USE), the same instance
    con.execute(f"DETACH DATABASE IF EXISTS {WORKSPACE}")  # left by a run that crashed
    con.execute(f"ATTACH ':memory:' AS {WORKSPACE}")
    con.execute(f"USE {WORKSPACE}")
    return con


def _uses_attached_workspace(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT current_database()").fetchone()
    return bool(row and row[0] == WORKSPACE)


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
