"""Public page: the linkage-quality estimates published with the release.

The rows are ``GET /v1/linkage-quality``'s (``api.linkage_quality``), so the page and the API
cannot disagree. No sign-in, not audited, like the other public pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.linkage_quality import LinkQualityRow, quality_page
from api.portal.web import render
from core.errors import NotFound
from core.labels import group_label
from governance.partners import list_partners

router = APIRouter(prefix="/portal/public", include_in_schema=False)
PAIR_WORDS = {"calpads": "K-12 (CALPADS)", "college": "community college", "ccgi": "CCGI"}
DIMENSION_WORDS = {"ethnicity": "Race/ethnicity (K-12 record)",
                   "surname": "Surname written as"}
VALUE_WORDS = {"compound": "two or more parts (compound)", "single": "one part",
               "no_k12_record": "no K-12 record"}


def pair_words(pair: str) -> str:
    if pair == "all":
        return "All record pairs"
    left, _, right = pair.partition("-")
    return f"{PAIR_WORDS.get(left, left)} with {PAIR_WORDS.get(right, right)}"


def group_words(row: LinkQualityRow) -> str:
    if row.dimension == "ethnicity":
        return VALUE_WORDS.get(row.value) or group_label("race_ethnicity", row.value).split(
            ": ", 1)[-1]
    return VALUE_WORDS.get(row.value, row.value)


@router.get("/linkage-quality")
def linkage_quality(request: Request, db: SessionDep) -> Response:
    try:
        page = quality_page(services(request).serving)
        problem = None if page.data else ("No linkage-quality estimate has been published "
                                          "yet: the clerical sample of the last link is "
                                          "still being reviewed.")
    except NotFound as exc:
        page, problem = None, str(exc)
    rows = page.data if page else []
    names = {p.org_code: p.name for p in list_partners(db)}
    db.rollback()
    overall = next((r for r in rows if (r.source_pair, r.dimension) == ("all", "all")), None)
    pairs = [r for r in rows if r.dimension == "all" and r.source_pair != "all"]
    groups = [r for r in rows if r.source_pair == "all" and r.dimension in DIMENSION_WORDS]
    partners = [r for r in rows if r.source_pair == "all" and r.dimension == "partner"]
    shown = [r for r in groups if r.recall is not None]
    lowest = min(shown, key=lambda r: r.recall or 0.0) if shown else None
    return render(request, "linkage_quality.html", {
        "title": "Linkage quality", "page": page, "problem": problem, "overall": overall,
        "pairs": pairs, "groups": groups, "partners": partners, "lowest": lowest,
        "names": names, "pair_words": pair_words, "group_words": group_words,
        "dimension_words": DIMENSION_WORDS})
