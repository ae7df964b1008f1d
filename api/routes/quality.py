"""``GET /v1/linkage-quality``: the published linkage-quality estimates (public, like the
aggregates: suppressed and gated as released, no key, not audited)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServingDep
from api.linkage_quality import LinkQualityPage, quality_page

router = APIRouter(tags=["public"])


@router.get("/v1/linkage-quality", response_model=LinkQualityPage)
def linkage_quality(snapshot: ServingDep) -> LinkQualityPage:
    """Estimated precision and recall of the last link, with 95% intervals, per source pair,
    partner and student group (docs/linkage.md, "Linkage quality without a truth file")."""
    return quality_page(snapshot)
