"""The Splink backend of one link run, chosen by one setting (``settings.linkage_backend``).

A :class:`LinkBackend` is Splink's database API for the run plus the few things this package
does on Splink's workspace itself (run a query, keep a table, close and clean up). Two
implementations:

- :class:`DuckDBBackend`: Splink works in its own *in-memory* DuckDB database, not in the
  warehouse, so its many intermediate tables never land in the warehouse file, and spills go
  to the encrypted temp directory (``temp_file_encryption``): no plaintext identifier at rest.
- ``SparkBackend`` (``linkage/spark_backend.py``: the optional ``[spark]`` extra, Java 17,
  ``C2C_SPARK_MASTER``): Splink's SparkAPI on a session that is safe for identifiers.

Training is a few hundred small queries over a sample (docs/scale.md): each backend names
the backend its model is trained on (:meth:`LinkBackend.open_training`). DuckDB trains on
itself; Spark trains on a DuckDB workspace in the driver and scores on Spark.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

import duckdb
from splink import DuckDBAPI
from splink.internals.database_api import DatabaseAPISubClass

from core import scratch
from core.errors import ConfigError
from core.settings import Settings
from core.warehouse import load_httpfs

# Scratch folders of link runs under C2C_HOME/tmp: DuckDB workspaces' (the run's, and a Spark
# run's training workspace) and Spark's. Each live run holds its own (core.scratch).
RUN_FOLDER_PREFIXES = ("splink-", "spark-")


class LinkBackend(Protocol):
    """Splink's workspace for one run (see the module docstring)."""

    name: str
    db_api: DatabaseAPISubClass

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run on the workspace."""

    def materialise(self, name: str, select_sql: str) -> None:
        """Table ``name`` := ``select_sql`` on the workspace, computed now."""

    def open_training(self) -> LinkBackend:
        """The backend the model is trained on (``self``, or a new one the caller closes)."""

    def close(self) -> None:
        """Close the workspace and remove every file it wrote (failed run or not)."""


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.tmp_dir = workspace_tmp(settings, run_id)
        self.held = scratch.hold(self.tmp_dir)
        try:
            self.con = _duckdb_workspace(self.tmp_dir, settings)
        except BaseException:
            release_folder(self.held, self.tmp_dir)
            raise
        self.db_api: DatabaseAPISubClass = DuckDBAPI(connection=self.con)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def materialise(self, name: str, select_sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {select_sql}")

    def open_training(self) -> LinkBackend:
        return self

    def close(self) -> None:
        # DuckDB refuses to open a database with temp_file_encryption while stale temp
        # files sit in its temp directory, so a run must not leave any behind.
        self.con.close()
        release_folder(self.held, self.tmp_dir)


def open_backend(settings: Settings, run_id: str) -> LinkBackend:
    """A fresh backend for one run (close it with :meth:`LinkBackend.close`).

    First removes the folders of earlier runs no living process holds (a run killed with
    ``kill -9`` leaves its spill files behind; issue 25); the backend holds its own."""
    if settings.linkage_backend not in {"duckdb", "spark"}:
        raise ConfigError(
            f"unknown C2C_LINKAGE_BACKEND {settings.linkage_backend!r}: use duckdb or spark")
    scratch.remove_unheld(settings.tmp_dir, RUN_FOLDER_PREFIXES)
    if settings.linkage_backend == "duckdb":
        return DuckDBBackend(settings, run_id)
    from linkage import spark_backend

    return spark_backend.SparkBackend(settings, run_id, dict(os.environ))


def release_folder(held: int, folder: Path) -> None:
    """Let go of a run folder held with :func:`core.scratch.hold` and remove it."""
    scratch.release(held)
    shutil.rmtree(folder, ignore_errors=True)


def workspace_tmp(settings: Settings, run_id: str) -> Path:
    """Spill folder of one run's Splink workspace, apart from the warehouse's own."""
    return settings.tmp_dir / f"splink-{run_id}"


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
