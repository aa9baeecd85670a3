"""The durable job queue: every federation side effect is a row with a state.

A job moves ``pending → running → done``; a failure sends it back to
``pending`` with a later ``next_attempt_at``, or to ``dead`` when the retry
policy gives up.  A worker *claims* due jobs by setting a lease; if it dies, the
lease expires and another worker claims them again, so a crash loses nothing
(the price is that a job may run twice: handlers must be idempotent, or at
least harmless when repeated — deliveries are, since peers deduplicate by id).

Several worker processes may share one database.  On PostgreSQL the claim
locks its rows with ``FOR UPDATE SKIP LOCKED`` so two workers never wait on or
take the same job; on SQLite the claim runs in a ``BEGIN IMMEDIATE``
transaction, which already admits one writer at a time across processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import jobs

PENDING = "pending"
RUNNING = "running"
DONE = "done"
DEAD = "dead"
STATES = (PENDING, RUNNING, DONE, DEAD)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job, as a handler sees it."""

    id: int
    queue: str
    payload: dict[str, Any]
    attempts: int
    created_at: float
    partition_key: str | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to enqueue."""

    queue: str
    payload: Mapping[str, Any]
    run_at: float | None = None
    dedupe_key: str | None = None
    partition_key: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed job: done, retry at a time, or dead."""

    job_id: int
    state: str
    next_attempt_at: float | None = None
    error: str | None = None


class JobQueue(Protocol):
    """The operations every backend provides; tests/storage holds their suite.

    Every method that writes takes an optional connection so that enqueuing can
    join the caller's transaction: an inbox stores the activity and the job that
    will process it in one commit, or neither.
    """

    async def enqueue_many(
        self, jobs_: Sequence[NewJob], *, conn: AsyncConnection | None = None
    ) -> int: ...

    async def claim(
        self, queues: Sequence[str], *, worker: str, limit: int, lease_seconds: float
    ) -> list[Job]: ...

    async def record(self, outcomes: Iterable[Outcome], *, worker: str) -> int: ...

    async def counts(self) -> dict[str, int]: ...


