"""Group commit: shared transactions, isolated failures, drained on close."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database, StorageError
from storage.jobs import SqlJobQueue
from storage.tables import jobs
from storage.writer import GroupCommitWriter, RowBatcher, WriterClosed


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


async def test_row_batcher_inserts_a_burst_in_one_statement(db: Database) -> None:
    writer = GroupCommitWriter(db)
    batcher = RowBatcher(writer, jobs, "dedupe_key")

    def row(key: str) -> dict[str, object]:
        return {
            "queue": "inbox",
            "state": "pending",
            "payload": {"k": key},
            "attempts": 0,
            "next_attempt_at": 0.0,
            "dedupe_key": key,
            "partition_key": None,
            "created_at": 0.0,
            "updated_at": 0.0,
        }

    keys = [f"a{i}" for i in range(200)] + ["a3", "a7"]  # two replays
    results = await asyncio.gather(*(batcher.add(row(k)) for k in keys))
    assert results == [True] * 200 + [False, False]
    assert await batcher.add(row("a5")) is False  # already stored
    assert writer.commits <= 4  # a burst is a handful of statements, not 202
    await writer.close()
    async with db.read() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM jobs"))).scalar_one()
    assert count == 200
