"""Use case: provisional person ids between annual runs (``c2c link-provisional``).

New records (a weekly CCGI file, a college term) scored against the MDM of the last annual
run with that run's model; existing person ids never change. ``--agreement`` judges the
provisional links against the annual run that followed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.settings import Settings
from core.warehouse import warehouse
from linkage.provisional import (
    Agreement,
    ProvisionalSummary,
    link_provisional,
    provisional_agreement,
)


def link_new_records(*, settings: Settings, run_id: str | None = None,
                     files: Sequence[str] | None = None) -> ProvisionalSummary:
    """Provisional ids for every unit the last annual run did not see (in ``files``' rows,
    the file ids just loaded, when given; else in all staging)."""
    with warehouse(settings) as con:
        return link_provisional(
            con, runs_dir=settings.runs_dir,
            run_id=run_id or f"prov-{datetime.now(UTC):%Y%m%dT%H%M%S}",
            threshold=settings.link_match_threshold, files=files)


def judge_provisional(*, settings: Settings) -> Agreement:
    """How the latest annual run treated the provisional links made before it."""
    with warehouse(settings) as con:
        return provisional_agreement(con)
