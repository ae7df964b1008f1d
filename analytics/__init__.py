"""Outcomes, identifier checks, disclosure control and the serving snapshot (issue 5).

Library functions take a DuckDB connection (the warehouse) and return small result objects.
"""

from __future__ import annotations

from analytics.disclosure import Cell, suppress
from analytics.outcomes import OutcomeSummary, build_outcomes
from analytics.publish import PublishSummary, publish, summary_table
from analytics.request_tables import aggregate_for_request
from analytics.warehouse_checks import (
    CheckResult,
    Finding,
    no_identifiers,
    scan_for_identifiers,
    suppression_applied,
)

__all__ = [
    "Cell",
    "CheckResult",
    "Finding",
    "OutcomeSummary",
    "PublishSummary",
    "aggregate_for_request",
    "build_outcomes",
    "no_identifiers",
    "publish",
    "scan_for_identifiers",
    "summary_table",
    "suppress",
    "suppression_applied",
]
