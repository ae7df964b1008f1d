"""A received .zip: every member becomes a manifest row of its own and is processed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

import duckdb

from core.errors import InputRejected
from ingest import archive, manifest
from ingest.manifest import FileRow, derived_id
from ingest.models import FileError, Receipt
from ingest.rawstore import raw_path
from ingest.receipts import receipts_of, reject, rejection


def unpack_zip(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, key: bytes, container: FileRow, *,
    limits: archive.ZipLimits, process: Callable[[FileRow], Receipt],
    event: Callable[[str], None],
) -> list[Receipt]:
    """Receipts of the members (``process`` loads each); a bad archive is rejected whole."""
    sha = container.sha256 or container.file_id
    try:
        members = archive.list_members(raw_path(raw_dir, sha), key, container.original_name,
                                       limits)
    except InputRejected as exc:
        return [reject(con, container, [rejection(container, exc)], 1, event)]
    if not members:
        error = FileError(file=container.original_name, rule="file_not_empty",
                          message="the zip archive holds no files")
        return [reject(con, container, [error], 1, event)]
    folder = str(PurePosixPath((container.source_path or "").replace("\\", "/")).parent)
    for member in members:
        member_id = derived_id("zip", container.file_id, member.name)
        row = manifest.get_file(con, member_id)
        if row is None:
            row = FileRow(
                file_id=member_id, sha256=None, origin="zip_member", parent_id=container.file_id,
                member=member.name, part_ids=None,
                original_name=f"{container.original_name}/{member.name}",
                source_path=f"{folder}/{member.name}", size_bytes=member.size,
                received_at=container.received_at, submitted_by=container.submitted_by,
            )
            manifest.insert_file(con, row)
        if row.status == "received":
            process(row)
    manifest.update_file(con, container.file_id, status="unpacked")
    container.status = "unpacked"
    # Read back in the stored order, so a re-send returns the very same list.
    return receipts_of(con, container)
