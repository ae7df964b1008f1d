"""Re-sent bytes: which manifest id a sender's bytes get, and whether they sent them before."""

from __future__ import annotations

import duckdb

from ingest import manifest
from ingest.manifest import FileRow


def file_for_sender(
    con: duckdb.DuckDBPyConnection, sha256: str, submitted_by: str | None
) -> tuple[str, FileRow | None]:
    """The manifest id these bytes get from this sender, and its row if they sent them before.

    De-duplication is per sender, after the partner check: bytes another partner sent are a
    new file for this one (loaded and judged as new bytes would be), so a re-send never hands
    back the other partner's receipt nor tells that they sent the file. The operator (no
    ``submitted_by``) and the partner who owns the file see the first copy.
    """
    return files_for_sender(con, [sha256], submitted_by)[0]


def files_for_sender(
    con: duckdb.DuckDBPyConnection, shas: list[str], submitted_by: str | None
) -> list[tuple[str, FileRow | None]]:
    """:func:`file_for_sender` for many files, with one manifest query."""
    own = [f"{sha}-{submitted_by}" for sha in shas] if submitted_by else []
    known = manifest.get_files(con, list(shas) + own)
    found: list[tuple[str, FileRow | None]] = []
    for sha in shas:
        first = known.get(sha)
        if first is None or submitted_by is None or _sent_by(first, submitted_by):
            found.append((sha, first))
        else:
            own_id = f"{sha}-{submitted_by}"
            found.append((own_id, known.get(own_id)))
    return found


def _sent_by(row: FileRow, org: str) -> bool:
    if row.submitted_by is not None:
        return row.submitted_by == org
    return row.partner_org == org  # dropped in the landing folder: the partner it names
