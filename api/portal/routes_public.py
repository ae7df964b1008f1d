"""Public pages: the dashboard of published (suppressed) outcomes and the public request log.

The rows come from ``api.aggregates``, as ``GET /v1/aggregates``'s do, so a filter the API refuses
(unknown year, LEA, group or metric: 422 naming the choices) is refused here in the same words.
Public pages need no sign-in and are not audited, like the public API routes.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from analytics.metrics import STATE
from api.aggregates import AggregateRow
from api.choices import choices
from api.deps import SessionDep
from api.deps import get_services as services
from api.portal import dashboard as dash
from api.portal.charts import Bar, bar_chart
from api.portal.dashboard_filters import EVERY, Chosen, choose
from api.portal.web import finish, render
from core.errors import NotFound, UserError
from core.labels import group_label, metric_label
from core.protection import MIN_CELL, ROUNDING_BASE
from governance.partners import list_partners
from governance.public_log import public_log
from services.choices import Choices

router = APIRouter(prefix="/portal/public", include_in_schema=False)
Filter = Annotated[str | None, Query(max_length=100)]


def _blank(value: str | None) -> str | None:
    return value if value else None  # an empty select means "any"


def _lea_labels(db: Any, c: Choices) -> dict[str, str]:
    partners = {p.org_code: p for p in list_partners(db)}
    db.rollback()
    labels = {}
    for code in c.reporting_leas:
        p = partners.get(code)
        labels[code] = (f"{p.name} ({'charter' if p.charter else 'district'}, {code})" if p
                        else "California (state)" if code == STATE else code)
    return labels


def _chosen(request: Request, db: Any, year: str | None, lea: str | None, group: str | None,
            metric: str | None, find: str | None) -> tuple[Chosen, dict[str, str]]:
    c = choices(services(request).serving)
    labels = _lea_labels(db, c)
    return choose(c, labels, year=_blank(year), lea=_blank(lea), group=_blank(group),
                       metric=_blank(metric), find=find), labels


@router.get("")
def dashboard(request: Request, db: SessionDep, year: Filter = None, lea: Filter = None,
              group: Filter = None, metric: Filter = None, find: Filter = None,
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    snapshot = services(request).serving
    c = choices(snapshot)
    chosen, labels = _chosen(request, db, year, lea, group, metric, find)
    f = chosen.filters
    rows: list[AggregateRow] = []
    problem, trend = chosen.problem, []
    if problem is None:
        try:
            rows = dash.all_rows(snapshot, f)
            trend = dash.trend(snapshot, f, state_published=STATE in c.reporting_leas)
        except (UserError, NotFound) as exc:
            problem = str(exc)
    pages = max(1, -(-len(rows) // dash.PAGE_ROWS))
    page = min(page, pages)
    shown = rows[(page - 1) * dash.PAGE_ROWS: page * dash.PAGE_ROWS]
    words = [dash.row_words(r, labels) for r in shown]

    def label(r: AggregateRow, w: dict[str, str]) -> str:
        parts = ([] if f.year else [r.academic_year or ""]) + [w["lea"]]
        parts += [] if f.subgroup and f.value else [w["group"]]
        parts += [] if f.metric else [w["metric"]]
        return " ".join(p for p in parts if p)

    bars = [Bar(label(r, w), None if r.suppressed else r.rate)
            for r, w in zip(shown, words, strict=True)]
    what = metric_label(f.metric) if f.metric else "Every metric"
    chart = Markup(bar_chart(f"{what}: share of students", bars))  # noqa: S704
    trend_chart = None
    if trend:
        district = dash.lea_name(labels, f.leas[0])
        trend_bars = [Bar(f"{y} {name}", None if (r is None or r.suppressed) else r.rate,
                          series=i)
                      for y, d, st in trend
                      for i, (name, r) in enumerate(((district, d), ("California", st)))]
        trend_chart = Markup(bar_chart(  # noqa: S704
            f"{what}, {group_label(f.subgroup, f.value)}: {district} against the state, "
            "by year", trend_bars, legend=[district, "California (state)"]))
    groups = [("all:all", "All students"), (EVERY, "Every group (each one its own row)")]
    for g, vs in c.subgroups.items():
        if g == "all":
            continue
        groups.append((f"{g}:{EVERY}", f"{group_label(g, None).split(':')[0]}: every "
                                            "group side by side"))
        groups += [(f"{g}:{v}", group_label(g, v)) for v in vs]
    query = urlencode({k: v for k, v in chosen.form.items() if v})
    return render(request, "public.html", {
        "title": "Published outcomes", "rows": shown, "words": words, "total": len(rows),
        "problem": problem, "notes": chosen.notes, "chart": chart if shown else None,
        "trend": trend, "trend_chart": trend_chart, "labels": labels, "choices": c,
        "groups": groups, "metrics": [(m, metric_label(m)) for m in c.metrics],
        "f": chosen.form, "query": query, "page": page, "pages": pages,
        "first": (page - 1) * dash.PAGE_ROWS + 1, "snapshot": snapshot.info(),
        # the snapshot's own threshold; the policy's for a snapshot that did not record one
        "min_cell": snapshot.info().get("min_cell", MIN_CELL), "rounding_base": ROUNDING_BASE})


@router.get("/aggregates.csv")
def download_csv(request: Request, db: SessionDep, year: Filter = None, lea: Filter = None,
                 group: Filter = None, metric: Filter = None, find: Filter = None) -> Response:
    """Exactly the rows the dashboard shows for these filters, every page of them."""
    snapshot = services(request).serving
    chosen, _ = _chosen(request, db, year, lea, group, metric, find)
    rows = [] if chosen.problem else dash.all_rows(snapshot, chosen.filters)
    return finish(request, Response(
        dash.csv_text(rows, snapshot.info()), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="c2c-outcomes.csv"'}))


@router.get("/requests")
def request_log(request: Request, db: SessionDep) -> Response:
    total, entries = public_log(db, limit=500, offset=0)
    return render(request, "public_requests.html", {"title": "Public request log",
                                                    "entries": entries, "total": total})
