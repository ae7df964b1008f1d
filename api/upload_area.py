"""The private temporary area an upload is written to: one directory per upload under
``$C2C_HOME/tmp/uploads`` (0700, files 0600), deleted when ingest is done with it.

A process killed mid-upload (``kill -9``, power loss) cannot delete its directory, so each
upload holds an exclusive ``flock`` on its directory while it lives (``core.scratch``), and
:func:`remove_stale_uploads` (run when the app starts) deletes every directory nobody holds:
the lock dies with its process, so a leftover is found however the process ended, and an
upload in flight in another worker process is never touched.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.errors import BadRequest
from core import scratch

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}$")


@dataclass
class ReceivedFile:
    name: str
    path: Path
    size: int = 0
    digest: Any = field(default_factory=hashlib.sha256, repr=False)

    @property
    def sha256(self) -> str:
        return str(self.digest.hexdigest())


@dataclass
class Upload:
    directory: Path
    files: list[ReceivedFile] = field(default_factory=list)
    lock_fd: int | None = None  # flock held on ``directory`` while the upload lives

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        if self.lock_fd is not None:
            scratch.release(self.lock_fd)
            self.lock_fd = None


def locked_directory(tmp_root: Path) -> tuple[Path, int]:
    """A fresh private directory under ``tmp_root`` with an exclusive lock held on it."""
    tmp_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory = tmp_root / secrets.token_hex(12)
    return directory, scratch.hold(directory)


def remove_stale_uploads(tmp_root: Path) -> int:
    """Delete upload directories (plaintext partner files) no living process holds; count them."""
    return len(scratch.remove_unheld(tmp_root))


def safe_file_name(raw: str) -> str:
    """The base name a partner gave, if it is a plain file name."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not _SAFE_NAME.match(name) or ".." in name:
        raise BadRequest(
            f"file name {raw[:80]!r} is not allowed: use letters, digits, space, '.', '_', '-'"
        )
    return name
