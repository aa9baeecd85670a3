"""Group commit: shared transactions, isolated failures, drained on close."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database, StorageError
from storage.jobs import SqlJobQueue
from storage.tables import jobs
from storage.writer import GroupCommitWriter, WriterClosed


async def test_concurrent_writes_share_commits(db: Database) -> None:
    writer = GroupCommitWriter(db)
    queue = SqlJobQueue(db)

    async def write(i: int) -> int:
        async def op(conn: AsyncConnection) -> int:
            return await queue.enqueue("q", {"i": i}, dedupe_key=str(i), conn=conn)

        return await writer.submit(op)

    results = await asyncio.gather(*(write(i) for i in range(300)))
    await writer.close()
    assert results == [1] * 300
    assert writer.operations == 300
    assert writer.commits < 300  # some operations rode together
    async with db.read() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM jobs"))).scalar_one()
    assert count == 300


async def test_a_failing_operation_fails_alone(db: Database) -> None:
    writer = GroupCommitWriter(db)
    queue = SqlJobQueue(db)

    async def good(conn: AsyncConnection) -> int:
        return await queue.enqueue("q", {"ok": True}, conn=conn)

    async def bad(conn: AsyncConnection) -> int:
        await queue.enqueue("q", {"half": "written"}, conn=conn)
        raise ValueError("refused after writing")

    outcomes = await asyncio.gather(
        *(writer.submit(op) for op in (good, bad, good, bad, good)),
        return_exceptions=True,
    )
    await writer.close()
    assert [type(o).__name__ for o in outcomes] == [
        "int",
        "ValueError",
        "int",
        "ValueError",
        "int",
    ]
    async with db.read() as conn:
        rows = (await conn.execute(select(jobs.c.payload))).scalars().all()
    # Nothing half-written: the failing operations left no row behind.
    assert rows == [{"ok": True}] * 3


async def test_close_drains_then_refuses(db: Database) -> None:
    writer = GroupCommitWriter(db)
    queue = SqlJobQueue(db)

    async def op(conn: AsyncConnection) -> int:
        return await queue.enqueue("q", {}, conn=conn)

    pending = [asyncio.ensure_future(writer.submit(op)) for _ in range(50)]
    await asyncio.sleep(0)
    await writer.close()
    assert sum(await asyncio.gather(*pending)) == 50
    with pytest.raises(WriterClosed):
        await writer.submit(op)


async def test_storage_errors_are_ours(db: Database) -> None:
    with pytest.raises(StorageError):
        async with db.transaction() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))
