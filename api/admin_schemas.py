"""The administrator's models: users, keys, partners and agreements, the audit log."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from core.partners import AgreementStatus, PartnerKind
from governance.models import User
from governance.users import Role


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


class Me(BaseModel):
    name: str
    roles: list[Role]
    org_code: str | None
    key_id: str
