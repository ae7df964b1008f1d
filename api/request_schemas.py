"""The data request's models: the request as the API answers it, a board decision, the key."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import object_session

from api.review_schemas import ProviderReviewOut, ReleaseOut
from core.data_use import Purpose
from core.protection import MAX_TEXT, MIN_REASON
from core.requests import CohortFilter, RequestKind
from governance import request_facts as facts
from governance.models import DataRequest
from governance.output_release import release_of
from governance.request_facts import Stage
from governance.request_lifecycle import Decision, RequestStatus


class DecisionOut(BaseModel):
    decision: Decision
    reason: str
    decided_at: datetime
    board_member: str | None = Field(default=None, description="Shown to the board only")


class WithheldOut(BaseModel):
    variable: str
    reason: str


class ReasonOut(BaseModel):
    who: str = Field(description="A role, and the organisation for a data steward")
    decision: str
    reason: str
    at: datetime | None


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
        default_factory=list, description="Each partner's review, with the steward's reason")
    release: ReleaseOut | None = Field(
        default=None, description="Output checking of the built output, once fulfilled")
    build_failure: str | None = Field(
        default=None, description="Why the last build of the approved request failed (it is "
        "not built again until re-grouped or re-queued by the operator)")
    stage: Stage = Field(
        default=Stage.DRAFT, description="Where the request stands, in the words every page, "
        "e-mail and the public log use (governance.request_facts.stage)")
    withheld: list[WithheldOut] = Field(
        default_factory=list, description="Requested variables the output will not hold, "
        "each with its reason")
    reasons: list[ReasonOut] = Field(
        default_factory=list, description="Written reasons of data stewards, board members "
        "and output checkers (by role and organisation, never a person)")

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
            # a steward's reason is written "for the board and the requester", and is in
            # ``reasons`` below: the review says it too, never null beside it
            provider_reviews=[ProviderReviewOut.of(r, with_reason=True,
                                                   due_at=request.review_due_at)
                              for r in request.provider_reviews],
            release=(ReleaseOut.of(release_of(request, request.extract))
                     if request.extract is not None else None),
            build_failure=(request.fulfilment_job.failure
                           if request.fulfilment_job is not None
                           and request.fulfilment_job.status == "failed" else None),
            **facts_of(request),
        )


def facts_of(request: DataRequest) -> dict[str, Any]:
    """The facts ``governance.request_facts`` computes once, as API fields."""
    session = object_session(request)
    if session is None:  # a detached request: only what needs no lookup
        return {"stage": facts.stage(request)}
    return {"stage": facts.stage(request),
            "withheld": [WithheldOut(variable=w.variable, reason=w.reason)
                         for w in facts.withheld_variables(session, request)],
            "reasons": [ReasonOut(who=r.who, decision=r.decision, reason=r.reason, at=r.at)
                        for r in facts.reasons(session, request)]}


class DecisionIn(BaseModel):
    decision: Decision
    reason: str = Field(min_length=MIN_REASON, max_length=MAX_TEXT,
                        description="Written reason, required")


class ExtractKey(BaseModel):
    request_id: str
    age_identity: str = Field(description="The age identity (AGE-SECRET-KEY-1...) that opens "
                              "the package; keep it secret")
    key_file_name: str = Field(description="Save the identity (or GET .../extract/key.txt) "
                               "under this name")
    command: str = Field(description="The one command that opens the package: age, then tar")
    expires_at: datetime
