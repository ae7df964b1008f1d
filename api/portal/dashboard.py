"""The public dashboard's rows: what the page shows and what its CSV holds.

Every number comes from ``api.aggregates.aggregate_page`` (the function ``GET
/v1/aggregates`` answers with), walked page by page, so the dashboard, its CSV and the API
cannot disagree. The page shows the rows a page at a time; the CSV holds every row of the same
filters, all pages, under a header line naming the snapshot and the suppression and rounding
rule. The filters: ``api.portal.dashboard_filters``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from analytics.metrics import STATE
from api.aggregates import AGGREGATE_COLUMNS, BAND_COLUMNS, AggregateRow, aggregate_page
from api.portal.dashboard_filters import Filters
from api.serving import ServingSnapshot
from core.gate import plain
from core.labels import group_label, metric_label
from core.protection import MIN_CELL

PAGE_ROWS = 100
_FETCH = 1000  # the API's largest page


def _pages(snapshot: ServingSnapshot, f: Filters, lea: str | None) -> Iterator[AggregateRow]:
    offset = 0
    while True:
        page = aggregate_page(snapshot, academic_year=f.year, reporting_lea=lea,
                              subgroup=f.subgroup, subgroup_value=f.value, metric=f.metric,
                              limit=_FETCH, offset=offset)
        yield from page.data
        offset += _FETCH
        if offset >= page.count:
            return


def all_rows(snapshot: ServingSnapshot, f: Filters) -> list[AggregateRow]:
    """Every row the filters select (all pages; the matched LEAs in name order)."""
    rows: list[AggregateRow] = []
    for lea in f.leas or (None,):
        rows.extend(_pages(snapshot, f, lea))
    return rows


def lea_name(labels: dict[str, str], code: str | None) -> str:
    if code == STATE:
        return "California (state)"
    return labels.get(code or "", code or "").split(" (")[0]


def row_words(r: AggregateRow, labels: dict[str, str]) -> dict[str, str]:
    """A row's codes in words (the table shows both: the words, and the code beside them)."""
    return {"lea": lea_name(labels, r.reporting_lea), "group": group_label(r.subgroup,
                                                                         r.subgroup_value),
            "metric": metric_label(r.metric)}


def trend(snapshot: ServingSnapshot, f: Filters, *, state_published: bool
          ) -> list[tuple[str, AggregateRow | None, AggregateRow | None]]:
    """For one district, one group and one metric: (year, district row, state row) for every
    published year; empty unless the filters name exactly that. A snapshot without state
    rows gives the district's alone (the page says "not published" for the state)."""
    if (len(f.leas) != 1 or f.leas[0] == STATE or f.metric is None or f.subgroup is None
            or f.value is None):
        return []
    every_year = Filters(year=None, leas=f.leas, subgroup=f.subgroup, value=f.value,
                         metric=f.metric)
    district = {r.academic_year: r for r in all_rows(snapshot, every_year)}
    state = {r.academic_year: r for r in all_rows(snapshot, Filters(
        year=None, leas=(STATE,), subgroup=f.subgroup, value=f.value, metric=f.metric))
        } if state_published else {}
    years = sorted(set(district) | set(state), key=lambda y: y or "")
    return [(y or "", district.get(y), state.get(y)) for y in years]


def csv_text(rows: list[AggregateRow], snapshot: dict[str, Any]) -> str:
    """The CSV of exactly these rows, after one header line naming the snapshot and the rule."""
    out = io.StringIO()
    min_cell = snapshot.get("min_cell", MIN_CELL)
    out.write(f"# c2c-link published outcomes; snapshot {snapshot.get('run_id', 'unknown')}; "
              f"{len(rows)} rows; counts under {min_cell} are suppressed (empty) and every "
              "shown count is rounded to a multiple of 5; link_band_low/high: the interval the "
              "estimated link errors imply for a rate that needs a cross-agency link "
              "(docs/metrics.md)\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AGGREGATE_COLUMNS + BAND_COLUMNS)
    for r in rows:
        values = [plain(getattr(r, c)) for c in AGGREGATE_COLUMNS + BAND_COLUMNS]
        writer.writerow(["" if v is None else v for v in values])
    return out.getvalue()
