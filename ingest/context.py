"""What every file of one ingest call shares: the warehouse, the raw store, partners, sender."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from core.partners import Partner
from ingest import archive
from ingest.classify import ColumnMaps


@dataclass(frozen=True)
class IngestOptions:
    """Knobs of a run. ``column_maps``: kind -> {partner header name: canonical column}.

    ``on_file_done(name, size)``: called once per received file when its receipts are final
    (a progress bar). ``batch_files`` / ``batch_bytes``: most files / plaintext bytes one load
    statement reads (``ingest.batch``); 1 file loads every file on its own.
    """

    column_maps: ColumnMaps = field(default_factory=dict)
    zip_limits: archive.ZipLimits = field(default_factory=archive.ZipLimits)
    today: date | None = None  # date of receipt and of the agreement check (default: today)
    on_event: Callable[[str], None] | None = None
    on_file_done: Callable[[str, int], None] | None = None
    batch_files: int = 2000
    batch_bytes: int = 512 * 1024 * 1024


@dataclass
class Run:
    """One ingest call's shared resources and settings."""

    con: duckdb.DuckDBPyConnection
    raw_dir: Path
    key: bytes
    partners: dict[str, Partner]
    options: IngestOptions
    submitted_by: str | None

    def event(self, text: str) -> None:
        if self.options.on_event:
            self.options.on_event(text)

    def done(self, name: str, size: int) -> None:
        if self.options.on_file_done:
            self.options.on_file_done(name, size)

    @property
    def today(self) -> date:
        return self.options.today or date.today()

    def now(self) -> datetime:
        """Receipt time; ``options.today`` (back-fills, tests) fixes its date."""
        now = datetime.now()
        return datetime.combine(self.options.today, now.time()) if self.options.today else now
