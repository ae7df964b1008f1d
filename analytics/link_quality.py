"""Linkage quality on its way out, and the error bands it puts on published rates.

Two things leave the service from the estimates ``linkage.quality`` keeps in
``mdm.link_quality`` (read here as a table: libraries do not import each other):

1. the estimates themselves (the public linkage-quality page, ``GET /v1/linkage-quality``):
   the linked pairs and reviewed pairs behind each domain are counts of people's records, so
   they pass the egress gate (core/gate.py) and a domain whose linked pairs the gate hides
   has its precision and recall hidden too. Precision and recall are estimates from a
   sample, not the ratio of two published counts, so they cannot be unpicked into a count;
2. error bands on the published rates that need a cross-agency link
   (:func:`bias_band`): computed from the *published* rate alone (itself the shown
   numerator over the shown denominator, both gated) and the estimated precision and recall
   of the link, never from a true count; a suppressed rate has no band.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from analytics.metrics import METRIC_BY_NAME, STATE
from core import tables
from core.duck import table_exists
from core.gate import gate_count, label_key

QUALITY_DDL = """CREATE TABLE linkage_quality (
    run_id VARCHAR, source_pair VARCHAR, dimension VARCHAR, value VARCHAR,
    linked_pairs INTEGER, reviewed_pairs INTEGER, precision DOUBLE, precision_low DOUBLE,
    precision_high DOUBLE, recall DOUBLE, recall_low DOUBLE, recall_high DOUBLE,
    suppressed BOOLEAN, suppression_reason VARCHAR)"""
# The link a metric's numerator needs: a K-12 student found in the other agency's records.
LINK_OF_SOURCE = {"college": "calpads-college", "ccgi": "calpads-ccgi"}
# aggregate subgroup -> the quality domain's dimension estimated for the same students
GROUP_DIMENSION = {"race_ethnicity": "ethnicity"}


@dataclass(frozen=True)
class LinkQuality:
    precision: float
    precision_low: float
    precision_high: float
    recall: float
    recall_low: float
    recall_high: float


QualityKey = tuple[str, str, str]  # (source_pair, dimension, value)


def released_quality_rows(con: duckdb.DuckDBPyConnection, min_cell: int
                          ) -> list[tuple[object, ...]]:
    """The latest estimated run's rows of ``mdm.link_quality``, gated, in the snapshot's
    ``linkage_quality`` column order (none before a run has been estimated)."""
    if not table_exists(con, tables.LINK_QUALITY):
        return []
    rows = con.execute(f"""
        SELECT run_id, source_pair, dimension, value, linked_pairs, reviewed_pairs,
               precision, precision_low, precision_high, recall, recall_low, recall_high
        FROM {tables.LINK_QUALITY}
        WHERE run_id = (SELECT run_id FROM {tables.LINK_QUALITY}
                        ORDER BY estimated_at DESC LIMIT 1)
        ORDER BY source_pair, dimension, value""").fetchall()
    out: list[tuple[object, ...]] = []
    for run, pair, dim, value, linked, reviewed, *figures in rows:
        cell = f"linkage_quality/{run}/{pair}/{dim}/{value}"
        shown_linked = gate_count(int(linked), label_key(f"{cell}/linked"), min_cell)
        shown_reviewed = gate_count(int(reviewed), label_key(f"{cell}/reviewed"), min_cell)
        hidden = shown_linked.hidden
        out.append((run, pair, dim, value, shown_linked.value, shown_reviewed.value,
                    *([None] * 6 if hidden else [None if f is None else round(float(f), 4)
                                                 for f in figures]), hidden,
                    shown_linked.reason if hidden else None))
    return out


def quality_lookup(rows: list[tuple[object, ...]]) -> dict[QualityKey, LinkQuality]:
    """Snapshot ``linkage_quality`` rows -> the figures of every shown, estimated domain."""
    found: dict[QualityKey, LinkQuality] = {}
    for row in rows:
        _run, pair, dim, value, _l, _r, *figures, suppressed, _reason = row
        if suppressed or any(f is None for f in figures):
            continue
        found[(str(pair), str(dim), str(value))] = LinkQuality(
            *(float(f) for f in figures))  # type: ignore[arg-type]
    return found


def band_domain(metric: str, reporting_lea: str | None, subgroup: str | None,
                subgroup_value: str | None) -> list[QualityKey]:
    """The quality domains whose estimates bound a published cell, most specific first: the
    student group's (race/ethnicity rows), else the LEA's, then the link's overall one.
    Empty when the metric needs no cross-agency link."""
    found = METRIC_BY_NAME.get(metric)
    pair = LINK_OF_SOURCE.get(found.source) if found else None
    if pair is None:
        return []
    keys: list[QualityKey] = []
    dimension = GROUP_DIMENSION.get(subgroup or "")
    if dimension and subgroup_value:
        keys.append((pair, dimension, subgroup_value))
    if reporting_lea and reporting_lea != STATE:
        keys.append((pair, "partner", reporting_lea))
    keys.append((pair, "all", "all"))
    return keys


def bias_band(rate: float | None, q: LinkQuality | None) -> tuple[float, float] | None:
    """The interval the true rate lies in given the link's estimated errors.

    A student counted with the outcome is a linked pair that is a true match with
    probability P (precision); a student with the outcome is found with probability R
    (recall); so the true numerator is about (shown numerator) x P / R. With both ends of
    each interval: [rate x P_low / R_high, rate x P_high / R_low], capped at 1. None for a
    suppressed rate or when the link's quality has not been estimated."""
    if rate is None or q is None or q.recall_low <= 0 or q.recall_high <= 0:
        return None
    low = rate * q.precision_low / q.recall_high
    high = min(1.0, rate * q.precision_high / q.recall_low)
    return round(min(low, rate), 4), round(max(high, rate), 4)
