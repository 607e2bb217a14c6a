"""user: language, profession and civility; rcp: working language

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        # Every account so far was a physician's ("Dr" on every page).
        batch_op.add_column(
            sa.Column("profession", sa.String(30), nullable=False, server_default="physician")
        )
        batch_op.add_column(sa.Column("civility", sa.String(5), nullable=True))
        batch_op.add_column(
            sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True)
        )
    with op.batch_alter_table("rcp", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "language",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="fr",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("rcp", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("civility")
        batch_op.drop_column("profession")
