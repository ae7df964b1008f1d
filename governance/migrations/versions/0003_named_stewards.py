"""named stewards: the partner's agreement names who may be its data steward

Revision ID: 0003_named_stewards
Revises: 0002_partner_control
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_named_stewards"
down_revision = "0002_partner_control"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        # E-mail addresses the partner's liaison named as its data stewards (the MOU's
        # steward clause). NULL: the agreement names nobody, so no steward can be granted.
        batch_op.add_column(sa.Column("stewards", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("stewards")
