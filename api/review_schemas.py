"""Response and input models of provider review and output checking (issue 19)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import object_session

from core.data_use import Purpose
from core.protection import MAX_TEXT, MIN_REASON
from core.requests import CohortFilter, RequestKind
from governance.models import DataRequest, ExtractRecord, ProviderReview
from governance.output_release import CheckerDecision, Release, ReleaseState
from governance.provider_review import ReviewStatus, StewardDecision, effective_status
from governance.request_facts import Stage, Withheld, withheld_variables
from governance.request_facts import stage as stage_of
from services.review_decision import RoutedRequest


class ProviderReviewOut(BaseModel):
    """One partner's review. Names the organisation, never the person who answered."""

    org_code: str
    source_system: str
    status: ReviewStatus
    reason: str | None = Field(default=None, description="Shown to the board and the partner")
    decided_at: datetime | None
    on_objection: str
    silence_means: str

    @classmethod
    def of(cls, review: ProviderReview, *, with_reason: bool,
           due_at: datetime | None = None) -> ProviderReviewOut:
        return cls(org_code=review.org_code, source_system=review.source_system,
                   status=effective_status(review, due_at),
                   reason=review.reason if with_reason else None,
                   decided_at=review.decided_at, on_objection=review.on_objection,
                   silence_means=review.silence_means)


class RequestSummary(BaseModel):
    """The neutral summary a steward reviews: what and why, not who."""

    id: str
    kind: RequestKind
    title: str
    purpose: str
    purpose_code: Purpose
    variables: list[str]
    group_by: list[str]
    cohort: CohortFilter
    status: str
    submitted_at: datetime | None
    review_due_at: datetime | None
    stage: Stage = Field(default=Stage.DRAFT, description="Where it stands, in the words every "
                         "page and e-mail uses (governance.request_facts.stage)")
    withheld: list[Withheld] = Field(default_factory=list, description="requested variables "
                                     "the output will not hold, with why "
                                     "(governance.request_facts.withheld_variables)")

    @classmethod
    def of(cls, request: DataRequest) -> RequestSummary:
        session = object_session(request)
        withheld = withheld_variables(session, request) if session is not None else []
        return cls(id=request.id, kind=RequestKind(request.kind), title=request.title,
                   purpose=request.purpose, purpose_code=Purpose(request.purpose_code),
                   variables=list(request.variables), group_by=list(request.group_by),
                   cohort=CohortFilter.model_validate(request.cohort), status=request.status,
                   submitted_at=request.submitted_at, review_due_at=request.review_due_at,
                   stage=stage_of(request), withheld=withheld)


class StewardReviewOut(BaseModel):
    request: RequestSummary
    review: ProviderReviewOut

    @classmethod
    def of(cls, routed: RoutedRequest) -> StewardReviewOut:
        return cls(request=RequestSummary.of(routed.request),
                   review=ProviderReviewOut.of(routed.review, with_reason=True,
                                               due_at=routed.request.review_due_at))


class StewardDecisionIn(BaseModel):
    decision: StewardDecision
    reason: str = Field(min_length=MIN_REASON, max_length=MAX_TEXT)


class ReleaseOut(BaseModel):
    state: ReleaseState
    approvals: int
    rejections: int
    failed_checks: list[dict[str, Any]]

    @classmethod
    def of(cls, release: Release) -> ReleaseOut:
        return cls(state=release.state, approvals=release.approvals,
                   rejections=release.rejections, failed_checks=release.failed_checks)


class ReleaseReport(BaseModel):
    """What a checker (or the partner whose data it used) sees of a built output."""

    request: RequestSummary
    release: ReleaseOut
    built_at: datetime | None
    detail: dict[str, Any] = Field(description="Rows, variables, generalisation, suppression "
                                   "and the automated output checks")

    @classmethod
    def of(cls, request: DataRequest, record: ExtractRecord | None,
           release: Release) -> ReleaseReport:
        return cls(request=RequestSummary.of(request), release=ReleaseOut.of(release),
                   built_at=record.created_at if record else None,
                   detail=dict(record.detail or {}) if record else {})


class CheckerDecisionIn(BaseModel):
    decision: CheckerDecision
    reason: str = Field(min_length=MIN_REASON, max_length=MAX_TEXT)


class RegroupIn(BaseModel):
    group_by: list[str] = Field(max_length=8)
    variables: list[str] | None = Field(default=None, max_length=64)


class UsageOut(BaseModel):
    """One request that used (or was refused) a partner's records, and what left."""

    request: RequestSummary
    review: ProviderReviewOut
    released: bool
    release_detail: dict[str, Any]

    @classmethod
    def of(cls, routed: RoutedRequest) -> UsageOut:
        record = routed.record
        return cls(request=RequestSummary.of(routed.request),
                   review=ProviderReviewOut.of(routed.review, with_reason=True,
                                               due_at=routed.request.review_due_at),
                   released=routed.release is not None
                   and routed.release.state == ReleaseState.RELEASED,
                   release_detail=dict(record.detail or {}) if record else {})
