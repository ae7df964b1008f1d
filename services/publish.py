"""Use case: publish (``c2c outcomes``, ``c2c publish``, the Dagster analytics assets).

Rebuild ``analytics.student_year`` (outcomes keyed by person_id only) and write the serving
snapshot of suppressed, cell-key-rounded aggregates.
"""

from __future__ import annotations

from collections.abc import Callable

from analytics import OutcomeSummary, PublishSummary, build_outcomes, publish
from core.settings import Settings
from core.warehouse import warehouse


def rebuild_outcomes(*, settings: Settings) -> OutcomeSummary:
    """Rebuild ``analytics.student_year``; refuses (and keeps the old table) on an identifier."""
    with warehouse(settings) as con:
        return build_outcomes(con)


def publish_snapshot(
    *,
    settings: Settings,
    min_cell: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> PublishSummary:
    """Write the serving snapshot at ``settings.serving_path`` (``min_cell`` defaults to the
    deployment's); ``progress`` hears (step, done, total)."""
    threshold = min_cell if min_cell is not None else settings.suppression_min_cell
    with warehouse(settings) as con:
        return publish(con, settings.serving_path, min_cell=threshold, progress=progress)
