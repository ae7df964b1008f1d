"""Public pages: the dashboard of published (suppressed) outcomes and the public request log.

The rows come from ``api.routes.public.aggregates`` itself, so a filter the API refuses
(unknown year, LEA, group or metric: 422 naming the choices) is refused here in the same words.
Public pages need no sign-in and are not audited, like the public API routes.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from api.choices import Choices, choices
from api.deps import SessionDep
from api.deps import get_services as services
from api.portal.charts import Bar, bar_chart
from api.portal.web import finish, render
from api.routes.public import AGGREGATE_COLUMNS, AggregateRow, aggregate_page
from core.errors import NotFound, UserError
from core.gate import plain
from governance.partners import list_partners
from governance.requests import public_log

router = APIRouter(prefix="/portal/public", include_in_schema=False)
Filter = Annotated[str | None, Query(max_length=100)]
MAX_ROWS = 1000


def _blank(value: str | None) -> str | None:
    return value if value else None  # an empty select means "any"


def _lea_labels(db: Any, c: Choices) -> dict[str, str]:
    partners = {p.org_code: p for p in list_partners(db)}
    db.rollback()
    labels = {}
    for code in c.reporting_leas:
        p = partners.get(code)
        labels[code] = (f"{p.name} ({'charter' if p.charter else 'district'}, {code})" if p
                        else code)
    return labels


def _query(request: Request, year: str | None, lea: str | None, group: str | None,
           metric: str | None) -> tuple[list[AggregateRow], int]:
    subgroup, value = (group.split(":", 1) + [None])[:2] if group else (None, None)
    page = aggregate_page(services(request).serving, academic_year=year, reporting_lea=lea,
                      subgroup=subgroup, subgroup_value=value, metric=metric, limit=MAX_ROWS,
                      offset=0)
    return page.data, page.count


def find_lea(labels: dict[str, str], text: str) -> tuple[str | None, str | None]:
    """``(code, None)`` for the one district or charter whose name contains ``text``, else
    ``(None, message)`` saying there is none or listing the candidates."""
    wanted = text.strip().casefold()
    hits = sorted((label, code) for code, label in labels.items() if wanted in label.casefold())
    if len(hits) == 1:
        return hits[0][1], None
    if not hits:
        return None, f"no district or charter with published data is named like {text!r}"
    shown = "; ".join(label for label, _ in hits[:10])
    return None, f"{len(hits)} match {text!r}: {shown}{' ...' if len(hits) > 10 else ''}"


@router.get("")
def dashboard(request: Request, db: SessionDep, year: Filter = None, lea: Filter = None,
              group: Filter = None, metric: Filter = None, find: Filter = None) -> Response:
    year, lea, group, metric = (_blank(v) for v in (year, lea, group, metric))
    c = choices(services(request).serving)
    labels = _lea_labels(db, c)
    found_problem = None
    if find and find.strip():
        found, found_problem = find_lea(labels, find)
        lea = found or lea
    if metric is None and c.metrics:
        metric = c.metrics[0]  # one metric at a time keeps chart and table readable
    if group is None and "all" in c.subgroups:
        group = "all:all"
    rows: list[AggregateRow] = []
    total, problem = 0, None
    try:
        rows, total = _query(request, year, lea, group, metric)
    except (UserError, NotFound) as exc:
        problem = str(exc)
    if found_problem:
        problem, rows, total = found_problem, [], 0

    def label(r: AggregateRow) -> str:
        name = labels.get(r.reporting_lea or "", r.reporting_lea or "").split(" (")[0]
        parts = ([] if year else [r.academic_year or ""]) + [name] + (
            [] if group else [f"{r.subgroup}={r.subgroup_value}"])
        return " ".join(parts)

    bars = [Bar(label(r), None if r.suppressed else r.rate) for r in rows]
    chart = Markup(bar_chart(f"{metric or 'metric'}: share of students", bars))  # noqa: S704
    groups = [(f"{g}:{v}", f"{g} = {v}") for g, vs in c.subgroups.items() for v in vs]
    return render(request, "public.html", {
        "title": "Published outcomes", "rows": rows, "total": total, "problem": problem,
        "chart": chart if rows else None, "labels": labels, "choices": c, "groups": groups,
        "f": {"year": year or "", "lea": lea or "", "group": group or "", "metric": metric or "",
              "find": find or ""},
        "query": request.url.query, "max_rows": MAX_ROWS,
        "snapshot": services(request).serving.info()})


@router.get("/aggregates.csv")
def download_csv(request: Request, year: Filter = None, lea: Filter = None,
                 group: Filter = None, metric: Filter = None) -> Response:
    rows, _ = _query(request, _blank(year), _blank(lea), _blank(group), _blank(metric))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AGGREGATE_COLUMNS)
    for r in rows:
        values = [plain(getattr(r, c)) for c in AGGREGATE_COLUMNS]
        writer.writerow(["" if v is None else v for v in values])
    return finish(request, Response(
        out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="c2c-outcomes.csv"'}))


@router.get("/requests")
def request_log(request: Request, db: SessionDep) -> Response:
    total, entries = public_log(db, limit=500, offset=0)
    return render(request, "public_requests.html", {"title": "Public request log",
                                                    "entries": entries, "total": total})
