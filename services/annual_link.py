"""Use case: run the annual link (``c2c link``, the Dagster ``annual_link`` asset).

Standardise identities, train and predict with Splink, cluster, re-key to stable person ids:
one ``linkage`` call on the warehouse, opened for writing for the length of the run.
"""

from __future__ import annotations

from collections.abc import Callable

from core.settings import Settings
from core.warehouse import warehouse
from linkage import LinkRunSummary, run_annual_link


def link_annual(*, settings: Settings, run_id: str | None = None,
                on_stage: Callable[[str, float], None] | None = None) -> LinkRunSummary:
    """The link run's summary; the model and charts go under ``settings.runs_dir/<run id>``."""
    with warehouse(settings) as con:
        return run_annual_link(con, settings=settings, run_id=run_id, runs_dir=settings.runs_dir,
                               on_stage=on_stage)
