"""The published linkage quality, read from the serving snapshot and cached with it: what
``GET /v1/linkage-quality`` answers and the public linkage-quality page shows, and the
per-cell lookup the aggregates' error bands use (analytics/link_quality.py)."""

from __future__ import annotations

from typing import Any

import duckdb
from pydantic import BaseModel

from analytics.link_quality import (
    LinkQuality,
    QualityKey,
    band_domain,
    bias_band,
    quality_lookup,
)
from api.serving import ServingSnapshot
from core.gate import GatedCount, gate_published
from core.protection import MIN_CELL

COLUMNS = ("run_id", "source_pair", "dimension", "value", "linked_pairs", "reviewed_pairs",
           "precision", "precision_low", "precision_high", "recall", "recall_low",
           "recall_high", "suppressed", "suppression_reason")
METHOD = ("Estimated from a clerical sample of record pairs drawn by source pair and "
          "match-weight band, each pair decided by a reviewer (no truth file); 95% intervals "
          "from Jeffreys Beta posteriors per stratum, 2,000 Monte Carlo draws. A true match "
          "whose records agree on fewer than two of SSID, birth date, first name and surname "
          "is outside the sample's frame and is not counted as missed (docs/linkage.md).")


class LinkQualityRow(BaseModel):
    source_pair: str
    dimension: str
    value: str
    linked_pairs: GatedCount
    reviewed_pairs: GatedCount
    precision: float | None
    precision_low: float | None
    precision_high: float | None
    recall: float | None
    recall_low: float | None
    recall_high: float | None
    suppressed: bool
    suppression_reason: str | None


class LinkQualityPage(BaseModel):
    run_id: str | None
    method: str
    data: list[LinkQualityRow]


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    try:
        return cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM linkage_quality "
                              "ORDER BY source_pair, dimension, value").fetchall()
    except duckdb.CatalogException:  # a snapshot published before linkage quality was
        return []


def quality_page(snapshot: ServingSnapshot) -> LinkQualityPage:
    """Every published domain; counts pass the gate again on the way out."""
    def compute(cursor: duckdb.DuckDBPyConnection) -> LinkQualityPage:
        min_cell = int(snapshot.info().get("min_cell") or MIN_CELL)
        data = []
        for values in _rows(cursor):
            row = dict(zip(COLUMNS, values, strict=True))
            label = f"linkage_quality/{row['source_pair']}/{row['dimension']}/{row['value']}"
            for name in ("linked_pairs", "reviewed_pairs"):
                row[name] = gate_published(row[name], min_cell, label=f"{label}/{name}",
                                           reason=row["suppression_reason"])
            if row["linked_pairs"].hidden:  # belt and braces: no figure on a hidden count
                row["suppressed"] = True
                for name in COLUMNS[6:12]:
                    row[name] = None
            data.append(LinkQualityRow.model_validate(row))
        run = next((str(v[0]) for v in _rows(cursor)), None)
        return LinkQualityPage(run_id=run, method=METHOD, data=data)

    return snapshot.cached(("linkage quality",), compute)


def quality_figures(snapshot: ServingSnapshot) -> dict[QualityKey, LinkQuality]:
    """(source pair, dimension, value) -> shown estimates, for the aggregates' bands."""
    return snapshot.cached(("linkage quality lookup",),
                           lambda cursor: quality_lookup(_rows(cursor)))


def link_band(row: dict[str, Any], quality: dict[QualityKey, LinkQuality]
              ) -> tuple[float | None, float | None]:
    """The interval a published rate's link errors imply. It comes from the rate as shown
    (none when suppressed), never from a true count."""
    found = next((quality[k] for k in band_domain(row["metric"], row["reporting_lea"],
                                                   row["subgroup"], row["subgroup_value"])
                  if k in quality), None)
    band = bias_band(None if row["suppressed"] else row["rate"], found)
    return band if band else (None, None)
