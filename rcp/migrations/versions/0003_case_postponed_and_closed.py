"""case: postponed to the next meeting (from where, when), closed without opinion (why, when)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import rcp.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postponed_from_meeting_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("postponed_at", rcp.models.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("closed_reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )
        batch_op.add_column(sa.Column("closed_at", rcp.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("postponed_at")
        batch_op.drop_column("postponed_from_meeting_id")
