"""A partner's oversized file: one generated CALPADS extract grown to a given size.

Partners sometimes send one very large file (a whole county's SENR in one upload, a year of
CCGI activity). ``inflate`` grows a generated ODS extract to ``size`` bytes by repeating its
records with fresh SSIDs (so every record is a different student to the validator), writing as
it goes: the file is never held in memory here either. Used by the 2 GB streaming bench
(bench/bench_ingest_big.py) and, at a few MB, by the test that ingest streams.
"""

from __future__ import annotations

from pathlib import Path

from core.calpads import CURRENT_LAYOUT


def inflate(source: Path, target: Path, size: int) -> tuple[int, int]:
    """Write ``target``: ``source``'s records repeated (SSIDs renumbered) until the file holds
    at least ``size`` bytes. Returns (records, bytes)."""
    file_type = source.name[:4]
    ssid = CURRENT_LAYOUT[file_type].column_names(ods=True).index("ssid")
    records = [line.split(b"^") for line in source.read_bytes().split(b"\r\n") if line]
    written = count = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while written < size:
            block = []
            for fields in records:
                fields[ssid] = b"%010d" % (9_000_000_000 + count)  # unique in the file
                block.append(b"^".join(fields))
                count += 1
            data = b"\r\n".join(block) + b"\r\n"
            out.write(data)
            written += len(data)
    return count, written


__all__ = ["inflate"]
