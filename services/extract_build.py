"""Use case: build the extract of one approved request given as a file (``c2c extract build``),
kept unlinkable to every earlier individual-level extract the governance store knows of.

Fulfilment of the board's approved requests is ``services.fulfil``; this is the operator's
direct path for one request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.keys import KeyProvider
from core.requests import ApprovedRequest
from core.settings import Settings
from core.warehouse import open_warehouse
from deidentify import ExtractResult, build_extract
from governance.db import session_factory
from governance.extract_registry import individual_extracts


def build_one_extract(*, settings: Settings, keys: KeyProvider, request: ApprovedRequest,
                      out: Path | None = None) -> ExtractResult:
    """Select, generalise, suppress, scan and encrypt ``request``'s extract into ``out``
    (default ``settings.extracts_dir``)."""
    # No store, or one not migrated, stops here (``c2c migrate``): without it the earlier
    # extracts are unknown, and unknown must never count as "none".
    sessions = session_factory(settings.governance_url)
    try:
        with sessions() as session:
            earlier = individual_extracts(session, excluding=request.request_id)
    finally:
        sessions.kw["bind"].dispose()
    con = open_warehouse(settings, read_only=True)
    try:
        return build_extract(con, request, keys, out or settings.extracts_dir,
                             k=settings.k_anonymity, now=datetime.now(UTC),
                             earlier_extracts=earlier)
    finally:
        con.close()
