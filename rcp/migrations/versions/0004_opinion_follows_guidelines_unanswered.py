"""opinion.follows_guidelines may be unanswered (NULL) in a draft

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.alter_column("follows_guidelines", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE opinion SET follows_guidelines = TRUE WHERE follows_guidelines IS NULL")
    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.alter_column("follows_guidelines", existing_type=sa.Boolean(), nullable=False)
