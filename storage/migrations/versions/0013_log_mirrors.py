"""Governance: mirrored log checkpoints and moderation follow-ups.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_mirrors",
        sa.Column("origin", sa.String(length=2048), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("actor", sa.String(length=2048), nullable=False),
        sa.Column("size", sa.Integer(), server_default="0", nullable=False),
        sa.Column("checkpoint", _json(), nullable=True),
        sa.Column("signers", _json(), nullable=False),
        sa.Column("synced_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_log_mirrors")),
        sa.UniqueConstraint("host", name=op.f("uq_log_mirrors_host")),
    )
    op.create_table(
        "log_mirror_entries",
        sa.Column("origin", sa.String(length=2048), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "idx", name=op.f("pk_log_mirror_entries")),
    )
    op.create_table(
        "log_mirror_checkpoints",
        sa.Column("origin", sa.String(length=2048), nullable=False),
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.PrimaryKeyConstraint(
            "origin", "size", name=op.f("pk_log_mirror_checkpoints")
        ),
    )
    op.create_table(
        "log_mirror_forks",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("origin", sa.String(length=2048), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("held", _json(), nullable=False),
        sa.Column("presented", _json(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("detected_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_mirror_forks")),
        sa.UniqueConstraint(
            "origin", "digest", name=op.f("uq_log_mirror_forks_origin_digest")
        ),
    )
    op.create_index(op.f("ix_log_mirror_forks_origin"), "log_mirror_forks", ["origin"])
    op.create_table(
        "report_notices",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("report_id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=2048), nullable=False),
        sa.Column("note_id", sa.String(length=2048), nullable=True),
        sa.Column("sent_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_notices_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_notices")),
        sa.UniqueConstraint(
            "report_id",
            "kind",
            "recipient",
            name=op.f("uq_report_notices_report_id_kind_recipient"),
        ),
    )
    op.create_index(op.f("ix_report_notices_note_id"), "report_notices", ["note_id"])
    op.create_table(
        "hidden_objects",
        sa.Column("iri", sa.String(length=2048), nullable=False),
        sa.Column("report_id", _id(), nullable=False),
        sa.Column("hidden_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_hidden_objects_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("iri", name=op.f("pk_hidden_objects")),
    )
    op.create_index(
        op.f("ix_hidden_objects_report_id"), "hidden_objects", ["report_id"]
    )


def downgrade() -> None:
    op.drop_table("hidden_objects")
    op.drop_table("report_notices")
    op.drop_table("log_mirror_forks")
    op.drop_table("log_mirror_checkpoints")
    op.drop_table("log_mirror_entries")
    op.drop_table("log_mirrors")
