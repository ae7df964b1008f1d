"""The Splink backend, chosen by one setting (``settings.linkage_backend``).

Splink works in its own *in-memory* DuckDB database, not in the warehouse: its many
intermediate tables then never land in the warehouse file, and spills go to the encrypted
temp directory (``temp_file_encryption``), so no plaintext identifier is ever at rest.
A Spark cluster would plug in here (``splink.SparkAPI`` with the bundled similarity jar and a
checkpoint directory, see the Splink notes); it is not installed in this deployment.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from splink import DuckDBAPI
from splink.internals.database_api import DatabaseAPISubClass

from core.errors import InternalError
from core.settings import Settings
from core.warehouse import load_httpfs


def create_db_api(settings: Settings, run_id: str) -> DatabaseAPISubClass:
    """A fresh Splink database API for one run (close it with :func:`close_db_api`)."""
    backend = settings.linkage_backend
    if backend == "duckdb":
        return DuckDBAPI(connection=_duckdb_workspace(workspace_tmp(settings, run_id), settings))
    if backend == "spark":
        raise InternalError(
            "linkage_backend=spark needs pyspark and a Spark session: not installed here; "
            "wire splink.SparkAPI in linkage.backend.create_db_api"
        )
    raise InternalError(f"unknown linkage_backend {settings.linkage_backend!r}")


def workspace_tmp(settings: Settings, run_id: str) -> Path:
    """Spill folder of one run's Splink workspace, apart from the warehouse's own."""
    return settings.tmp_dir / f"splink-{run_id}"


def close_db_api(db_api: DatabaseAPISubClass, settings: Settings, run_id: str) -> None:
    """Close the workspace and remove its (encrypted) spill files.

    DuckDB refuses to open a database with ``temp_file_encryption`` while stale temp files
    sit in its temp directory, so a run must not leave any behind.
    """
    con = getattr(db_api, "duckdb_con", None)
    if con is not None:
        con.close()
    shutil.rmtree(workspace_tmp(settings, run_id), ignore_errors=True)


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
