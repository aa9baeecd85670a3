"""Schema migrations (Alembic), run by ``bocage migrate`` and on first start."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.database import Database

log = logging.getLogger("bocage.storage.migrate")

_SCRIPTS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every Bocage process.
_PG_MIGRATION_LOCK = 0x626F63616765


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision this code knows."""
    script = ScriptDirectory(str(_SCRIPTS))
    head = script.get_current_head()
    assert head is not None
    return head


async def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None before the first migration."""
    async with db.read() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def migrate(db: Database) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; return (before, after).

    Several processes may start at once against one PostgreSQL: an advisory
    lock makes the second wait for the first instead of racing it.  On SQLite
    the writer's BEGIN IMMEDIATE serialises them the same way.
    """

    def upgrade(sync: Connection) -> tuple[str | None, str]:
        if sync.dialect.name == "postgresql":
            sync.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        before = MigrationContext.configure(sync).get_current_revision()
        command.upgrade(_alembic_config(sync), "head")
        after = MigrationContext.configure(sync).get_current_revision()
        assert after is not None
        return before, after

    async with db.transaction() as conn:
        before, after = await conn.run_sync(upgrade)
    if before != after:
        log.info("database migrated from %s to %s", before or "empty", after)
    return before, after
