"""Response (and a few input) models: the store's rows are never serialised directly."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from api.partner_control_schemas import ProviderReviewOut, ReleaseOut
from core.data_use import Purpose
from core.partners import AgreementStatus, PartnerKind
from core.requests import CohortFilter, RequestKind
from governance.models import DataRequest, Submission, User
from governance.output_check import release_of
from governance.requests import Decision, RequestStatus
from governance.users import Role
from services.receive_upload import UploadOutcome

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="Rows matching the filters, over all pages")
    limit: int
    offset: int


class Me(BaseModel):
    name: str
    roles: list[Role]
    org_code: str | None
    key_id: str


# ---- requests -------------------------------------------------------------------------------

class DecisionOut(BaseModel):
    decision: Decision
    reason: str
    decided_at: datetime
    board_member: str | None = Field(default=None, description="Shown to the board only")


class RequestOut(BaseModel):
    id: str
    kind: RequestKind
    title: str
    purpose: str
    variables: list[str]
    cohort: CohortFilter
    group_by: list[str]
    requested_expiry: date | None
    training_attested: bool
    irb_reference: str | None
    status: RequestStatus
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    fulfilled_at: datetime | None
    withdrawn_at: datetime | None
    expires_at: datetime | None
    denial_reason: str | None
    decisions: list[DecisionOut]
    requester: str | None = Field(default=None, description="Shown to the board only")
    purpose_code: Purpose = Purpose.RESEARCH
    review_due_at: datetime | None = None
    provider_reviews: list[ProviderReviewOut] = Field(
        default_factory=list, description="Each partner's review; reasons shown to the board")
    release: ReleaseOut | None = Field(
        default=None, description="Output checking of the built output, once fulfilled")

    @classmethod
    def of(cls, request: DataRequest, *, for_board: bool = False) -> RequestOut:
        return cls(
            id=request.id, kind=RequestKind(request.kind), title=request.title,
            purpose=request.purpose, variables=list(request.variables),
            cohort=CohortFilter.model_validate(request.cohort), group_by=list(request.group_by),
            requested_expiry=request.requested_expiry,
            training_attested=request.training_attested, irb_reference=request.irb_reference,
            status=RequestStatus(request.status), created_at=request.created_at,
            submitted_at=request.submitted_at, decided_at=request.decided_at,
            fulfilled_at=request.fulfilled_at, withdrawn_at=request.withdrawn_at,
            expires_at=request.expires_at, denial_reason=request.denial_reason,
            decisions=[
                DecisionOut(decision=Decision(d.decision), reason=d.reason,
                            decided_at=d.decided_at,
                            board_member=d.board_member.name if for_board else None)
                for d in request.decisions
            ],
            requester=request.requester.name if for_board else None,
            purpose_code=Purpose(request.purpose_code), review_due_at=request.review_due_at,
            provider_reviews=[ProviderReviewOut.of(r, with_reason=for_board,
                                                   due_at=request.review_due_at)
                              for r in request.provider_reviews],
            release=(ReleaseOut.of(release_of(request, request.extract))
                     if request.extract is not None else None),
        )


class DecisionIn(BaseModel):
    decision: Decision
    reason: str = Field(min_length=3, max_length=5000, description="Written reason, required")


class ExtractKey(BaseModel):
    request_id: str
    key_base64: str = Field(description="Data key of the extract package, base64; save it as "
                            "a key file for `c2c extract decrypt --key-file` (keep it secret)")
    expires_at: datetime


# ---- partners -------------------------------------------------------------------------------

class SubmissionOut(BaseModel):
    id: int
    filename: str
    size_bytes: int
    sha256: str | None
    status: str
    received_at: datetime
    receipt: dict[str, Any]

    @classmethod
    def of(cls, row: Submission) -> SubmissionOut:
        return cls(id=row.id, filename=row.filename, size_bytes=row.size_bytes,
                   sha256=row.sha256, status=row.status, received_at=row.received_at,
                   receipt=dict(row.receipt))


class UploadResult(BaseModel):
    status: str = Field(description="accepted | held | rejected (the worst over the files)")
    submissions: list[SubmissionOut]

    @classmethod
    def of(cls, outcome: UploadOutcome) -> UploadResult:
        return cls(status=outcome.status,
                   submissions=[SubmissionOut.of(row) for row in outcome.submissions])

    def all_duplicates(self) -> bool:
        """Every receipt says its file was received before: nothing new arrived."""
        receipts = [r for s in self.submissions for r in s.receipt.get("receipts", [])]
        return bool(receipts) and all("duplicate" in r for r in receipts)


class AgreementIn(BaseModel):
    status: AgreementStatus
    start: date | None = None
    end: date | None = None
    note: str | None = Field(default=None, max_length=2000)


class PartnerIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    kind: PartnerKind
    charter: bool = False
    liaison_contact: str | None = Field(default=None, max_length=300)
    data_security_contact: str | None = Field(default=None, max_length=300)
    swp_rounds: list[int] = Field(default_factory=list, max_length=50)


# ---- users ----------------------------------------------------------------------------------

class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    # none: the account waits for a grant of a privileged role (docs/api.md)
    roles: list[Role] = Field(default_factory=list, max_length=6)
    org_code: str | None = Field(default=None, max_length=16)
    email: str | None = Field(default=None, max_length=320,
                              description="Work address for notifications")


class UserPatch(BaseModel):
    active: bool


class UserOut(BaseModel):
    id: int
    name: str
    roles: list[Role]
    org_code: str | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, name=user.name, roles=[Role(r) for r in user.roles],
                   org_code=user.org_code, active=user.active, created_at=user.created_at)


class KeyOut(BaseModel):
    key_id: str
    user_id: int
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewKey(BaseModel):
    key_id: str
    user_id: int
    token: str = Field(description="The API key. Shown this once; only its hash is kept.")


class UserCreated(BaseModel):
    user: UserOut
    key: NewKey


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    detail: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problems: list[str]
