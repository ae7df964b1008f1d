"""A request's cohort filter as SQL over ``analytics.student_year``: one validation, one builder.

Both request builders (``deidentify`` for individual-level extracts,
``analytics.request_tables`` for aggregate tables) select their rows with ``cohort_where``, so a
cohort means the same rows and is refused with the same error in both.

Values always travel as bound parameters; only column names, checked against the variable
catalog, are written into the SQL.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from core.catalog import VARIABLE_BY_NAME
from core.errors import InputRejected, Location
from core.requests import ApprovedRequest, CohortFilter

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


def check_cohort(request_id: str, cohort: CohortFilter, withheld: Collection[str] = ()) -> None:
    """``InputRejected`` naming the field when a filter names no filterable variable, or a
    variable a partner's review or lapsed agreement withheld (a partner's objection covers
    its data used as a filter too: "students with a CCGI account" is CCGI's data)."""
    for name in sorted(cohort.subgroup_equals):
        if not filterable(name):
            where = Location(file=f"request {request_id}", field="cohort.subgroup_equals",
                             value=name, rule="not a catalog variable that can filter a cohort")
            raise InputRejected("request cannot be built", where)
        if name in withheld:
            where = Location(file=f"request {request_id}", field="cohort.subgroup_equals",
                             value=name, rule="withheld by the partner that supplies it "
                             "(objection or agreement no longer active); the cohort cannot "
                             "filter on it")
            raise InputRejected("request cannot be built", where)


def preview_filter_problem(cohort: CohortFilter) -> Location | None:
    """Previews take no outcome variable as a cohort filter: a preview of "graduates of this
    LEA" beside "leavers of this LEA" is a numerator and a denominator the snapshot hid."""
    for name in sorted(cohort.subgroup_equals):
        variable = VARIABLE_BY_NAME.get(name)
        if variable is not None and variable.role == "outcome":
            return Location(file="preview", field="cohort.subgroup_equals", value=name,
                            rule="an outcome variable cannot filter a preview's cohort; "
                            "submit the request and the board decides")
    return None


def request_where(request: ApprovedRequest) -> tuple[str, dict[str, Any]]:
    """``cohort_where`` for an approved request, refusing its withheld variables."""
    return cohort_where(request.request_id, request.cohort, withheld=request.withheld_variables)


def cohort_where(request_id: str, cohort: CohortFilter, *, withheld: Collection[str] = ()
                 ) -> tuple[str, dict[str, Any]]:
    """``(condition, named parameters)`` selecting the cohort's rows; ``TRUE`` for everyone."""
    check_cohort(request_id, cohort, withheld)
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
