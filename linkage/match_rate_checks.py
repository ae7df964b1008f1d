"""Asset checks for Dagster (plain functions over the warehouse; Dagster wraps them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from linkage.rates import source_pair_rates


@dataclass
class CheckResult:
    passed: bool
    description: str
    metadata: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def match_rate_floors(
    con: duckdb.DuckDBPyConnection, floors: dict[tuple[str, str], float]
) -> CheckResult:
    """Every (source_a, source_b) match rate in the current crosswalk is at least its floor.

    The rate is the share of source_a's records whose person also has a source_b record.
    A pair with no records at all counts as rate 0 (a missing source is a failure).
    """
    rates = source_pair_rates(con)
    metadata: dict[str, float] = {}
    failures = []
    for (a, b), floor in sorted(floors.items()):
        rate = rates.get(f"{a}->{b}", 0.0)
        metadata[f"{a}->{b}"] = rate
        if rate < floor:
            failures.append(f"{a}->{b} match rate {rate:.4f} below floor {floor:.4f}")
    description = "; ".join(failures) if failures else f"{len(floors)} match-rate floors met"
    return CheckResult(not failures, description, metadata, failures)
