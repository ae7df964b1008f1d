"""The query budget of disclosure previews (docs/metrics.md, "Query budget").

ABS TableBuilder and the ONS table builders limit how many tables one user can ask for, because
every answer, however well protected, narrows what an attacker knows and averaging needs many
answers. C2C counts previews per researcher and per cohort population (the years and LEAs a
cohort draws on, whoever asks: two accounts of one person share the second budget), each over
a rolling window; a preview over budget is refused before it runs (429).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import OverBudget
from core.protection import (
    PREVIEW_BUDGET_PER_COHORT,
    PREVIEW_BUDGET_PER_RESEARCHER,
    PREVIEW_BUDGET_WINDOW_HOURS,
)
from core.requests import CohortFilter
from governance.models import PreviewQuery


def cohort_population(cohort: CohortFilter) -> str:
    """The budget's cohort key: the years and LEAs a cohort draws on (filters and groupings
    within them are what a differencing attacker varies, so they share one budget)."""
    text = json.dumps({"years": sorted(set(cohort.academic_years)),
                       "leas": sorted(set(cohort.reporting_leas))}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spend(session: Session, *, user_id: int, cohort: CohortFilter, now: datetime | None = None,
          per_researcher: int = PREVIEW_BUDGET_PER_RESEARCHER,
          per_cohort: int = PREVIEW_BUDGET_PER_COHORT,
          window_hours: int = PREVIEW_BUDGET_WINDOW_HOURS) -> tuple[int, int]:
    """Count one preview against both budgets, or raise ``OverBudget`` (nothing counted).
    Returns what is left of each: (researcher, cohort)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=window_hours)
    key = cohort_population(cohort)
    mine = session.scalar(select(func.count()).select_from(PreviewQuery).where(
        PreviewQuery.user_id == user_id, PreviewQuery.at >= since)) or 0
    theirs = session.scalar(select(func.count()).select_from(PreviewQuery).where(
        PreviewQuery.cohort_key == key, PreviewQuery.at >= since)) or 0
    if mine >= per_researcher:
        raise OverBudget(f"you have run {mine} previews in the last {window_hours} hours, the "
                         f"most one researcher may (docs/metrics.md, query budget); submit the "
                         "request or try again later")
    if theirs >= per_cohort:
        raise OverBudget(f"this cohort's years and LEAs have been previewed {theirs} times in "
                         f"the last {window_hours} hours, the most any cohort may be; submit "
                         "the request or try again later")
    session.add(PreviewQuery(user_id=user_id, cohort_key=key, at=now))
    session.flush()
    return per_researcher - mine - 1, per_cohort - theirs - 1
