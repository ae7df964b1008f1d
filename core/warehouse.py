"""Open the encrypted DuckDB warehouse.

DuckDB writes encrypted databases securely only with the httpfs extension (OpenSSL) loaded,
and extensions cannot be downloaded here, so the extension file shipped by the
``duckdb-ext-httpfs`` wheel is loaded by path (DESIGN.md, "Encryption at rest").
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.errors import Busy, InternalError, KeyError_
from core.keys import KeyProvider
from core.settings import Settings

WAREHOUSE_ALIAS = "wh"


def httpfs_extension_path() -> Path:
    import duckdb_ext  # type: ignore[import-not-found]  # shipped by duckdb-ext-httpfs

    version = duckdb.__version__
    base = Path(next(iter(duckdb_ext.__path__)))
    matches = sorted(base.glob(f"extensions/v{version}/*/httpfs.duckdb_extension"))
    if not matches:
        raise InternalError(
            f"httpfs extension for DuckDB {version} not found under {base}; "
            "install duckdb-ext-httpfs of the same version as duckdb"
        )
    return matches[0]


def load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"LOAD '{httpfs_extension_path()}'")


def connect_encrypted(
    path: Path,
    key_hex: str,
    *,
    threads: int = 2,
    memory_limit: str = "6GB",
    temp_dir: Path | None = None,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the encrypted file attached and set as default database.

    Spill files go to ``temp_dir`` (under C2C_HOME) and are encrypted too
    (``temp_file_encryption``), so no plaintext identifier lands in a temp file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={"threads": threads, "memory_limit": memory_limit})
    load_httpfs(con)
    if temp_dir is not None:
        con.execute(f"SET temp_directory = '{process_temp_dir(temp_dir)}'")
    con.execute("SET temp_file_encryption = true")
    mode = ", READ_ONLY" if read_only else ""
    try:
        con.execute(
            f"ATTACH '{path}' AS {WAREHOUSE_ALIAS} (ENCRYPTION_KEY '{key_hex}'{mode})"
        )
    except duckdb.Error as exc:
        con.close()
        # The key is in the statement; never echo the statement or DuckDB's text verbatim.
        if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
            raise Busy(
                f"{path} is in use by another process (DuckDB allows one writer); "
                "try again when the running pipeline step has finished"
            ) from exc
        raise KeyError_(
            f"cannot open encrypted database {path}: wrong key, or the file is damaged"
        ) from exc
    con.execute(f"USE {WAREHOUSE_ALIAS}")
    return con


def process_temp_dir(temp_dir: Path) -> Path:
    """A spill folder of this process's own under ``temp_dir``.

    DuckDB refuses to start when its temp folder holds files of another (crashed) process, so
    each process gets ``duckdb-<pid>``; folders of processes that no longer exist are removed
    (their spill files are encrypted, but nothing should linger).
    """
    temp_dir.mkdir(parents=True, exist_ok=True)
    for stale in temp_dir.glob("duckdb-*"):
        pid = stale.name.removeprefix("duckdb-")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    own = temp_dir / f"duckdb-{os.getpid()}"
    own.mkdir(exist_ok=True)
    return own


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_warehouse(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The deployment's warehouse as settings describe it, under its derived key."""
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    return connect_encrypted(
        settings.warehouse_path,
        keys.warehouse_key_hex(),
        threads=settings.duckdb_threads,
        memory_limit=settings.duckdb_memory_limit,
        temp_dir=settings.tmp_dir,
        read_only=read_only,
    )


@contextmanager
def warehouse(
    settings: Settings, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """``open_warehouse`` for the length of a ``with`` block."""
    con = open_warehouse(settings, read_only=read_only)
    try:
        yield con
    finally:
        con.close()
