"""Owner-only files: every store under ``C2C_HOME`` is created 0600 (folders 0700).

Stores are created by many hands (DuckDB's database and WAL files, SQLite's database, WAL and
shared-memory files, the raw store, temporary spill files, Dagster's run storage), and most of
them take their mode from the process umask. Setting the umask once, where a process starts
(the ``c2c`` command, the API app, the Dagster definitions), covers every one of them whatever
umask the operator's shell had; a chmod after the fact would miss files made later.
"""

from __future__ import annotations

import os

OWNER_ONLY = 0o077


def restrict_umask() -> None:
    """Make files and folders this process creates from now on owner-only."""
    os.umask(os.umask(OWNER_ONLY) | OWNER_ONLY)
