"""egress gate: failed fulfilment jobs keep their reason; preview queries for the budget

Revision ID: 0004_egress_gate
Revises: 0003_named_stewards
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_egress_gate"
down_revision = "0003_named_stewards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fulfilment_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure", sa.Text(), nullable=True))
    op.create_table(
        "preview_queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("cohort_key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("preview_queries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preview_queries_user_id"), ["user_id"])
        batch_op.create_index(batch_op.f("ix_preview_queries_cohort_key"), ["cohort_key"])
        batch_op.create_index(batch_op.f("ix_preview_queries_at"), ["at"])


def downgrade() -> None:
    op.drop_table("preview_queries")
    with op.batch_alter_table("fulfilment_jobs", schema=None) as batch_op:
        batch_op.drop_column("failure")
