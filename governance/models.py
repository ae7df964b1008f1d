"""ORM tables of the governance store (SQLAlchemy 2 typed mappings).

The schema itself is created by the Alembic migrations in ``migrations/``; these classes must
stay in step with them (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and read back as aware UTC on every back end.

    SQLite has no time zone type; without this a value written aware comes back naive and
    comparisons with ``utcnow()`` fail.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the governance store; use UTC-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # A person may hold several roles (a board member who also does research), which is
    # exactly when "nobody decides on a request they made" has to be enforced.
    roles: Mapped[list[Any]] = mapped_column(default=list)  # governance.users.Role values
    org_code: Mapped[str | None] = mapped_column(ForeignKey("partners.org_code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Work address for notifications (a staff contact, never a student's); optional.
    email: Mapped[str | None] = mapped_column(String(320))

    keys: Mapped[list[ApiKey]] = relationship(back_populates="user")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)  # public prefix, for lookup
    key_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the whole token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(back_populates="keys")


class PartnerRow(Base):
    __tablename__ = "partners"

    org_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))  # core.partners.PartnerKind
    charter: Mapped[bool] = mapped_column(Boolean, default=False)
    liaison_contact: Mapped[str | None] = mapped_column(String(300))
    data_security_contact: Mapped[str | None] = mapped_column(String(300))
    swp_rounds: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agreements: Mapped[list[Agreement]] = relationship(
        back_populates="partner", order_by="Agreement.id"
    )


class Agreement(Base):
    """One data-sharing agreement (MOU) version; the newest row of a partner is current."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_code: Mapped[str] = mapped_column(ForeignKey("partners.org_code"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # core.partners.AgreementStatus
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the MOU says about requests that would use this partner's records
    # (core.partners.AgreementTerms; governance.provider_review reads them).
    silence_means: Mapped[str] = mapped_column(String(16), default="objection")
    on_objection: Mapped[str] = mapped_column(String(16), default="exclude")
    permitted_purposes: Mapped[list[Any] | None] = mapped_column(default=None)
    # E-mail addresses of the data stewards the partner named (governance.grants: a steward
    # role is granted only to a user with one of them). None: nobody is named.
    stewards: Mapped[list[Any] | None] = mapped_column(default=None)

    partner: Mapped[PartnerRow] = relationship(back_populates="agreements")


class DataRequest(Base):
    __tablename__ = "data_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # core.requests.RequestKind
    title: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[Any]] = mapped_column(default=list)
    cohort: Mapped[dict[str, Any]] = mapped_column(default=dict)
    group_by: Mapped[list[Any]] = mapped_column(default=list)
    requested_expiry: Mapped[date | None] = mapped_column(Date)
    training_attested: Mapped[bool] = mapped_column(Boolean, default=False)
    irb_reference: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)  # RequestStatus
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    fulfilled_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    denial_reason: Mapped[str | None] = mapped_column(Text)
    purpose_code: Mapped[str] = mapped_column(String(32), default="research")
    review_due_at: Mapped[datetime | None] = mapped_column()

    requester: Mapped[User] = relationship()
    decisions: Mapped[list[BoardDecision]] = relationship(order_by="BoardDecision.id")
    provider_reviews: Mapped[list[ProviderReview]] = relationship(
        order_by="ProviderReview.org_code")
    output_reviews: Mapped[list[OutputReview]] = relationship(order_by="OutputReview.id")
    extract: Mapped[ExtractRecord | None] = relationship(viewonly=True)


class ProviderReview(Base):
    """One partner's review of a request that would use its records."""

    __tablename__ = "provider_reviews"
    __table_args__ = (UniqueConstraint("request_id", "org_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id"), index=True)
    org_code: Mapped[str] = mapped_column(ForeignKey("partners.org_code"), index=True)
    source_system: Mapped[str] = mapped_column(String(16))  # calpads | college | ccgi
    # governance.provider_review.ReviewStatus
    status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    # What an objection does, copied from the agreement when the review opened, so a later
    # MOU change cannot rewrite a decided request.
    on_objection: Mapped[str] = mapped_column(String(16))
    silence_means: Mapped[str] = mapped_column(String(16))


class OutputReview(Base):
    """One output checker's decision on the table(s) a fulfilled request would release."""

    __tablename__ = "output_reviews"
    __table_args__ = (UniqueConstraint("request_id", "checker_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id"), index=True)
    checker_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(8))  # approve | reject
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """Outbox: written in the transaction that caused it, sent after commit by
    governance.notify (so a rolled-back action never mails, and a mail outage loses nothing)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))


class BoardDecision(Base):
    __tablename__ = "board_decisions"
    __table_args__ = (UniqueConstraint("request_id", "board_member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id"), index=True)
    board_member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(8))  # approve | deny
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    board_member: Mapped[User] = relationship()


class FulfilmentJob(Base):
    """At most one per request (unique), so quorum reached twice cannot start two extracts."""

    __tablename__ = "fulfilment_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()


class ExtractRecord(Base):
    __tablename__ = "extracts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id"), unique=True)
    package_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))  # available | expired | revoked
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Submission(Base):
    """One file a partner uploaded through the API, with the ingest receipt it got."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_code: Mapped[str] = mapped_column(ForeignKey("partners.org_code"), index=True)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    receipt: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Append-only, hash-chained. ``at`` is kept as ISO text so the hashed value never changes
    with a driver's datetime round trip."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON text
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Single row: the last sequence number and hash, so deleting the newest entry shows."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
