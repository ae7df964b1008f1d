"""What a researcher writes in a data request (create, and edit while a draft), validated
against the variable catalog."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from core.catalog import VARIABLE_BY_NAME
from core.data_use import Purpose
from core.protection import MAX_TEXT
from core.requests import CohortFilter, RequestKind


def check_variables(names: list[str], field: str = "variables") -> list[str]:
    """``names`` when every one is a catalog variable listed once; ``ValueError`` otherwise
    (pydantic turns it into a 422 naming the field)."""
    unknown = [n for n in names if n not in VARIABLE_BY_NAME]
    if unknown:
        raise ValueError(
            f"unknown {field} {', '.join(unknown)}; see the variable catalog (docs/metrics.md)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{field} lists a variable twice")
    return names


class RequestInput(BaseModel):
    """What a researcher writes; every field may change while the request is a draft."""

    kind: RequestKind
    title: str = Field(min_length=3, max_length=300)
    purpose: str = Field(min_length=10, max_length=MAX_TEXT)
    purpose_code: Purpose = Field(default=Purpose.RESEARCH, description=(
        "Why the data is wanted; partners' agreements list the purposes they permit"))
    variables: list[str] = Field(default_factory=list, max_length=len(VARIABLE_BY_NAME))
    cohort: CohortFilter = Field(default_factory=CohortFilter)
    group_by: list[str] = Field(default_factory=list, max_length=8)
    requested_expiry: date | None = None
    training_attested: bool = False
    irb_reference: str | None = Field(default=None, max_length=200)

    @field_validator("variables")
    @classmethod
    def _variables_known(cls, value: list[str]) -> list[str]:
        return check_variables(value, "variables")

    @field_validator("group_by")
    @classmethod
    def _group_by_known(cls, value: list[str]) -> list[str]:
        return check_group_by(value)


def check_group_by(names: list[str]) -> list[str]:
    """``names`` when they may group an aggregate table: catalog variables, never person_id."""
    check_variables(names, "group_by")
    if "person_id" in names:
        raise ValueError("group_by cannot use person_id: aggregates are over groups")
    return names


# Fields a draft always has: a PATCH may change them but not send null to remove them.
NOT_NULLABLE = ("kind", "title", "purpose", "variables", "cohort", "group_by",
                "training_attested")


class RequestPatch(BaseModel):
    """Partial edit of a draft: only the fields given change; ``null`` clears only the optional
    ones (``requested_expiry``, ``irb_reference``)."""

    kind: RequestKind | None = None
    title: str | None = Field(default=None, min_length=3, max_length=300)
    purpose: str | None = Field(default=None, min_length=10, max_length=MAX_TEXT)
    purpose_code: Purpose | None = None
    variables: list[str] | None = Field(default=None, max_length=len(VARIABLE_BY_NAME))
    cohort: CohortFilter | None = None
    group_by: list[str] | None = Field(default=None, max_length=8)
    requested_expiry: date | None = None
    training_attested: bool | None = None
    irb_reference: str | None = Field(default=None, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _no_null_for_required(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [name for name in NOT_NULLABLE if name in data and data[name] is None]
            if nulls:
                raise ValueError(f"{', '.join(nulls)} cannot be null: send a value, or leave "
                                 "the field out to keep it")
        return data

    @field_validator("variables")
    @classmethod
    def _variables_known(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_variables(value, "variables")

    @field_validator("group_by")
    @classmethod
    def _group_by_known(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_group_by(value)
