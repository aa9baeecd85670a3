"""Search: posting bitmaps over catalogue records and each record's terms.

Records written before this revision are found once indexed:
``storage.search.reindex_all`` does it for all of them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_postings",
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("block", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "field", "value", "block", name=op.f("pk_record_postings")
        ),
    )
    op.create_table(
        "record_index",
        sa.Column(
            "record_seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "terms",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("record_seq", name=op.f("pk_record_index")),
    )


def downgrade() -> None:
    op.drop_table("record_index")
    op.drop_table("record_postings")
