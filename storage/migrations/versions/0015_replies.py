"""Citizens' web: remote objects remember what they reply to.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("remote_objects") as batch:
        batch.add_column(
            sa.Column("in_reply_to", sa.String(length=2048), nullable=True)
        )
        batch.create_index(
            batch.f("ix_remote_objects_in_reply_to"), ["in_reply_to"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("remote_objects") as batch:
        batch.drop_index(batch.f("ix_remote_objects_in_reply_to"))
        batch.drop_column("in_reply_to")
