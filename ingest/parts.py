"""Split parts (``<name>.part<N>of<M><ext>``): kept on arrival, loaded when all are stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

import duckdb

from ingest import manifest
from ingest.identify import identify_name, parse_part
from ingest.manifest import FileRow, derived_id
from ingest.models import FileError, Receipt, ReceiptStatus
from ingest.receipts import finish, receipt_for, receipts_of, reject


def receive_part(
    con: duckdb.DuckDBPyConnection, part_row: FileRow, *, submitted_by: str | None,
    process: Callable[[FileRow], Receipt], event: Callable[[str], None],
) -> list[Receipt]:
    """Keep the part; when every part of its group is stored, load the reassembled file.

    Returns the part's receipt, and the reassembled file's once ``process`` has loaded it.
    """
    part = parse_part(part_row.original_name)
    assert part is not None
    info = identify_name(part_row.source_path or part_row.original_name)
    group = f"{submitted_by or info.partner_org or ''}|{part.logical_name}|{part.total}"
    if part_row.status == "received":
        manifest.update_file(con, part_row.file_id, part_group=group, part_no=part.number,
                             part_total=part.total)
    siblings = manifest.files_where(con, "part_group = ?", [group])
    by_number = {s.part_no: s for s in siblings if s.part_no is not None}
    if part_row.part_no is None:
        by_number[part.number] = part_row
    missing = [n for n in range(1, part.total + 1) if n not in by_number]
    if part.number > part.total or part.number < 1:
        error = FileError(file=part_row.original_name, rule="part_number",
                          value=str(part.number), message=f"part {part.number} of {part.total}")
        return [reject(con, part_row, [error], 1, event)]
    if missing:
        message = (f"part {part.number} of {part.total} of {part.logical_name} stored; "
                   f"waiting for part(s) {', '.join(map(str, missing))}")
        if part_row.status == "received":
            receipt = receipt_for(part_row, ReceiptStatus.HELD, message)
            return [finish(con, part_row, receipt, "part")]
        return receipts_of(con, part_row)
    part_ids = [by_number[n].file_id for n in range(1, part.total + 1)]
    logical_id = derived_id("parts", *part_ids)
    logical = manifest.get_file(con, logical_id)
    if logical is None:
        folder = str(PurePosixPath((part_row.source_path or "").replace("\\", "/")).parent)
        logical = FileRow(
            file_id=logical_id, sha256=None, origin="parts", parent_id=None, member=None,
            part_ids=part_ids, original_name=part.logical_name,
            source_path=f"{folder}/{part.logical_name}",
            size_bytes=sum(int(by_number[n].size_bytes or 0) for n in range(1, part.total + 1)),
            received_at=max(s.received_at for s in by_number.values()),
            submitted_by=part_row.submitted_by,
        )
        manifest.insert_file(con, logical)
    result = (process(logical) if logical.status == "received"
              else receipts_of(con, logical)[0])
    for number in range(1, part.total + 1):
        sibling = by_number[number]
        note = (f"part {number} of {part.total}: reassembled into {part.logical_name} "
                f"({result.status})")
        finish(con, sibling, receipt_for(sibling, ReceiptStatus(result.status), note), "part")
    own = manifest.read_receipt(con, part_row.file_id)
    return [r for r in (own, result) if r is not None]
