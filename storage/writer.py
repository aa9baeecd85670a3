"""Group commit: concurrent writes that must be durable before an answer share a commit.

An inbox must store an activity before it answers 202.  One transaction per
request caps an aiohttp inbox near 700 requests/s here, because every commit
waits for the disk; by letting the requests that arrive while a commit is in
flight ride together in the next one, a batched writer reached about 3,100/s.

Each write is an *operation*: an async function of a connection.  The writer
runs a batch of operations in one transaction.  If any of them fails, the whole
batch is rolled back and each operation is replayed in a transaction of its
own, so one bad write fails alone and the others still commit.  Operations must
therefore have no effect outside the database (they may run twice on failure).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database, StorageError

log = logging.getLogger("bocage.storage.writer")

T = TypeVar("T")
Operation = Callable[[AsyncConnection], Awaitable[T]]


class WriterClosed(StorageError):
    """The writer is shutting down and takes no more operations."""


def _log_unseen_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("a background write failed: %s", future.exception())


class GroupCommitWriter:
    """Batches concurrent write operations into shared transactions."""

    def __init__(self, db: Database, *, max_batch: int = 256) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: deque[tuple[Operation[Any], asyncio.Future[Any]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Figures for /metrics and the benchmarks.
        self.commits = 0
        self.operations = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    async def submit(self, operation: Operation[T]) -> T:
        """Run ``operation`` in a shared transaction; return once it is committed."""
        if self._closing:
            raise WriterClosed("the database writer is shutting down")
        if self._task is None:
            self.start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((operation, future))
        self._wake.set()
        return await future

    def submit_later(self, operation: Operation[T]) -> asyncio.Future[T]:
        """Queue ``operation`` without waiting for its commit.

        For writes that nobody must wait for (a cache of what we learnt about
        a peer): the writer still commits them, and :meth:`close` waits for
        them; a failure is logged, since no caller will see it.
        """
        if self._closing:
            raise WriterClosed("the database writer is shutting down")
        if self._task is None:
            self.start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_unseen_failure)
        self._pending.append((operation, future))
        self._wake.set()
        return future

    async def close(self) -> None:
        """Commit everything already submitted, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Whatever queued up while the previous commit was in flight goes
            # into the next one: the batch size follows the load by itself.
            while self._pending:
                count = min(len(self._pending), self.max_batch)
                batch = [self._pending.popleft() for _ in range(count)]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(
        self, batch: list[tuple[Operation[Any], asyncio.Future[Any]]]
    ) -> None:
        try:
            async with self.db.transaction() as conn:
                results = [await operation(conn) for operation, _ in batch]
        except Exception:  # noqa: BLE001 - isolated and re-raised per operation below
            if len(batch) == 1:
                await self._commit_alone(*batch[0])
                return
            log.debug("batch of %d failed; replaying each alone", len(batch))
            for operation, future in batch:
                await self._commit_alone(operation, future)
            return
        self.commits += 1
        self.operations += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the caller may have been cancelled
                future.set_result(result)

    async def _commit_alone(
        self, operation: Operation[Any], future: asyncio.Future[Any]
    ) -> None:
        try:
            async with self.db.transaction() as conn:
                result = await operation(conn)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
            if not future.done():
                future.set_exception(exc)
            return
        self.commits += 1
        self.operations += 1
        if not future.done():
            future.set_result(result)


class RowBatcher:
    """Rows for one table, gathered from concurrent callers into one INSERT.

    Group commit saves the disk syncs; this saves the statements.  Each
    caller's row waits in a list; one writer operation takes every row
    waiting when it runs and inserts them in a single multi-row statement
    (``ON CONFLICT DO NOTHING``), so a burst of N requests costs one statement
    and one commit instead of N of each.  :meth:`add` answers whether the row
    was new (True) or conflicted with one already stored (False).
    """

    def __init__(self, writer: GroupCommitWriter, table: Table, key: str) -> None:
        self.writer = writer
        self.table = table
        self.key = key
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._scheduled = False
        self._flushes: set[asyncio.Task[None]] = set()  # held until done

    async def add(self, row: dict[str, Any]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        if not self._scheduled:
            self._scheduled = True
            task = asyncio.get_running_loop().create_task(self._flush())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        return await future

    async def _flush(self) -> None:
        taken: list[tuple[dict[str, Any], asyncio.Future[bool]]] | None = None

        async def insert(conn: AsyncConnection) -> set[Any]:
            nonlocal taken
            if taken is None:
                # Rows that arrive after this point start the next batch.
                taken, self._waiting = self._waiting, []
                self._scheduled = False
            db = self.writer.db
            column = self.table.c[self.key]
            stmt = (
                db.insert(self.table)
                .on_conflict_do_nothing(index_elements=self._conflict_columns())
                .returning(column)
            )
            result = await conn.execute(stmt, [row for row, _ in taken])
            return {row[0] for row in result}

        try:
            inserted = await self.writer.submit(insert)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
            for _, future in taken or []:
                if not future.done():
                    future.set_exception(exc)
            return
        seen: set[Any] = set()
        for row, future in taken or []:
            value = row[self.key]
            # Two callers with one key in the same batch: the first wins.
            fresh = value in inserted and value not in seen
            seen.add(value)
            if not future.done():
                future.set_result(fresh)

    def _conflict_columns(self) -> list[str]:
        for constraint in self.table.constraints:
            names = [c.name for c in getattr(constraint, "columns", [])]
            if self.key in names and constraint.__class__.__name__ in (
                "UniqueConstraint",
                "PrimaryKeyConstraint",
            ):
                return names
        return [self.key]