class SqlJobQueue:
    """The job queue on SQLite or PostgreSQL; the same SQL serves both."""

    def __init__(self, db: Database, *, clock: Any = time.time) -> None:
        self.db = db
        self._clock = clock

    async def enqueue(
        self,
        queue: str,
        payload: Mapping[str, Any],
        *,
        run_at: float | None = None,
        dedupe_key: str | None = None,
        partition_key: str | None = None,
        conn: AsyncConnection | None = None,
    ) -> int:
        """Add one job; return 1, or 0 when ``dedupe_key`` is already queued."""
        job = NewJob(queue, payload, run_at, dedupe_key, partition_key)
        return await self.enqueue_many([job], conn=conn)

    async def enqueue_many(
        self, jobs_: Sequence[NewJob], *, conn: AsyncConnection | None = None
    ) -> int:
        """Add jobs in one statement; duplicates of a queued dedupe key are skipped."""
        if not jobs_:
            return 0
        now = self._clock()
        rows = [
            {
                "queue": job.queue,
                "state": PENDING,
                "payload": dict(job.payload),
                "attempts": 0,
                "next_attempt_at": job.run_at if job.run_at is not None else now,
                "dedupe_key": job.dedupe_key,
                "partition_key": job.partition_key,
                "created_at": now,
                "updated_at": now,
            }
            for job in jobs_
        ]
        # RETURNING gives an exact count on both drivers, where executemany row
        # counts do not; SQLAlchemy batches it into multi-row INSERTs.
        stmt = (
            self.db.insert(jobs)
            .on_conflict_do_nothing(index_elements=["queue", "dedupe_key"])
            .returning(jobs.c.id)
        )
        if conn is not None:
            result = await conn.execute(stmt, rows)
        else:
            async with self.db.transaction() as own:
                result = await own.execute(stmt, rows)
        return len(result.all())

    async def claim(
        self,
        queues: Sequence[str],
        *,
        worker: str,
        limit: int,
        lease_seconds: float,
    ) -> list[Job]:
        """Lease up to ``limit`` due jobs to ``worker``.

        Due means pending with ``next_attempt_at`` reached, or running under a
        lease that has expired (its worker died).  Each claim counts as an
        attempt, so a job that keeps crashing its worker still runs out of tries.
        """
        now = self._clock()
        due = or_(
            and_(jobs.c.state == PENDING, jobs.c.next_attempt_at <= now),
            and_(jobs.c.state == RUNNING, jobs.c.lease_expires_at < now),
        )
        chosen = (
            select(jobs.c.id)
            .where(jobs.c.queue.in_(list(queues)), due)
            .order_by(jobs.c.next_attempt_at)
            .limit(limit)
            # Rendered on PostgreSQL only; SQLite has no row locks and needs none
            # inside BEGIN IMMEDIATE.
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(jobs)
            .where(jobs.c.id.in_(chosen.scalar_subquery()))
            .values(
                state=RUNNING,
                attempts=jobs.c.attempts + 1,
                lease_expires_at=now + lease_seconds,
                locked_by=worker,
                updated_at=now,
            )
            .returning(
                jobs.c.id,
                jobs.c.queue,
                jobs.c.payload,
                jobs.c.attempts,
                jobs.c.created_at,
                jobs.c.partition_key,
                jobs.c.dedupe_key,
            )
        )
        async with self.db.transaction() as conn:
            rows = (await conn.execute(stmt)).all()
        claimed = [
            Job(
                r.id,
                r.queue,
                r.payload,
                r.attempts,
                r.created_at,
                r.partition_key,
                r.dedupe_key,
            )
            for r in rows
        ]
        claimed.sort(key=lambda job: job.id)
        return claimed

    async def extend(
        self, job_ids: Sequence[int], *, worker: str, lease_seconds: float
    ) -> int:
        """Push the lease of jobs still running further out."""
        now = self._clock()
        stmt = (
            update(jobs)
            .where(
                jobs.c.id.in_(list(job_ids)),
                jobs.c.locked_by == worker,
                jobs.c.state == RUNNING,
            )
            .values(lease_expires_at=now + lease_seconds, updated_at=now)
        )
        async with self.db.transaction() as conn:
            return (await conn.execute(stmt)).rowcount

    async def record(self, outcomes: Iterable[Outcome], *, worker: str) -> int:
        """Store the outcomes of claimed jobs in one transaction.

        Only jobs still leased to ``worker`` change: if the lease expired and
        another worker took the job over, this worker's late answer is dropped.
        """
        now = self._clock()
        chosen = {o.job_id: o for o in outcomes}
        if not chosen:
            return 0

        # One statement for the whole batch (CASE per column), because
        # executemany UPDATEs report no reliable row count on asyncpg and cost
        # a round trip per row on aiosqlite.
        def column(values: Mapping[int, Any]) -> Any:
            return case(values, value=jobs.c.id)

        stmt = (
            update(jobs)
            .where(
                jobs.c.id.in_(list(chosen)),
                jobs.c.locked_by == worker,
                jobs.c.state == RUNNING,
            )
            .values(
                state=column({i: o.state for i, o in chosen.items()}),
                next_attempt_at=column(
                    {
                        i: o.next_attempt_at if o.next_attempt_at is not None else now
                        for i, o in chosen.items()
                    }
                ),
                last_error=column(
                    {i: o.error[:2000] if o.error else None for i, o in chosen.items()}
                ),
                lease_expires_at=None,
                locked_by=None,
                updated_at=now,
            )
            .returning(jobs.c.id)
        )
        async with self.db.transaction() as conn:
            return len((await conn.execute(stmt)).all())

    async def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        stmt = select(jobs.c.state, func.count()).group_by(jobs.c.state)
        async with self.db.read() as conn:
            found = {row[0]: int(row[1]) for row in await conn.execute(stmt)}
        return {state: found.get(state, 0) for state in STATES}

    async def get(self, job_id: int) -> dict[str, Any] | None:
        """One job's row as a mapping (for tests and the admin CLI)."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return dict(row._mapping) if row else None

    async def prune(self, *, older_than: float) -> int:
        """Delete finished jobs last touched before ``older_than``."""
        stmt = delete(jobs).where(jobs.c.state == DONE, jobs.c.updated_at < older_than)
        async with self.db.transaction() as conn:
            return (await conn.execute(stmt)).rowcount
