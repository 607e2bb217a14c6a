"""knownbrowser: browsers that signed in to an account (a lock elsewhere does not stop them)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import rcp.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knownbrowser",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", rcp.models.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", rcp.models.UTCDateTime(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", rcp.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "key_hash", name="uq_knownbrowser_user_key"),
    )
    with op.batch_alter_table("knownbrowser", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knownbrowser_key_hash"), ["key_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_knownbrowser_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("knownbrowser", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knownbrowser_user_id"))
        batch_op.drop_index(batch_op.f("ix_knownbrowser_key_hash"))
    op.drop_table("knownbrowser")
