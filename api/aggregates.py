"""The published aggregates, one page at a time, read from the serving snapshot and cached with
it: what ``GET /v1/aggregates`` answers and the public dashboard shows."""

from __future__ import annotations

from array import array
from typing import Any

from pydantic import BaseModel

from analytics.link_quality import LinkQuality, QualityKey
from api.choices import choices
from api.linkage_quality import link_band, quality_figures
from api.params import Page
from api.serving import ServingSnapshot
from core.gate import GatedCount, gate_published, public_reason
from core.protection import MIN_CELL
from services.choices import check_aggregate_filters

AGGREGATE_COLUMNS = (
    "academic_year", "reporting_lea", "subgroup", "subgroup_value", "metric", "numerator",
    "denominator", "rate", "suppressed", "suppression_reason", "run_id",
)
# The interval the rate's link errors imply (analytics/link_quality.py): not stored in the
# snapshot, computed from the shown rate on the way out; in the CSV after the columns above.
BAND_COLUMNS = ("link_band_low", "link_band_high")


class AggregateRow(BaseModel):
    academic_year: str | None
    reporting_lea: str | None
    subgroup: str | None
    subgroup_value: str | None
    metric: str
    numerator: GatedCount
    denominator: GatedCount
    rate: float | None
    suppressed: bool
    suppression_reason: str | None
    run_id: str | None
    link_band_low: float | None = None
    link_band_high: float | None = None


class AggregatePage(Page[AggregateRow]):
    snapshot: dict[str, Any]


def _row(values: tuple[Any, ...], min_cell: int,
         quality: dict[QualityKey, LinkQuality]) -> AggregateRow:
    row = dict(zip(AGGREGATE_COLUMNS, values, strict=True))
    if row["suppressed"]:
        # Belt and braces: a suppressed cell never carries its numbers, whatever the file says.
        row["numerator"] = row["rate"] = None
        # Only the reasons the standard allows: an older snapshot said whether the numerator
        # or its complement was small, which tells "almost nobody" from "almost everybody".
        row["suppression_reason"] = public_reason(row["suppression_reason"])
    for name in ("academic_year", "reporting_lea", "subgroup", "subgroup_value", "run_id"):
        if row[name] is not None:
            row[name] = str(row[name])
    row["suppressed"] = bool(row["suppressed"])
    # Every count leaves through the egress gate: a value the standard allows passes as it
    # is; anything else (a snapshot written under an older rule) is gated again here.
    cell = "/".join(str(row[c]) for c in ("academic_year", "reporting_lea", "subgroup",
                                          "subgroup_value", "metric"))
    row["numerator"] = gate_published(row["numerator"], min_cell,
                                      reason=row["suppression_reason"], label=f"{cell}/n")
    row["denominator"] = gate_published(row["denominator"], min_cell,
                                        reason=row["suppression_reason"], label=f"{cell}/d")
    if row["numerator"].value is None or row["denominator"].value is None:
        row["rate"] = None
    elif not row["suppressed"]:
        row["rate"] = round(row["numerator"].value / row["denominator"].value, 4)
    row["link_band_low"], row["link_band_high"] = link_band(row, quality)
    return AggregateRow.model_validate(row)


def aggregate_page(snapshot: ServingSnapshot, academic_year: str | None = None,
                   reporting_lea: str | None = None, subgroup: str | None = None,
                   subgroup_value: str | None = None, metric: str | None = None,
                   limit: int = 100, offset: int = 0) -> AggregatePage:
    """The page ``GET /v1/aggregates`` answers, as a model (for the portal), cached per
    snapshot."""
    check_aggregate_filters(choices(snapshot), academic_year=academic_year,
                            reporting_lea=reporting_lea, subgroup=subgroup,
                            subgroup_value=subgroup_value, metric=metric)
    filters = {"academic_year": academic_year, "reporting_lea": reporting_lea,
               "subgroup": subgroup, "subgroup_value": subgroup_value, "metric": metric}
    where = [f"CAST({name} AS VARCHAR) = ?" for name, value in filters.items() if value is not None]
    params: list[Any] = [value for value in filters.values() if value is not None]
    clause = f"WHERE {' AND '.join(where)}" if where else ""

    def compute(cursor: Any) -> AggregatePage:
        order = _aggregate_order(snapshot, cursor, clause, params)
        ids = order[offset:offset + limit]
        min_cell = int(snapshot.info().get("min_cell") or MIN_CELL)
        data: list[AggregateRow] = []
        if ids:  # rowids are integers from the snapshot itself: safe to inline
            rows = cursor.execute(
                f"SELECT rowid, {', '.join(AGGREGATE_COLUMNS)} FROM published_aggregates "
                f"WHERE rowid IN ({', '.join(str(i) for i in ids)})").fetchall()
            by_id = {row[0]: row[1:] for row in rows}
            quality = quality_figures(snapshot)
            data = [_row(by_id[i], min_cell, quality) for i in ids]
        return AggregatePage(data=data, count=len(order), limit=limit, offset=offset,
                             snapshot=snapshot.info())

    return snapshot.cached(("aggregates", tuple(filters.items()), limit, offset), compute)


def aggregate_page_json(snapshot: ServingSnapshot, academic_year: str | None,
                        reporting_lea: str | None, subgroup: str | None,
                        subgroup_value: str | None, metric: str | None, limit: int,
                        offset: int) -> bytes:
    """The page as JSON bytes, cached per snapshot (the cache is bounded by these bytes)."""
    key = ("aggregates json", academic_year, reporting_lea, subgroup, subgroup_value, metric,
           limit, offset)

    def compute(_: Any) -> bytes:
        page = aggregate_page(snapshot, academic_year, reporting_lea, subgroup, subgroup_value,
                              metric, limit, offset)
        return page.model_dump_json().encode("utf-8")

    return snapshot.cached(key, compute)


AGGREGATE_ORDER = "academic_year, reporting_lea, metric, subgroup, subgroup_value, rowid"


def _aggregate_order(snapshot: ServingSnapshot, cursor: Any, clause: str,
                     params: list[Any]) -> array[int]:
    """The rowids of the rows ``clause`` selects, in page order: sorted once per snapshot and
    filter, then every page is a slice of it.

    ``ORDER BY ... LIMIT ... OFFSET`` sorted the whole table for every page (a state snapshot
    holds 100,000+ rows): 35 ms for the first page, 430 ms at offset 100,000, 800 ms with
    the ``count(*) OVER ()`` the total came from; pages are cached, but walking them means a
    miss per page (issue 13). The rowids take 8 bytes a row in the snapshot's byte-bounded
    cache. ``cursor`` is the page's own, so a page and its order come from one snapshot.
    """
    def compute(_: Any) -> array[int]:
        rows = cursor.execute(f"SELECT rowid FROM published_aggregates {clause} "
                              f"ORDER BY {AGGREGATE_ORDER}", params).fetchall()
        return array("q", (int(row[0]) for row in rows))

    return snapshot.cached(("aggregate order", clause, tuple(params)), compute,
                           size=lambda order: order.itemsize * len(order))
