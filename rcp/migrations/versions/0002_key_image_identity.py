"""opinion.key_image_identity_warning: a wrong-patient key image confirmed at validation

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "key_image_identity_warning",
                sqlmodel.sql.sqltypes.AutoString(length=2000),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.drop_column("key_image_identity_warning")
