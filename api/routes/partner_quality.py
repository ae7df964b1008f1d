"""Partner routes for what the service learned about the partner's own data: the data-quality
return (``/v1/partner/quality``, ``.csv``) and the change log of its records' person ids
(``/v1/partner/id-changes``). The organisation is always the caller key's own."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import PartnerUser, ReadSessionDep, SettingsDep
from api.errors import COMMON_RESPONSES, ErrorBody
from core.errors import PermissionDenied
from core.gate import GatedCount
from governance.audit import audited
from governance.users import Principal
from ingest.quality import MEASURES, QualityReturn
from services.id_change_log import partner_id_changes
from services.quality_return import partner_quality, quality_csv

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses={
    **COMMON_RESPONSES, 503: {"model": ErrorBody, "description": "Warehouse busy; retry"}})
ROLE = "partner"


def _org(caller: Principal) -> str:
    if not caller.org_code:
        raise PermissionDenied("your partner key is not tied to an organisation; ask an admin")
    return caller.org_code


class CompletenessOut(BaseModel):
    year: str
    kind: str
    file: str | None
    rows: int
    counts: dict[str, int | None]
    shares: dict[str, float | None]
    last_year: str | None
    last_year_shares: dict[str, float | None]


class IdPairOut(BaseModel):
    year: str
    kind: str
    id_label: str
    id_a: str
    id_b: str
    rule: str
    files: str


class FailureOut(BaseModel):
    year: str
    kind: str
    field: str
    rule: str
    errors: int
    capped: bool
    files: int
    example_lines: str
    message: str


class QualityOut(BaseModel):
    org_code: str
    years: list[str]
    completeness: list[CompletenessOut]
    possible_multiple_ids: list[IdPairOut]
    validation_failures: list[FailureOut]

    @classmethod
    def of(cls, r: QualityReturn) -> QualityOut:
        return cls(
            org_code=r.org, years=r.years,
            completeness=[CompletenessOut(
                year=c.year, kind=c.kind, file=c.file, rows=c.rows, counts=c.counts,
                shares={m: c.share(m) for m in MEASURES}, last_year=c.last_year,
                last_year_shares=c.last_year_share) for c in r.completeness],
            possible_multiple_ids=[IdPairOut(**vars(p)) for p in r.pairs],
            validation_failures=[FailureOut(**vars(f)) for f in r.failures])


@router.get("/quality", response_model=QualityOut)
def quality(session: ReadSessionDep, settings: SettingsDep, caller: PartnerUser) -> QualityOut:
    """Your organisation's data-quality return: completeness per year and file against your
    own previous year, pairs of your own ids that look like one student, and your rows that
    failed validation, grouped. Your own data, exact; nothing of any other partner."""
    org = _org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="partner.quality",
                 target=f"partner:{org}"):
        out = QualityOut.of(partner_quality(settings=settings, org=org))
    return out


@router.get("/quality.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "The return as CSV"}})
def quality_download(session: ReadSessionDep, settings: SettingsDep,
                     caller: PartnerUser) -> Response:
    """The same return as one CSV file (a ``section`` column tells the three parts apart)."""
    org = _org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="partner.quality.csv",
                 target=f"partner:{org}"):
        body = quality_csv(partner_quality(settings=settings, org=org))
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="quality-{org}.csv"'})


class IdChangeOut(BaseModel):
    event: str
    reason: str
    records: GatedCount


class IdChangesOut(BaseModel):
    run_id: str
    org_code: str
    changes: list[IdChangeOut]


@router.get("/id-changes", response_model=IdChangesOut)
def id_changes(session: ReadSessionDep, settings: SettingsDep, caller: PartnerUser,
               run_id: str | None = Query(None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
               ) -> IdChangesOut:
    """How many of your records' person ids a link run (default the latest) merged, split,
    moved or withdrew, and why. Counts pass the egress gate: a merge means your record met
    another partner's, so they are not only your data."""
    org = _org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="partner.id_changes",
                 target=f"partner:{org}"):
        found = partner_id_changes(settings=settings, org=org, run_id=run_id)
        out = IdChangesOut(run_id=found.run_id, org_code=org, changes=[
            IdChangeOut(event=c.event, reason=c.reason, records=c.records)
            for c in found.changes])
    return out
