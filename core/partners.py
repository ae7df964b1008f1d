"""Partner registry records: the contract between the governance store and ingest.

The registry itself is kept in the governance store; ingest receives these records as
arguments so it never reads the governance database.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from core.data_use import OnObjection, Purpose, SilenceMeans


class AgreementStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    EXECUTED = "executed"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class PartnerKind(StrEnum):
    LEA = "lea"
    COE = "coe"
    COLLEGE = "college"
    CCGI = "ccgi"


class Partner(BaseModel):
    org_code: str  # 7-digit LEA code, 3-digit college code, or "CCGI"
    name: str
    kind: PartnerKind
    charter: bool = False
    agreement_status: AgreementStatus = AgreementStatus.NONE
    agreement_start: date | None = None
    agreement_end: date | None = None
    liaison_contact: str | None = None
    data_security_contact: str | None = None
    swp_rounds: list[int] = []
    # Terms of the current agreement for requests that would use this partner's records.
    silence_means: SilenceMeans = SilenceMeans.OBJECTION
    on_objection: OnObjection = OnObjection.EXCLUDE
    permitted_purposes: list[Purpose] | None = None  # None: the MOU template's purposes

    def agreement_active(self, on: date) -> bool:
        """An agreement counts only when executed and ``on`` lies within its dates."""
        if self.agreement_status != AgreementStatus.EXECUTED:
            return False
        if self.agreement_start and on < self.agreement_start:
            return False
        return not (self.agreement_end and on > self.agreement_end)
