"""The partner's models: a submission and its receipt, an upload's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from governance.models import Submission
from services.receive_upload import UploadOutcome


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
