"""Annual master data management: standardise identities, link with Splink, keep stable ids.

Entry points (all take a DuckDB warehouse connection and return small results):
``run_annual_link``, ``evaluate``, ``export_crosswalk``, ``record_review_decision``,
``checks.match_rate_floors``. See docs/linkage.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linkage.evaluate import Evaluation, evaluate
    from linkage.export import export_crosswalk
    from linkage.review import record_review_decision
    from linkage.run import LinkRunSummary, run_annual_link

# Loaded on first use (PEP 562): importing any module of the package (``linkage.rates`` for
# a check, ``linkage.id_changes`` for an extract) loaded Splink with it, 0.5 s of the Dagster
# definitions' 5 s budget
_HOME = {"Evaluation": "linkage.evaluate", "evaluate": "linkage.evaluate",
         "export_crosswalk": "linkage.export", "record_review_decision": "linkage.review",
         "LinkRunSummary": "linkage.run", "run_annual_link": "linkage.run"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'linkage' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


__all__ = [
    "Evaluation",
    "LinkRunSummary",
    "evaluate",
    "export_crosswalk",
    "record_review_decision",
    "run_annual_link",
]
