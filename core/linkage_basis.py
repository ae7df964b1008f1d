"""What the person ids behind an output rest on: the annual link run, and whether any
provisional link (``mdm.provisional_links``, issue 28 item 4) was used.

Outcomes (``analytics.student_year``, the published rates) and research extracts are built
from ``mdm.crosswalk``, which only annual runs write; provisional links live apart and are
read by nothing that publishes. Every extract manifest says so through :func:`linkage_basis`,
so an output that ever uses a provisional link has one place to say it. Missing evidence
(no crosswalk yet) reads ``annual_run: null``, never a guessed run.
"""

from __future__ import annotations

from typing import Any

import duckdb

from core import tables
from core.duck import table_exists

PROVISIONAL_LINKS = f"{tables.MDM}.provisional_links"


def linkage_basis(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The annual run of the crosswalk, whether provisional links exist and whether the
    output used them (never, today). No count: this goes into released manifests."""
    run = None
    if table_exists(con, tables.CROSSWALK):
        row = con.execute(f"SELECT max(run_id) FROM {tables.CROSSWALK}").fetchone()
        run = row[0] if row else None
    pending = False
    if table_exists(con, PROVISIONAL_LINKS):
        row = con.execute(f"SELECT count(*) > 0 FROM {PROVISIONAL_LINKS}").fetchone()
        pending = bool(row and row[0])
    note = ("person ids from the annual link run only; provisional links are not used")
    if pending:
        note += ("; records linked provisionally since that run are not in this output until "
                 "the next annual run confirms them")
    return {"annual_run": run, "provisional_links_used": False,
            "provisional_links_pending": pending, "note": note}
