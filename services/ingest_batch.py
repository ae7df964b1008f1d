"""Use case: ingest a batch of partner files (``c2c ingest``, ``c2c release-held``, the
Dagster ingest assets).

The wiring each front door used to write for itself lives here once: open the warehouse for
the length of the batch, derive the raw-store key, call ``ingest``. The partner registry is an
argument (the governance store's, :func:`registered_partners`, unless the operator named a CSV).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.keys import RAW_STORE_PURPOSE, KeyProvider
from core.partners import Partner
from core.settings import Settings
from core.warehouse import warehouse
from governance.partners import list_partners
from ingest import IngestOptions, Receipt, ingest_files, release_held


def registered_partners(*, sessions: sessionmaker[Session]) -> list[Partner]:
    """The partner registry of the governance store (``c2c partners import``)."""
    with sessions() as session:
        return list_partners(session)


def ingest_batch(
    *,
    settings: Settings,
    keys: KeyProvider,
    partners: Sequence[Partner],
    paths: Sequence[Path],
    options: IngestOptions | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> list[Receipt]:
    """Ingest ``paths`` (files or folders) into the raw store and staging; one receipt per data
    file, a rejected file does not stop the batch. ``on_file`` hears each path once it is done
    (the paths are then ingested one call each, so progress can be told between them)."""
    raw_key = keys.derive(RAW_STORE_PURPOSE)
    with warehouse(settings) as con:
        if on_file is None:
            return ingest_files(con, list(paths), settings.raw_dir, raw_key, partners,
                                options=options)
        receipts: list[Receipt] = []
        for path in paths:
            receipts += ingest_files(con, [path], settings.raw_dir, raw_key, partners,
                                     options=options)
            on_file(path)
        return receipts


def release_held_files(
    *,
    settings: Settings,
    keys: KeyProvider,
    partners: Sequence[Partner],
    file_ids: Sequence[str] | None = None,
) -> list[Receipt]:
    """Load the held files whose partner now has an executed, current agreement."""
    with warehouse(settings) as con:
        return release_held(con, settings.raw_dir, keys.derive(RAW_STORE_PURPOSE), partners,
                            file_ids=file_ids)
