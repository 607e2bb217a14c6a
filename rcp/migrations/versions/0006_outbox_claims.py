"""outboxmessage: when a queued email's hand-over began and how many there were

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import rcp.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", rcp.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.alter_column("attempts", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("claimed_at")
