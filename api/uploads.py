"""Streamed multipart upload into a private temporary area, with a size limit.

Starlette's form parser spools large files to the system temp directory; partner files carry
identifiers, so this parser writes each file part straight to ``$C2C_HOME/tmp/uploads/<random>``
(directory 0700, files 0600) and counts bytes as they arrive, refusing with 413 the moment the
limit is passed. The caller deletes the directory when ingest is done with it.

A process killed mid-upload (``kill -9``, power loss) cannot delete its directory, so each
upload holds an exclusive ``flock`` on its directory while it lives (``core.scratch``), and
:func:`remove_stale_uploads` (run when the app starts) deletes every directory nobody holds:
the lock dies with its process, so a leftover is found however the process ended, and an
upload in flight in another worker process is never touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.orm import Session, sessionmaker

from api.errors import BadRequest, TooLarge
from api.schemas import UploadResult
from core import scratch
from core.keys import KeyProvider
from core.settings import Settings
from governance.users import Principal
from services.receive_upload import ingest_upload

FILE_FIELDS = {"files", "file"}
MAX_FILES = 50
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}$")

UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files, named as in docs/ingest.md",
                        }
                    },
                    "required": ["files"],
                }
            }
        },
    }
}


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


def _locked_directory(tmp_root: Path) -> tuple[Path, int]:
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


class _Receiver:
    """python-multipart callbacks writing file parts to disk as they stream in."""

    def __init__(self, target: Path, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.received = 0
        self.files: list[ReceivedFile] = []
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._handle: BinaryIO | None = None
        self._current: ReceivedFile | None = None
        self.ended = False  # the closing boundary arrived: the body is complete

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        field_name = options.get(b"name", b"").decode("utf-8", "replace")
        if field_name not in FILE_FIELDS or b"filename" not in options:
            raise BadRequest("send the files as multipart/form-data file parts named 'files'")
        if len(self.files) >= MAX_FILES:
            raise BadRequest(f"at most {MAX_FILES} files per upload")
        name = safe_file_name(options[b"filename"].decode("utf-8", "replace"))
        if any(f.name == name for f in self.files):
            raise BadRequest(f"file {name!r} appears twice in this upload")
        path = self.target / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._handle = os.fdopen(fd, "wb")
        self._current = ReceivedFile(name=name, path=path)
        self.files.append(self._current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._handle is None or self._current is None:
            return
        self.received += end - start
        if self.received > self.limit:
            raise TooLarge(f"upload exceeds the limit of {self.limit} bytes; split the file "
                           "into parts (docs/ingest.md) or ask the operator")
        self._handle.write(data[start:end])
        self._current.digest.update(data[start:end])
        self._current.size += end - start

    def on_part_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def receive_upload(
    content_type: str | None, content_length: str | None, stream: AsyncIterator[bytes],
    tmp_root: Path, limit: int, subfolder: str,
) -> Upload:
    """Parse the multipart body into files under a fresh private directory.

    ``subfolder`` is placed between the private directory and the files (the partner's
    org_code), because ingest reads the partner from a 7- or 3-digit folder in the path.
    """
    media, params = parse_options_header(content_type)
    if media != b"multipart/form-data" or b"boundary" not in params:
        raise BadRequest("send multipart/form-data with one or more file parts named 'files'")
    if content_length and content_length.isdigit() and int(content_length) > limit + 64 * 1024:
        raise TooLarge(f"upload exceeds the limit of {limit} bytes")
    directory, lock_fd = _locked_directory(tmp_root)
    upload = Upload(directory=directory, lock_fd=lock_fd)
    target = directory / subfolder
    target.mkdir(mode=0o700)
    receiver = _Receiver(target, limit)
    callbacks = {
        "on_part_begin": receiver.on_part_begin,
        "on_part_data": receiver.on_part_data,
        "on_part_end": receiver.on_part_end,
        "on_header_field": receiver.on_header_field,
        "on_header_value": receiver.on_header_value,
        "on_header_end": receiver.on_header_end,
        "on_headers_finished": receiver.on_headers_finished,
        "on_end": receiver.on_end,
    }
    try:
        parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
        if not receiver.ended:
            # A cut body parses as a shorter file: without the closing boundary nothing proves
            # the last part is whole, so nothing of it may be ingested.
            raise BadRequest("malformed multipart body: no closing boundary (the upload was "
                             "cut short); send it again")
    except FormParserError as exc:
        receiver.close()
        upload.remove()
        raise BadRequest(f"malformed multipart body: {exc}") from None
    except BaseException:
        receiver.close()
        upload.remove()
        raise
    receiver.close()
    upload.files = receiver.files
    if not upload.files:
        upload.remove()
        raise BadRequest("the upload contained no files; send file parts named 'files'")
    return upload


async def receive_and_ingest(request: Request, *, settings: Settings,
                             sessions: sessionmaker[Session], keys: KeyProvider,
                             caller: Principal, org: str) -> UploadResult:
    """The upload of ``request`` received into a private folder, ingested for ``org`` (the API
    route and the portal page alike), and the folder removed whatever happened."""
    received = await receive_upload(
        request.headers.get("content-type"), request.headers.get("content-length"),
        request.stream(), settings.tmp_dir / "uploads", settings.upload_max_bytes, org)
    try:
        outcome = await run_in_threadpool(partial(
            ingest_upload, settings=settings, sessions=sessions, keys=keys, caller=caller,
            files=received.files))
    finally:
        received.remove()
    return UploadResult.of(outcome)
