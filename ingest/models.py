"""Result objects of ingest: receipts and their errors (pydantic, so they serialise to JSON)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, model_validator

from core.errors import Location, masked_value


class ReceiptStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    HELD = "held"


class FileError(BaseModel):
    """One broken rule, where it is and the shape of the value that broke it.

    A data field's value is kept only as its shape (``core.errors.masked_value``): receipts are
    stored in the governance store and in Dagster's run storage, outside the encrypted stores.
    """

    file: str
    line: int | None = None
    field: str | None = None
    value: str | None = None
    rule: str
    message: str

    @model_validator(mode="after")
    def _mask_field_value(self) -> FileError:
        if self.field is not None and self.value is not None and not _is_mask(self.value):
            self.value = masked_value(self.value)
        return self

    def location(self) -> Location:
        return Location(self.file, self.line, self.field, self.value, self.rule)

    def describe(self) -> str:
        return f"{self.location().describe()}: {self.message}"


def _is_mask(value: str) -> bool:
    """Already a shape (re-validating a stored receipt must not change it)."""
    return masked_value(value) == value


class Receipt(BaseModel):
    """What became of one received (or unpacked / reassembled) file."""

    receipt_id: str
    file_id: str
    file_name: str
    status: ReceiptStatus
    source_system: str | None = None
    kind: str | None = None
    partner_org: str | None = None
    period: str | None = None
    rows: int = 0
    warnings: list[str] = []
    errors: list[FileError] = []
    error_count: int = 0
    message: str = ""
    superseded: list[str] = []
    created_at: datetime | None = None

    @property
    def rejected(self) -> bool:
        return self.status == ReceiptStatus.REJECTED
