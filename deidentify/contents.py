"""What an extract package holds: its file names (shared by building and opening)."""

from __future__ import annotations

DATA_PARQUET = "data.parquet"
DATA_CSV = "data.csv"
MANIFEST = "manifest.json"
PACKAGE_SUFFIX = ".tar.age"  # a tar archive encrypted with age (deidentify.package)


def request_of_package(name: str) -> str | None:
    """The request id a package's file name carries (``<request id>.tar.age``), if it does."""
    if not name.endswith(PACKAGE_SUFFIX):
        return None
    return name[: -len(PACKAGE_SUFFIX)] or None
