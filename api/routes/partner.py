"""Partner routes: upload files for your own organisation, see your submissions and what is
still missing for your funding rounds. A partner never sees another partner's anything."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import KeysDep, PartnerUser, ReadSessionDep, SessionsDep, SettingsDep
from api.errors import COMMON_RESPONSES, ErrorBody
from api.params import Page
from api.partner_schemas import SubmissionOut, UploadResult
from api.partner_upload import UPLOAD_SCHEMA, receive_and_ingest
from core.errors import PermissionDenied
from governance import submissions as gs
from governance.audit import audited
from governance.users import Principal
from services.receive_upload import partner_overview

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=COMMON_RESPONSES)
ROLE = "partner"
HTTP_FOR_STATUS = {"accepted": 201, "held": 202, "rejected": 422}


def _org(caller: Principal) -> str:
    if not caller.org_code:
        raise PermissionDenied("your partner key is not tied to an organisation; ask an admin")
    return caller.org_code


@router.post(
    "/uploads",
    openapi_extra=UPLOAD_SCHEMA,
    status_code=201,
    response_model=UploadResult,
    responses={
        200: {"model": UploadResult, "description": "Nothing new: every file was received "
              "before; each receipt says 'already received on <date>, receipt <id>'"},
        202: {"model": UploadResult, "description": "Stored but held: no active agreement"},
        400: {"model": ErrorBody, "description": "Malformed multipart body or file name"},
        413: {"model": ErrorBody, "description": "Larger than the upload limit"},
        422: {"description": "At least one file was rejected; receipts say where and why"},
        503: {"model": ErrorBody, "description": "Warehouse busy with a pipeline run; retry"},
    },
)
async def upload(request: Request, caller: PartnerUser, settings: SettingsDep,
                 sessions: SessionsDep, keys: KeysDep) -> JSONResponse:
    """Upload files (multipart field ``files``) for your organisation.

    Files are validated exactly as ``c2c ingest`` does and each gets a receipt. 201: all
    accepted; 202: held (stored encrypted, loaded once your agreement is active); 422: some
    file was rejected (the receipts name file, line and field).
    """
    result = await receive_and_ingest(request, settings=settings, sessions=sessions, keys=keys,
                                      caller=caller, org=_org(caller))
    body: dict[str, Any] = result.model_dump(mode="json")
    status = HTTP_FOR_STATUS.get(result.status, 201)
    if status == 201 and result.all_duplicates():
        status = 200  # nothing new was received: every file was here already
    if result.status == "rejected":
        first = next((s.receipt for s in result.submissions if s.status == "rejected"), {})
        message = _first_problem(first)
        body = {"error": {"code": "input_rejected", "message": message}, **body}
    return JSONResponse(body, status_code=status)


def _first_problem(receipt: dict[str, Any]) -> str:
    for r in receipt.get("receipts", []):
        if r.get("status") == "rejected":
            errors = r.get("errors") or []
            if errors:
                e = errors[0]
                where = ", ".join(str(x) for x in (e.get("file"), e.get("line") and
                                  f"line {e['line']}", e.get("field") and
                                  f"field {e['field']}") if x)
                return f"{where}: {e.get('message', '')}"
            return f"{r.get('file_name')}: {r.get('message', 'rejected')}"
    return "a file was rejected; see the receipts"


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("/submissions", response_model=Page[SubmissionOut])
def submissions(session: ReadSessionDep, caller: PartnerUser, limit: Limit = 100,
                offset: Offset = 0) -> Page[SubmissionOut]:
    """Your organisation's uploads and their receipts, newest first."""
    org = _org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="submission.list",
                 target=f"partner:{org}"):
        total, rows = gs.list_submissions(session, org, limit=limit, offset=offset)
        out = Page[SubmissionOut](data=[SubmissionOut.of(r) for r in rows], count=total,
                                  limit=limit, offset=offset)
    return out


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
def submission(submission_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: ReadSessionDep,
               caller: PartnerUser) -> SubmissionOut:
    """One of your organisation's uploads with its receipt."""
    org = _org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="submission.read",
                 target=f"submission:{submission_id}"):
        out = SubmissionOut.of(gs.get_submission(session, submission_id, org))
    return out


@router.get("/missing", responses={503: {"model": ErrorBody, "description": "Warehouse busy"}})
def missing(session: ReadSessionDep, settings: SettingsDep,
            caller: PartnerUser) -> list[dict[str, Any]]:
    """What your organisation still has to send for its funding rounds, per academic year."""
    org = _org(caller)
    with audited(session, actor=caller.name, role=ROLE, action="submission.missing",
                 target=f"partner:{org}"):
        rows = partner_overview(settings=settings, session=session, org=org,
                                with_receipts=False).report
        out = [
            {"org_code": r.org_code, "academic_year": r.academic_year, "rounds": r.rounds,
             "file_rows": r.counts, "missing": r.missing,
             "deadline": r.deadline.isoformat() if r.deadline else None,
             "deadline_status": r.deadline_status}
            for r in rows
        ]
    return out
