"""Annual master data management: standardise identities, link with Splink, keep stable ids.

Entry points (all take a DuckDB warehouse connection and return small results):
``run_annual_link``, ``evaluate``, ``export_crosswalk``, ``record_review_decision``,
``checks.match_rate_floors``. See docs/linkage.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from linkage.evaluate import Evaluation, evaluate
from linkage.export import export_crosswalk
from linkage.review import record_review_decision

if TYPE_CHECKING:
    from linkage.run import LinkRunSummary, run_annual_link


def __getattr__(name: str) -> Any:
    """The run on first use (PEP 562): it loads Splink, and importing any module of the
    package (``linkage.rates`` for a check, ``linkage.id_changes`` for an extract) loaded it
    too, 0.5 s of the Dagster definitions' 5 s budget."""
    if name in ("LinkRunSummary", "run_annual_link"):
        from linkage import run

        return getattr(run, name)
    raise AttributeError(f"module 'linkage' has no attribute {name!r}")


__all__ = [
    "Evaluation",
    "LinkRunSummary",
    "evaluate",
    "export_crosswalk",
    "record_review_decision",
    "run_annual_link",
]
