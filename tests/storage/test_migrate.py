"""Migrations: from empty to head, idempotent, on both backends."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.database import Database
from storage.migrate import current_revision, head_revision, migrate
from storage.tables import metadata


async def test_migrate_from_empty_and_again(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await current_revision(db) is None
        before, after = await migrate(db)
        assert (before, after) == (None, head_revision())
        assert await migrate(db) == (head_revision(), head_revision())
        async with db.read() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "jobs" in tables and "alembic_version" in tables
    finally:
        await db.close()


async def test_concurrent_starts_migrate_once(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        results = await asyncio.gather(migrate(first), migrate(second))
        assert sorted(r[0] or "" for r in results) == ["", head_revision()]
    finally:
        await first.close()
        await second.close()


async def test_migrations_match_the_table_definitions(db: Database) -> None:
    """The code's tables and the migrated schema agree (no forgotten migration)."""

    def diff(sync: object) -> list[object]:
        context = MigrationContext.configure(sync)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with db.read() as conn:
        assert await conn.run_sync(diff) == []
