"""The public dashboard's filters and rows: what the page shows and what its CSV holds.

Every number comes from ``api.aggregates.aggregate_page`` (the function ``GET
/v1/aggregates`` answers with), walked page by page, so the dashboard, its CSV and the API
cannot disagree. The page shows the rows a page at a time; the CSV holds every row of the same
filters, all pages, under a header line naming the snapshot and the suppression and rounding
rule.

Filters, as the form offers them (``*`` is "every", chosen on purpose; a filter left out takes
the default the form shows selected):

- ``metric``: one metric (default: the first published), or ``*`` every metric;
- ``group``: ``all:all`` all students (default), ``gender:F`` one group, ``gender:*`` every
  group of one kind side by side, or ``*`` every group;
- ``lea`` / ``find``: one district or charter, or a part of a name (every match is shown);
  none: every district and charter, and the state;
- ``year``: one academic year, or none for every year.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from analytics.metrics import STATE, group_label, metric_label
from api.aggregates import AGGREGATE_COLUMNS, BAND_COLUMNS, AggregateRow, aggregate_page
from api.serving import ServingSnapshot
from core.gate import plain
from core.protection import MIN_CELL
from services.choices import Choices

EVERY = "*"
PAGE_ROWS = 100
_FETCH = 1000  # the API's largest page


@dataclass(frozen=True)
class Filters:
    year: str | None = None
    leas: tuple[str, ...] = ()  # () = every district and charter
    subgroup: str | None = "all"  # None = every group
    value: str | None = "all"  # None = every value of ``subgroup``
    metric: str | None = None  # None = every metric


@dataclass
class Chosen:
    """The filters as the form shows them, and what the page must say about them."""

    filters: Filters
    form: dict[str, str]
    notes: list[str] = field(default_factory=list)
    problem: str | None = None


def find_leas(labels: dict[str, str], text: str) -> list[str]:
    """Every district or charter whose name (or code) contains ``text``, by name."""
    wanted = text.strip().casefold()
    return [code for code, label in sorted(labels.items(), key=lambda kv: kv[1])
            if wanted in label.casefold()]


def choose(c: Choices, labels: dict[str, str], *, year: str | None, lea: str | None,
           group: str | None, metric: str | None, find: str | None) -> Chosen:
    """The filters from the query string; the defaults are the choices the form shows."""
    metric = metric or (c.metrics[0] if c.metrics else None) or ""
    group = group or "all:all"
    form = {"year": year or "", "lea": lea or "", "group": group, "metric": metric,
            "find": find or ""}
    notes: list[str] = []
    leas: tuple[str, ...] = (lea,) if lea else ()
    problem = None
    if find and find.strip():
        hits = find_leas(labels, find)
        if not hits:
            problem = (f"No district or charter with published data is named like {find!r}; "
                       "try part of the name, e.g. a town.")
        else:
            leas = tuple(hits)
            form["lea"] = ""
            if len(hits) > 1:
                notes.append(f"{len(hits)} districts and charters match {find!r}: "
                             + "; ".join(labels[h] for h in hits) + ". All are shown.")
    if group == EVERY:
        subgroup, value = None, None
    else:
        subgroup, _, raw = group.partition(":")
        value = None if raw in ("", EVERY) else raw
    filters = Filters(year=year or None, leas=leas, subgroup=subgroup, value=value,
                      metric=None if metric == EVERY else metric)
    return Chosen(filters=filters, form=form, notes=notes, problem=problem)


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
