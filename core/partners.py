"""Partner registry records: the contract between the governance store and ingest.

The registry itself is kept in the governance store; ingest receives these records as
arguments so it never reads the governance database.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, model_validator

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


# org_code by kind: CDS county-district codes are 7 digits (LEAs and county offices), college
# codes 3 digits, and CCGI is one partner. Ingest reads the partner from these folder names and
# the registry key reaches SQL, file paths and receipts: nothing else is a partner code.
ORG_CODE_PATTERNS = {
    "lea": re.compile(r"[0-9]{7}"),
    "coe": re.compile(r"[0-9]{7}"),
    "college": re.compile(r"[0-9]{3}"),
    "ccgi": re.compile(r"CCGI"),
}
ORG_CODE_HELP = {"lea": "7-digit CDS LEA code", "coe": "7-digit CDS county office code",
                 "college": "3-digit college code", "ccgi": "CCGI"}


def org_code_problem(org_code: str, kind: str) -> str | None:
    """Why ``org_code`` is not a valid code for a partner of ``kind`` (None when it is)."""
    pattern = ORG_CODE_PATTERNS.get(str(kind))
    if pattern is None or pattern.fullmatch(org_code):
        return None
    return f"org_code must be a {ORG_CODE_HELP[str(kind)]} for a {kind} partner"


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
    # E-mail addresses the partner's liaison named as its data stewards (lower case). Empty:
    # the agreement names nobody, and no steward can be granted for this partner.
    stewards: list[str] = []

    @model_validator(mode="after")
    def _org_code_fits_kind(self) -> Partner:
        problem = org_code_problem(self.org_code, self.kind.value)
        if problem:
            raise ValueError(problem)
        return self

    def agreement_active(self, on: date) -> bool:
        """An agreement counts only when executed and ``on`` lies within its dates."""
        if self.agreement_status != AgreementStatus.EXECUTED:
            return False
        if self.agreement_start and on < self.agreement_start:
            return False
        return not (self.agreement_end and on > self.agreement_end)
