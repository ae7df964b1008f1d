"""partner control: provider review, output checking, notification outbox

Revision ID: 0002_partner_control
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_partner_control"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        # Silence is not consent unless the MOU says so; an objection removes the partner's
        # records unless the MOU says it blocks the request.
        batch_op.add_column(sa.Column("silence_means", sa.String(length=16), nullable=False,
                                      server_default="objection"))
        batch_op.add_column(sa.Column("on_objection", sa.String(length=16), nullable=False,
                                      server_default="exclude"))
        batch_op.add_column(sa.Column("permitted_purposes", sa.JSON(), nullable=True))
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose_code", sa.String(length=32), nullable=False,
                                      server_default="research"))
        batch_op.add_column(sa.Column("review_due_at", sa.DateTime(), nullable=True))
    op.create_table(
        "provider_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("org_code", sa.String(length=16), nullable=False),
        sa.Column("source_system", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("on_objection", sa.String(length=16), nullable=False),
        sa.Column("silence_means", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["data_requests.id"]),
        sa.ForeignKeyConstraint(["org_code"], ["partners.org_code"]),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "org_code"),
    )
    with op.batch_alter_table("provider_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_reviews_request_id"), ["request_id"])
        batch_op.create_index(batch_op.f("ix_provider_reviews_org_code"), ["org_code"])
    op.create_table(
        "output_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("checker_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["data_requests.id"]),
        sa.ForeignKeyConstraint(["checker_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "checker_id"),
    )
    with op.batch_alter_table("output_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_output_reviews_request_id"), ["request_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_event"), ["event"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("output_reviews")
    op.drop_table("provider_reviews")
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.drop_column("review_due_at")
        batch_op.drop_column("purpose_code")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("permitted_purposes")
        batch_op.drop_column("on_objection")
        batch_op.drop_column("silence_means")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email")
