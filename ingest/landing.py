"""Where files sit in the landing folder, and which of them are new (for the landing sensor)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core import tables

YEAR_IN_PATH = re.compile(r"(?<!\d)(20\d\d-\d\d)(?!\d)")
SOURCES = ("calpads", "college", "ccgi")


@dataclass(frozen=True)
class LandedFile:
    path: Path
    source: str  # calpads | college | ccgi
    academic_year: str | None  # CALPADS only, from the folder or file name
    signature: str  # path + size + mtime: a changed file counts as new

    @property
    def key(self) -> str:
        return str(self.path)


def classify(landing: Path, path: Path) -> LandedFile | None:
    """A file under ``landing/<source>/...``; None for anything else (hidden, stray files)."""
    relative = path.relative_to(landing)
    if not relative.parts or relative.parts[0] not in SOURCES or path.name.startswith("."):
        return None
    year = None
    if relative.parts[0] == "calpads":
        match = YEAR_IN_PATH.search(str(relative))
        year = match.group(1) if match else None
    stat = path.stat()
    return LandedFile(path, relative.parts[0], year, f"{stat.st_size}:{stat.st_mtime_ns}")


def scan(landing: Path) -> list[LandedFile]:
    if not landing.is_dir():
        return []
    found = (classify(landing, p) for p in sorted(landing.rglob("*")) if p.is_file())
    return [f for f in found if f is not None]


def new_files(landing: Path, seen: dict[str, str]) -> list[LandedFile]:
    """Files not in ``seen`` (path -> signature) or whose signature changed."""
    return [f for f in scan(landing) if seen.get(f.key) != f.signature]


def files_for(landing: Path, source: str, academic_year: str | None = None) -> list[Path]:
    """Every landed file of a source (and, for CALPADS, of one academic year)."""
    return [
        f.path for f in scan(landing)
        if f.source == source and (academic_year is None or f.academic_year == academic_year)
    ]


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes: the id the raw store gives a received file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def received_hashes(con: duckdb.DuckDBPyConnection, hashes: list[str]) -> set[str]:
    """Which of ``hashes`` the warehouse already received, whoever sent them (landing sensor,
    `c2c ingest`, API upload, the demo). A warehouse with no ingest tables yet knows none."""
    if not hashes:
        return set()
    try:
        rows = con.execute(
            f"SELECT sha256 FROM {tables.FILES} WHERE sha256 IN (SELECT unnest(?))", [hashes]
        ).fetchall()
    except duckdb.CatalogException:
        return set()
    return {r[0] for r in rows}
