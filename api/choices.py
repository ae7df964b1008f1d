"""What exists to choose from, read from the serving snapshot (cached with it); the door checks
against it live in ``services.choices``."""

from __future__ import annotations

from typing import Any

from api.serving import ServingSnapshot
from core.errors import NotFound
from services.choices import Choices


def choices(snapshot: ServingSnapshot) -> Choices:
    def compute(cursor: Any) -> Choices:
        def distinct(column: str) -> tuple[str, ...]:
            rows = cursor.execute(
                f"SELECT DISTINCT CAST({column} AS VARCHAR) FROM published_aggregates "
                f"WHERE {column} IS NOT NULL ORDER BY 1").fetchall()
            return tuple(str(r[0]) for r in rows)

        groups: dict[str, list[str]] = {}
        for group, value in cursor.execute(
                "SELECT DISTINCT CAST(subgroup AS VARCHAR), CAST(subgroup_value AS VARCHAR) "
                "FROM published_aggregates WHERE subgroup IS NOT NULL ORDER BY 1, 2").fetchall():
            groups.setdefault(str(group), []).append(str(value))
        return Choices(distinct("academic_year"), distinct("reporting_lea"),
                       {k: tuple(v) for k, v in groups.items()}, distinct("metric"), True)

    try:
        return snapshot.cached(("choices",), compute)
    except NotFound:
        return Choices()


def metric_years(snapshot: ServingSnapshot) -> dict[str, list[str]]:
    """metric -> the academic years published for it (the researcher's variable catalog)."""
    def compute(cursor: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for metric, year in cursor.execute(
                "SELECT DISTINCT metric, CAST(academic_year AS VARCHAR) FROM published_aggregates"
                " ORDER BY 1, 2").fetchall():
            out.setdefault(str(metric), []).append(str(year))
        return out

    return snapshot.cached(("metric_years",), compute)
