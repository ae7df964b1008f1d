"""Ingest: receive partner files (encrypted raw store), validate, load staging, track submissions.

Public entry points (take a DuckDB warehouse connection, the raw-store folder and key, and the
partner registry as arguments; no global state):

- :func:`ingest_files` / :func:`ingest_file` -> ``list[Receipt]``
- :func:`release_held` -> ``list[Receipt]``
- :func:`get_receipts`
- :mod:`ingest.submissions` (submission report), :mod:`ingest.staging_checks` (asset-check
  validators), :mod:`ingest.partners_csv` (partners CSV loader).
"""

from ingest.models import FileError, Receipt, ReceiptStatus
from ingest.pipeline import (
    IngestOptions,
    expand_paths,
    get_receipts,
    ingest_file,
    ingest_files,
    release_held,
)
from ingest.schema import ensure_schema

__all__ = [
    "FileError", "IngestOptions", "Receipt", "ReceiptStatus", "ensure_schema", "expand_paths",
    "get_receipts", "ingest_file", "ingest_files", "release_held",
]
