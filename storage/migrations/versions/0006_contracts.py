"""Contracts: agreements, their tokens, metering and data requests.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "agreements",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("offer_id", sa.String(length=2048), nullable=False),
        sa.Column("provider", sa.String(length=2048), nullable=False),
        sa.Column("consumer", sa.String(length=2048), nullable=False),
        sa.Column("request_id", sa.String(length=2048), nullable=False),
        sa.Column("agreement_id", sa.String(length=2048), nullable=True),
        sa.Column(
            "policy",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "agreement",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_agreements")),
        sa.UniqueConstraint(
            "role", "request_id", name=op.f("uq_agreements_role_request_id")
        ),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreements_agreement_id", ["agreement_id"], unique=False
        )
        batch_op.create_index(
            "ix_agreements_offer_consumer",
            ["offer_id", "consumer", "state"],
            unique=False,
        )

    op.create_table(
        "data_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("caller", sa.String(length=2048), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
    )
    op.create_table(
        "usage_daily",
        sa.Column(
            "agreement_seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("agreement_seq", "day", name=op.f("pk_usage_daily")),
    )
    op.create_table(
        "usage_windows",
        sa.Column(
            "agreement_seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("uses", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "agreement_seq", "period", "window_start", name=op.f("pk_usage_windows")
        ),
    )
    op.create_table(
        "agreement_tokens",
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column(
            "agreement_seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_seq"],
            ["agreements.seq"],
            name=op.f("fk_agreement_tokens_agreement_seq_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_agreement_tokens")),
    )
    with op.batch_alter_table("agreement_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_tokens_agreement_seq"),
            ["agreement_seq"],
            unique=False,
        )


def downgrade() -> None:
    for table in (
        "data_requests",
        "usage_daily",
        "usage_windows",
        "agreement_tokens",
        "agreements",
    ):
        op.drop_table(table)
