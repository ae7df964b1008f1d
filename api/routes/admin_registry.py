"""Admin routes over the records: the partner registry and its agreements, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.admin_schemas import (
    AgreementIn,
    AuditEntryOut,
    AuditVerifyOut,
    PartnerIn,
)
from api.deps import AdminUser, ReadSessionDep, SessionDep
from api.errors import COMMON_RESPONSES
from api.params import Page
from core.errors import UserError
from core.partners import Partner, org_code_problem
from governance import audit as gaudit
from governance import partners as gp
from governance.audit import audited

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=COMMON_RESPONSES)
ROLE = "admin"
OrgCode = Annotated[str, Path(min_length=1, max_length=16)]


AGREEMENT_FIELDS = {"agreement_status", "agreement_start", "agreement_end", "silence_means",
                    "on_objection", "permitted_purposes", "stewards"}
# The state registry has about 2,500 partners: pages, never the whole registry at once.
PageLimit = Annotated[int, Query(ge=1, le=1000)]
PageOffset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("/partners", response_model=Page[Partner])
def partners(session: ReadSessionDep, caller: AdminUser, limit: PageLimit = 100,
             offset: PageOffset = 0) -> Page[Partner]:
    """The partner registry with each partner's current agreement, by org_code, a page at a
    time (``limit`` at most 1000; ``count`` is the registry's size)."""
    with audited(session, actor=caller.name, role=ROLE, action="partner.list"):
        total, rows = gp.list_partners_page(session, limit=limit, offset=offset)
        out = Page[Partner](data=rows, count=total, limit=limit, offset=offset)
    return out


@router.put("/partners/{org_code}", response_model=Partner)
def put_partner(org_code: OrgCode, body: PartnerIn, session: SessionDep,
                caller: AdminUser) -> Partner:
    """Create or update a partner (its agreement is managed with the agreements route)."""
    with audited(session, actor=caller.name, role=ROLE, action="partner.put",
                 target=f"partner:{org_code}"):
        problem = org_code_problem(org_code, body.kind.value)
        if problem:
            raise UserError(problem)
        record = Partner(
            org_code=org_code, name=body.name, kind=body.kind, charter=body.charter,
            liaison_contact=body.liaison_contact,
            data_security_contact=body.data_security_contact, swp_rounds=body.swp_rounds,
        )
        current = gp.find_partner(session, org_code)
        if current is not None:
            # the agreement and its terms (named stewards included) are not this route's
            record = record.model_copy(update=current.model_dump(include=AGREEMENT_FIELDS))
        out = gp.upsert_partner(session, record)
    return out


@router.post("/partners/{org_code}/agreements", status_code=201, response_model=Partner)
def add_agreement(org_code: OrgCode, body: AgreementIn, session: SessionDep,
                  caller: AdminUser) -> Partner:
    """Record a new version of a partner's data-sharing agreement (it becomes current)."""
    with audited(session, actor=caller.name, role=ROLE, action="agreement.record",
                 target=f"partner:{org_code}",
                 detail={"status": body.status.value, "start": str(body.start),
                         "end": str(body.end)}):
        out = gp.record_agreement(session, org_code, body.status, body.start, body.end,
                                  body.note)
    return out


@router.get("/audit", response_model=list[AuditEntryOut])
def audit_entries(session: ReadSessionDep, caller: AdminUser,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[AuditEntryOut]:
    """The newest audit entries."""
    with audited(session, actor=caller.name, role=ROLE, action="audit.read"):
        out = [AuditEntryOut(seq=e.seq, at=e.at, actor=e.actor, role=e.role, action=e.action,
                             target=e.target, outcome=e.outcome, detail=e.detail)
               for e in gaudit.recent(session, limit=limit, offset=offset)]
    return out


@router.get("/audit/verify", response_model=AuditVerifyOut)
def audit_verify(session: ReadSessionDep, caller: AdminUser) -> AuditVerifyOut:
    """Recompute the audit hash chain: reports any edited or deleted entry."""
    result = gaudit.verify(session)
    session.rollback()
    with audited(session, actor=caller.name, role=ROLE, action="audit.verify",
                 detail={"ok": result.ok, "entries": result.entries}):
        pass
    return AuditVerifyOut(ok=result.ok, entries=result.entries, head_seq=result.head_seq,
                          head_hash=result.head_hash, first_bad_seq=result.first_bad_seq,
                          problems=result.problems)
