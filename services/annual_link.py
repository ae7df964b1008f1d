"""Use case: run the annual link (``c2c link``, the Dagster ``annual_link`` asset).

Standardise identities, train and predict with Splink, cluster, re-key to stable person ids:
one ``linkage`` call on the warehouse, opened for writing for the length of the run; then the
change log's notes to holders of earlier extracts (``services.id_change_log``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.warehouse import warehouse
from services.id_change_log import CohortNote, tell_extract_holders

if TYPE_CHECKING:
    from linkage.run import LinkRunSummary


def link_annual(*, settings: Settings, run_id: str | None = None,
                on_stage: Callable[[str, float], None] | None = None,
                sessions: Callable[[], sessionmaker[Session]] | None = None,
                on_notes: Callable[[list[CohortNote]], None] | None = None) -> LinkRunSummary:
    """The link run's summary; the model and charts go under ``settings.runs_dir/<run id>``.

    With ``sessions`` (opens the governance store; called only when there is a note to queue,
    so a deployment with no extracts needs no store), researchers whose earlier extracts hold people
    whose ids the run changed get a note (counts only: ``services.id_change_log``);
    ``on_notes`` hears which extracts were noted."""
    # Splink on first use: the Dagster definitions import this module (0.5 s of their 5 s)
    from linkage.run import run_annual_link

    with warehouse(settings) as con:
        summary = run_annual_link(con, settings=settings, run_id=run_id,
                                  runs_dir=settings.runs_dir, on_stage=on_stage)
    if sessions is not None:
        notes = tell_extract_holders(settings=settings, sessions=sessions, run_id=summary.run_id)
        if on_notes is not None:
            on_notes(notes)
    return summary
