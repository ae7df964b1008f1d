"""Which backend a link run gets: one setting, ``settings.linkage_backend``.

Apart from ``linkage.backend`` so that module (the protocol and the DuckDB implementation,
which ``linkage.spark_backend`` builds on) never imports the Spark one: no import cycle.
"""

from __future__ import annotations

import os

import duckdb

from core import scratch
from core.errors import ConfigError
from core.settings import Settings
from linkage.backend import RUN_FOLDER_PREFIXES, DuckDBBackend, LinkBackend


def open_backend(settings: Settings, run_id: str,
                 warehouse: duckdb.DuckDBPyConnection | None = None) -> LinkBackend:
    """A fresh backend for one run (close it with :meth:`LinkBackend.close`).

    DuckDB: a workspace attached to ``warehouse``'s instance (its memory limit and encrypted
    temp directory); without one, a separate in-memory instance of its own. Spark ignores
    ``warehouse`` (its input goes over as Arrow).

    First removes the folders of earlier runs no living process holds (a run killed with
    ``kill -9`` leaves its spill files behind; issue 25); the backend holds its own."""
    if settings.linkage_backend not in {"duckdb", "spark"}:
        raise ConfigError(
            f"unknown C2C_LINKAGE_BACKEND {settings.linkage_backend!r}: use duckdb or spark")
    scratch.remove_unheld(settings.tmp_dir, RUN_FOLDER_PREFIXES)
    if settings.linkage_backend == "duckdb":
        return DuckDBBackend(settings, run_id, warehouse)
    from linkage import spark_backend

    return spark_backend.SparkBackend(settings, run_id, dict(os.environ))
