"""Partner pages: upload several files at once, every receipt, the member list, what is missing.

The upload goes through the API's own receiver (``api.partner_upload.receive_and_ingest``) into the
``services.receive_upload`` use case; the overview through
``services.receive_upload.partner_overview``, which the API's ``/v1/partner/missing`` uses too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.partner_upload import receive_and_ingest
from api.portal.access import PartnerPage
from api.portal.csrf import check_csrf
from api.portal.web import render
from core.calpads import FILE_TYPES
from core.errors import Busy, PermissionDenied
from governance import submissions as gs
from governance.audit import audited
from governance.partners import find_partner
from governance.users import Principal
from services.receive_upload import partner_overview

router = APIRouter(prefix="/portal/partner", include_in_schema=False)
ROLE = "partner"


def _org(principal: Principal) -> str:
    if not principal.org_code:
        raise PermissionDenied("your partner key is not tied to an organisation; ask an admin")
    return principal.org_code


def _missing_words(row: Any) -> str:
    if not row.rounds:
        return "Not required by any of your funding rounds."
    rounds = ", ".join(f"round {n}" for n in row.rounds)
    due = f"{row.deadline:%-d %B %Y}" if row.deadline else "no deadline"
    if not row.missing:
        return f"Everything {rounds} needs for {row.academic_year} is here ({row.deadline_status})."
    return (f"{rounds.capitalize()} still needs {', '.join(row.missing)} for "
            f"{row.academic_year}, due {due} ({row.deadline_status}).")


RECEIPTS_PER_PAGE = 20


def receipts_page(receipts: list[Any], find: str, page: int) -> tuple[list[Any], int, int]:
    """The receipts whose file name, receipt id or status contains ``find``, a page at a time
    (newest first, as received): (this page, how many match, pages)."""
    wanted = find.strip().casefold()
    matching = [r for r in receipts if not wanted or any(
        wanted in str(getattr(r, a, "") or "").casefold()
        for a in ("file_name", "receipt_id", "status", "kind", "period"))]
    pages = max(1, -(-len(matching) // RECEIPTS_PER_PAGE))
    page = min(max(page, 1), pages)
    start = (page - 1) * RECEIPTS_PER_PAGE
    return matching[start:start + RECEIPTS_PER_PAGE], len(matching), pages


@router.get("")
def overview(request: Request, db: SessionDep, me: PartnerPage,
             find: Annotated[str, Query(max_length=100)] = "",
             page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    org = _org(me)
    settings = services(request).settings
    with audited(db, actor=me.name, role=ROLE, action="portal.partner.view",
                 target=f"partner:{org}"):
        partner = find_partner(db, org)
        total, uploads = gs.list_submissions(db, org, limit=50)
        busy = None
        try:
            view = partner_overview(settings=settings, session=db, org=org)
            report, receipts = view.report, view.receipts
        except Busy as exc:
            busy, report, receipts = str(exc), [], []
    shown, matching, pages = receipts_page(receipts, find, page)
    return render(request, "partner.html", {
        "title": f"Partner: {partner.name} ({org})" if partner else f"Partner: {org}", "org": org,
        "report": report, "receipts": shown, "receipt_total": len(receipts),
        "receipt_matching": matching, "receipt_pages": pages, "receipt_page": min(page, pages),
        "find": find, "uploads": uploads, "upload_total": total,
        "file_types": FILE_TYPES, "busy": busy, "words": _missing_words,
        "max_mb": settings.upload_max_bytes // (1024 * 1024)})


@router.post("/upload")
async def upload(request: Request, me: PartnerPage, csrf_token: str | None = None) -> Response:
    """Multipart field ``files`` (several at once). The CSRF token rides in the query string
    because the upload body is streamed straight to disk by the API's receiver, which accepts
    file parts only."""
    check_csrf(request, csrf_token)
    svc = services(request)
    result = await receive_and_ingest(request, settings=svc.settings, sessions=svc.sessions,
                                      keys=svc.keys, caller=me, org=_org(me))
    return render(request, "partner_upload.html", {
        "title": "Upload receipts", "result": result, "all_duplicates": result.all_duplicates()})
