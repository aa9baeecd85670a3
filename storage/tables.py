"""Table definitions (SQLAlchemy Core), shared by the code and the migrations.

Times are stored as UNIX seconds in double precision: the same type and the same
comparisons on SQLite and PostgreSQL, with no time-zone conversion on the way.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

# Deterministic constraint names, so migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid for INTEGER PRIMARY KEY, not BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # What kind of work: "deliver", "inbox", "fetch"…; workers pick queues by name.
    Column("queue", String(64), nullable=False),
    # pending → running → done, or back to pending for a retry, or dead.
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("payload", Json, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_expires_at", Float, nullable=True),
    Column("locked_by", String(128), nullable=True),
    Column("last_error", Text, nullable=True),
    # Optional: the same key twice in one queue is one job (idempotent enqueue).
    Column("dedupe_key", String(512), nullable=True),
    # Optional: a group (a remote host) whose jobs share a concurrency limit.
    Column("partition_key", String(255), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("queue", "dedupe_key"),
    # The claim query's path: due pending jobs, oldest first.
    Index("ix_jobs_claim", "state", "next_attempt_at"),
    Index(
        "ix_jobs_lease",
        "lease_expires_at",
        postgresql_where=text("state = 'running'"),
        sqlite_where=text("state = 'running'"),
    ),
)
