"""A request's cohort filter as SQL over ``analytics.student_year``: one validation, one builder.

Both request builders (``deidentify`` for individual-level extracts, ``analytics.requests`` for
aggregate tables) select their rows with ``cohort_where``, so a cohort means the same rows
and is refused with the same error in both.

Values always travel as bound parameters; only column names, checked against the variable
catalog, are written into the SQL.
"""

from __future__ import annotations

from typing import Any

from core.catalog import VARIABLE_BY_NAME
from core.errors import InputRejected, Location
from core.requests import CohortFilter

# The list filters of a cohort and the column each restricts (an empty list: no restriction).
LIST_FILTERS: tuple[tuple[str, str], ...] = (
    ("academic_years", "academic_year"),
    ("reporting_leas", "reporting_lea"),
    ("grade_levels", "grade_level"),
)


def filterable(name: str) -> bool:
    """A cohort can be restricted on any catalog variable but the person key."""
    variable = VARIABLE_BY_NAME.get(name)
    return variable is not None and variable.role != "key"


def check_cohort(request_id: str, cohort: CohortFilter) -> None:
    """``InputRejected`` naming the field when a filter names no filterable variable."""
    for name in sorted(cohort.subgroup_equals):
        if not filterable(name):
            where = Location(file=f"request {request_id}", field="cohort.subgroup_equals",
                             value=name, rule="not a catalog variable that can filter a cohort")
            raise InputRejected("request cannot be built", where)


def cohort_where(request_id: str, cohort: CohortFilter) -> tuple[str, dict[str, Any]]:
    """``(condition, named parameters)`` selecting the cohort's rows; ``TRUE`` for everyone."""
    check_cohort(request_id, cohort)
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for attribute, column in LIST_FILTERS:
        values = getattr(cohort, attribute)
        if values:
            params[column] = list(values)
            clauses.append(f'list_contains(${column}, "{column}")')
    if cohort.excluded_leas:
        # Partners whose provider review kept their records out (governance.provider_review).
        params["excluded_leas"] = list(cohort.excluded_leas)
        clauses.append('NOT list_contains($excluded_leas, "reporting_lea")')
    for number, (column, value) in enumerate(sorted(cohort.subgroup_equals.items())):
        params[f"cohort_{number}"] = value
        clauses.append(f'"{column}" = $cohort_{number}')
    return (" AND ".join(clauses) or "TRUE"), params
