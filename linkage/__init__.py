"""Annual master data management: standardise identities, link with Splink, keep stable ids.

Entry points (all take a DuckDB warehouse connection and return small results):
``run_annual_link``, ``evaluate``, ``export_crosswalk``, ``record_review_decision``,
``checks.match_rate_floors``. See docs/linkage.md.
"""

from linkage.evaluate import Evaluation, evaluate
from linkage.export import export_crosswalk
from linkage.review import record_review_decision
from linkage.run import LinkRunSummary, run_annual_link

__all__ = [
    "Evaluation",
    "LinkRunSummary",
    "evaluate",
    "export_crosswalk",
    "record_review_decision",
    "run_annual_link",
]
