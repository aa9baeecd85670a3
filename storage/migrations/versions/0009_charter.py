"""Governance: the versioned charter.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "charter_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("decision", sa.Integer(), nullable=False),
        sa.Column("adopted_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_charter_versions")),
    )


def downgrade() -> None:
    op.drop_table("charter_versions")
