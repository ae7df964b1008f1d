"""Streamed multipart upload into a private temporary area, with a size limit.

Starlette's form parser spools large files to the system temp directory; partner files carry
identifiers, so this parser writes each file part straight to ``$C2C_HOME/tmp/uploads/<random>``
(directory 0700, files 0600, ``api.upload_area``) and counts bytes as they arrive, refusing
with 413 the moment the limit is passed.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from api.errors import BadRequest, TooLarge
from api.upload_area import ReceivedFile, Upload, locked_directory, safe_file_name

FILE_FIELDS = {"files", "file"}
MAX_FILES = 50


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
    directory, lock_fd = locked_directory(tmp_root)
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
