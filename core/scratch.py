"""Scratch folders that outlive nobody: a folder is held (an exclusive ``flock`` on it) while its
work runs, and whatever no living process holds is removed at the next start.

The lock dies with its process however it ends (``kill -9`` included), so a leftover is found
without guessing from names or process ids, and a folder a living run still uses in another
process is never touched. (Spill files in these folders are encrypted, but nothing should
linger under ``C2C_HOME``.)
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterable
from pathlib import Path


def hold(directory: Path) -> int:
    """Create ``directory`` (0700) if needed and hold it; returns the descriptor to release."""
    while True:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"{directory} is held by another living process") from None
        if os.fstat(fd).st_nlink > 0:
            return fd
        os.close(fd)  # another process's clean-up removed it between mkdir and flock: again


def release(fd: int) -> None:
    os.close(fd)  # closing the descriptor drops the lock


def remove_unheld(parent: Path, prefixes: Iterable[str] = ("",)) -> list[str]:
    """Remove the folders under ``parent`` named with one of ``prefixes`` (default: every
    name) that no living process holds, and any other entry so named (a stray file or link is
    nobody's folder); returns their names."""
    if not parent.is_dir():
        return []
    prefixes = tuple(prefixes)
    removed = []
    for entry in sorted(parent.iterdir()):
        if not entry.name.startswith(prefixes):
            continue
        if not entry.is_dir() or entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a run in flight in a living process
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        finally:
            os.close(fd)
    return removed
