"""One chunk's files in one staging file: a chunk of a large run creates no file of its own.

A chunk writes about 16,000 small files (one per LEA-year extract, college term, CCGI week);
creating, moving and deleting that many per chunk cost more system time than the rows. So a
chunk appends each file's bytes to one blob and keeps an index; synth.chunks copies the ranges
into the final tree (``os.sendfile``) in chunk order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path


class Blob:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("wb")
        # relative file -> its parts: (offset, length, header bytes at the part's start)
        self.index: dict[str, list[tuple[int, int, int]]] = {}

    def add(self, rel: str, data: bytes, header: int) -> None:
        self.index.setdefault(rel, []).append((self._fh.tell(), len(data), header))
        self._fh.write(data)

    def add_csv(self, rel: str, header: Sequence[str], rows: list[list[str]]) -> None:
        """A CSV part written as the writers write their files (header line first)."""
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        size = len(text.getvalue().encode("utf-8"))
        writer.writerows(rows)
        self.add(rel, text.getvalue().encode("utf-8"), header=size)

    def close(self) -> None:
        self._fh.close()


__all__ = ["Blob"]
