"""Governance: proposals and their ballots.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "proposals",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "electorate",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opens_at", sa.Float(), nullable=False),
        sa.Column("closes_at", sa.Float(), nullable=False),
        sa.Column(
            "tally",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("decision", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_proposals")),
    )
    op.create_table(
        "ballots",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "proposal_seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("voter", sa.String(length=2048), nullable=False),
        sa.Column("choice", sa.String(length=64), nullable=False),
        sa.Column("note_id", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("cast_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_seq"],
            ["proposals.seq"],
            name=op.f("fk_ballots_proposal_seq_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ballots")),
        sa.UniqueConstraint(
            "proposal_seq",
            "voter",
            "choice",
            name=op.f("uq_ballots_proposal_seq_voter_choice"),
        ),
    )


def downgrade() -> None:
    op.drop_table("ballots")
    op.drop_table("proposals")
