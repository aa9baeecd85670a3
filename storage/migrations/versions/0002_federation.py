"""Federation: actors, keys, follows, outbox, inbox, remote objects, hosts.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "activities",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=2048), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=2048), nullable=True),
        sa.Column(
            "document",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_activities")),
        sa.UniqueConstraint("id", name=op.f("uq_activities_id")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_actor_seq", ["actor", "seq"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_activities_object_id"), ["object_id"], unique=False
        )

    op.create_table(
        "follows",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("follower", sa.String(length=2048), nullable=False),
        sa.Column("followee", sa.String(length=2048), nullable=False),
        sa.Column("activity_id", sa.String(length=2048), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint(
            "follower", "followee", name=op.f("uq_follows_follower_followee")
        ),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_follows_followee_state", ["followee", "state"], unique=False
        )

    op.create_table(
        "hosts",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=True),
        sa.Column("last_success_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_hosts")),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=2048), nullable=False),
        sa.Column("actor", sa.String(length=2048), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=True),
        sa.Column(
            "document",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_inbox")),
        sa.UniqueConstraint("id", name=op.f("uq_inbox_id")),
    )
    op.create_table(
        "local_actors",
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "manually_approves", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_local_actors")),
    )
    op.create_table(
        "objects",
        sa.Column("id", sa.String(length=2048), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objects")),
    )
    op.create_table(
        "remote_actors",
        sa.Column("id", sa.String(length=2048), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("inbox", sa.String(length=2048), nullable=False),
        sa.Column("shared_inbox", sa.String(length=2048), nullable=True),
        sa.Column("preferred_username", sa.String(length=255), nullable=True),
        sa.Column(
            "document",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("fetched_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_actors")),
    )
    with op.batch_alter_table("remote_actors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_remote_actors_host"), ["host"], unique=False
        )

    op.create_table(
        "remote_objects",
        sa.Column("id", sa.String(length=2048), nullable=False),
        sa.Column("actor", sa.String(length=2048), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_objects")),
    )
    with op.batch_alter_table("remote_objects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_remote_objects_actor"), ["actor"], unique=False
        )

    op.create_table(
        "remote_keys",
        sa.Column("key_id", sa.String(length=2048), nullable=False),
        sa.Column("actor_id", sa.String(length=2048), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["remote_actors.id"],
            name=op.f("fk_remote_keys_actor_id_remote_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_remote_keys")),
    )
    with op.batch_alter_table("remote_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_remote_keys_actor_id"), ["actor_id"], unique=False
        )


def downgrade() -> None:
    for table in (
        "remote_keys",
        "remote_objects",
        "remote_actors",
        "objects",
        "local_actors",
        "inbox",
        "hosts",
        "follows",
        "activities",
    ):
        op.drop_table(table)
