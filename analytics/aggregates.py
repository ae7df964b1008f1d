"""True (unsuppressed) counts by academic year x LEA x subgroup x metric.

Every cell of the full domain is produced (zeros too) for every LEA present in a year, plus
``STATE`` = the sum over LEAs and ``all`` = the sum over each subgroup's values, so the sums
the disclosure audit relies on hold exactly. The unit is the student-year-LEA row: a student
enrolled in two LEAs in one year counts once in each, and twice in STATE.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb

from analytics.disclosure import Cell
from analytics.metrics import ALL, METRICS, POPULATIONS, STATE, SUBGROUP_DOMAINS
from core import catalog


def _subgroup_value_sql(subgroup: str) -> str:
    dtype = catalog.VARIABLE_BY_NAME[subgroup].dtype
    if dtype == "BOOLEAN":
        return f"CASE WHEN {subgroup} THEN 'true' ELSE 'false' END"
    return subgroup


def compute_cells(con: duckdb.DuckDBPyConnection) -> list[Cell]:
    """All true cells from ``analytics.student_year`` (the input of ``disclosure.suppress``)."""
    counts = ", ".join(
        [f"count(*) FILTER (WHERE {POPULATIONS[p]}) AS d_{p}" for p in POPULATIONS]
        + [f"count(*) FILTER (WHERE {POPULATIONS[m.population]} AND {m.name}) AS n_{m.name}"
           for m in METRICS]
    )
    branches = [f"SELECT academic_year, reporting_lea, '{ALL}' AS subgroup, '{ALL}' AS value, "
                f"{counts} FROM {catalog.STUDENT_YEAR} GROUP BY ALL"]
    for subgroup in SUBGROUP_DOMAINS:
        branches.append(
            f"SELECT academic_year, reporting_lea, '{subgroup}', {_subgroup_value_sql(subgroup)},"
            f" {counts} FROM {catalog.STUDENT_YEAR} GROUP BY ALL"
        )
    result = con.execute(" UNION ALL ".join(branches))
    names = [d[0] for d in result.description]
    found: dict[tuple[str, str, str, str], dict[str, int]] = {}
    leas_of_year: dict[str, set[str]] = defaultdict(set)
    for row in result.fetchall():
        record = dict(zip(names, row, strict=True))
        year, lea = str(record["academic_year"]), str(record["reporting_lea"])
        leas_of_year[year].add(lea)
        found[(year, lea, str(record["subgroup"]), str(record["value"]))] = {
            k: int(v) for k, v in record.items() if k.startswith(("d_", "n_"))
        }
    return _full_domain(found, leas_of_year)


def _full_domain(
    found: dict[tuple[str, str, str, str], dict[str, int]],
    leas_of_year: dict[str, set[str]],
) -> list[Cell]:
    domain = [(ALL, ALL)] + [(s, v) for s, vals in SUBGROUP_DOMAINS.items() for v in vals]
    cells: list[Cell] = []
    for year in sorted(leas_of_year):
        leas = sorted(leas_of_year[year])
        for subgroup, value in domain:
            state: dict[str, int] = defaultdict(int)
            for lea in leas:
                counts = found.get((year, lea, subgroup, value), {})
                for k, v in counts.items():
                    state[k] += v
                cells.extend(_metric_cells(year, lea, subgroup, value, counts))
            cells.extend(_metric_cells(year, STATE, subgroup, value, state))
    return cells


def _metric_cells(
    year: str, lea: str, subgroup: str, value: str, counts: dict[str, int]
) -> list[Cell]:
    return [
        Cell(year, lea, subgroup, value, m.name, counts.get(f"n_{m.name}", 0),
             counts.get(f"d_{m.population}", 0), population=m.population)
        for m in METRICS
    ]
