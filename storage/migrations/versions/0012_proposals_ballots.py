"""Governance: graded ballots, objections with reasons, college weights.

Ballots gain a reason (a consent objection), grades (majority judgment) and a
``dedupe_key`` replacing the (proposal, voter, choice) key: a poll vote stays
identified by its option, but a reasoned objection sent as a reply may follow
a poll vote "object" from the same voter.  Proposals gain their outcome and
the charter text they adopt, if any.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("charter_title", sa.Text(), nullable=True))
        batch.add_column(sa.Column("charter_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("charter_version", sa.Integer(), nullable=True))

    with op.batch_alter_table("ballots") as batch:
        batch.add_column(
            sa.Column("reason", sa.Text(), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("grades", _JSON, nullable=True))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=80), nullable=True))
    # Every ballot so far was a poll vote: the key node.proposals gives one.
    op.execute("UPDATE ballots SET dedupe_key = 'vote:' || choice")
    with op.batch_alter_table("ballots") as batch:
        batch.alter_column(
            "dedupe_key", existing_type=sa.String(length=80), nullable=False
        )
        batch.alter_column("choice", existing_type=sa.String(length=64), nullable=True)
        batch.drop_constraint("uq_ballots_proposal_seq_voter_choice", type_="unique")
        batch.create_unique_constraint(
            "uq_ballots_proposal_seq_voter_dedupe_key",
            ["proposal_seq", "voter", "dedupe_key"],
        )


def downgrade() -> None:
    # Graded ballots and all but the first ballot per (voter, choice) do not
    # fit the old key: they are lost.
    op.execute("DELETE FROM ballots WHERE choice IS NULL")
    op.execute(
        "DELETE FROM ballots WHERE seq NOT IN "
        "(SELECT MIN(seq) FROM ballots GROUP BY proposal_seq, voter, choice)"
    )
    with op.batch_alter_table("ballots") as batch:
        batch.drop_constraint(
            "uq_ballots_proposal_seq_voter_dedupe_key", type_="unique"
        )
        batch.create_unique_constraint(
            "uq_ballots_proposal_seq_voter_choice", ["proposal_seq", "voter", "choice"]
        )
        batch.alter_column("choice", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("dedupe_key")
        batch.drop_column("grades")
        batch.drop_column("reason")
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("charter_version")
        batch.drop_column("charter_text")
        batch.drop_column("charter_title")
        batch.drop_column("outcome")
