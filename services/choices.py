"""What exists to choose from (read from the serving snapshot by the API), and the door check
against it (used by the request use cases and the public dashboard).

The published aggregates list every academic year, reporting LEA, student group and metric the
service has data for. Filters and request cohorts naming anything else are refused with 422
and the valid choices, instead of answering 200 with 0 rows (a misspelt filter or a cohort year
"2023" used to look like "no data"). When nothing is published yet there is no evidence of
what exists, so values are not checked (the answer is then simply empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import UserError

SHOWN = 12  # choices quoted in an error message before "..."


@dataclass(frozen=True)
class Choices:
    academic_years: tuple[str, ...] = ()
    reporting_leas: tuple[str, ...] = ()
    subgroups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    published: bool = False


def _listed(values: tuple[str, ...]) -> str:
    shown = ", ".join(values[:SHOWN])
    return shown + (f", ... ({len(values)} in all)" if len(values) > SHOWN else "")


def check(field_name: str, value: str | None, valid: tuple[str, ...], published: bool) -> None:
    """Refuse ``value`` unless it is one of ``valid`` (no check before anything is published)."""
    if value is None or not published or value in valid:
        return
    raise UserError(f"{field_name}: no published data for {value!r}; valid choices: "
                    f"{_listed(valid) or 'none'}")


def check_aggregate_filters(c: Choices, *, academic_year: str | None, reporting_lea: str | None,
                            subgroup: str | None, subgroup_value: str | None,
                            metric: str | None) -> None:
    check("academic_year", academic_year, c.academic_years, c.published)
    check("reporting_lea", reporting_lea, c.reporting_leas, c.published)
    check("metric", metric, c.metrics, c.published)
    check("subgroup", subgroup, tuple(c.subgroups), c.published)
    if subgroup is not None and subgroup_value is not None and subgroup in c.subgroups:
        check("subgroup_value", subgroup_value, c.subgroups[subgroup], c.published)
    elif subgroup is None and subgroup_value is not None:
        every = tuple(sorted({v for vs in c.subgroups.values() for v in vs}))
        check("subgroup_value", subgroup_value, every, c.published)


def check_cohort(c: Choices, academic_years: list[str], reporting_leas: list[str]) -> None:
    """A request cohort may name only years and LEAs the service has data for."""
    for year in academic_years:
        check("cohort.academic_years", year, c.academic_years, c.published)
    for lea in reporting_leas:
        check("cohort.reporting_leas", lea, c.reporting_leas, c.published)
