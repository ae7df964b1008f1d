"""Partner pages for what the service learned about the partner's own data: the data-quality
return (with its CSV) and the change log of its records' person ids.

Same use cases as ``/v1/partner/quality`` and ``/v1/partner/id-changes``
(``services.quality_return``, ``services.id_change_log``); the org is the signed-in key's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.portal.access import PartnerPage
from api.portal.web import render
from core.errors import Busy, NotFound, PermissionDenied
from core.gate import shown_floor
from governance.audit import audited
from governance.users import Principal
from ingest.quality import MEASURES
from services.id_change_log import partner_id_changes
from services.quality_return import partner_quality, quality_csv

router = APIRouter(prefix="/portal/partner", include_in_schema=False)
ROLE = "partner"
MEASURE_WORDS = {"missing_birth_date": "no birth date", "missing_exit": "no exit date",
                 "missing_ssid": "no SSID", "names_in_capitals": "names all in capitals",
                 "missing_high_school": "no high school (college)"}


def _org(principal: Principal) -> str:
    if not principal.org_code:
        raise PermissionDenied("your partner key is not tied to an organisation; ask an admin")
    return principal.org_code


@router.get("/quality")
def quality(request: Request, db: SessionDep, me: PartnerPage) -> Response:
    org = _org(me)
    settings = services(request).settings
    busy, result, changes, no_run = None, None, None, None
    with audited(db, actor=me.name, role=ROLE, action="portal.partner.quality",
                 target=f"partner:{org}"):
        try:
            result = partner_quality(settings=settings, org=org)
            changes = partner_id_changes(settings=settings, org=org)
        except Busy as exc:
            busy = str(exc)
        except NotFound as exc:  # no link run yet: the return stands, the change log waits
            no_run = str(exc)
    return render(request, "partner_quality.html", {
        "title": "Data-quality return", "org": org, "result": result, "busy": busy,
        "measures": MEASURES, "words": MEASURE_WORDS, "changes": changes, "no_run": no_run,
        "floor": shown_floor(settings.suppression_min_cell)})


@router.get("/quality.csv")
def quality_download(request: Request, db: SessionDep, me: PartnerPage) -> Response:
    org = _org(me)
    with audited(db, actor=me.name, role=ROLE, action="portal.partner.quality.csv",
                 target=f"partner:{org}"):
        body = quality_csv(partner_quality(settings=services(request).settings, org=org))
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="quality-{org}.csv"'})
