"""What an extract package holds: its file names (shared by building and opening)."""

from __future__ import annotations

DATA_PARQUET = "data.parquet"
DATA_CSV = "data.csv"
MANIFEST = "manifest.json"
PACKAGE_SUFFIX = ".c2cx"
