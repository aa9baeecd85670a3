"""Runs jobs from the queue: claim a batch, run the handlers, store the outcomes.

:meth:`JobRunner.step` does one round and returns; tests call it directly to run
exactly one round.  :meth:`JobRunner.run` repeats it until asked to stop, then
finishes the jobs in hand before returning, so a graceful shutdown loses no work.
A crash (SIGKILL, power loss) loses no work either: the claimed jobs stay leased
until their lease expires, then another worker claims them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from protocol.errors import BocageError
from storage.jobs import DEAD, DONE, PENDING, Job, Outcome, SqlJobQueue
from storage.retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger("bocage.storage.worker")

Handler = Callable[[Job], Awaitable[None]]


class PermanentFailure(BocageError):
    """The job can never succeed (the peer answered 410, the payload is invalid)."""


class RetryLater(BocageError):
    """Try again after ``delay`` seconds (the peer asked, e.g. with Retry-After)."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


def new_worker_id() -> str:
    """A name unique to this process, recorded on the jobs it leases."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class RunnerStats:
    done: int = 0
    retried: int = 0
    dead: int = 0
    rounds: int = 0
    by_queue: dict[str, int] = field(default_factory=dict)


class JobRunner:
    """Claims jobs of the queues it has handlers for and runs them."""

    def __init__(
        self,
        queue: SqlJobQueue,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        concurrency: int = 16,
        batch_size: int = 64,
        lease_seconds: float = 60.0,
        poll_interval: float = 0.5,
        policy: RetryPolicy = DEFAULT_POLICY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.worker_id = worker_id or new_worker_id()
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.policy = policy
        self.stats = RunnerStats()
        self._clock = clock
        self._semaphore = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for jobs now instead of at the next poll (after a local enqueue)."""
        self._wake.set()

    async def step(self) -> int:
        """Claim one batch, run it, store the outcomes; return how many jobs ran."""
        claimed = await self.queue.claim(
            list(self.handlers),
            worker=self.worker_id,
            limit=self.batch_size,
            lease_seconds=self.lease_seconds,
        )
        if not claimed:
            return 0
        # A round lasts as long as its slowest job; keep the leases alive
        # meanwhile, or another worker would take the jobs over and run them
        # a second time.
        keeper = asyncio.create_task(self._keep_leases([job.id for job in claimed]))
        try:
            outcomes = await asyncio.gather(*(self._run_one(job) for job in claimed))
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        await self.queue.record(outcomes, worker=self.worker_id)
        self.stats.rounds += 1
        return len(claimed)

    async def _keep_leases(self, job_ids: list[int]) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.queue.extend(
                    job_ids, worker=self.worker_id, lease_seconds=self.lease_seconds
                )
            except BocageError as exc:
                log.warning("could not extend leases (%s); jobs may run twice", exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Run rounds until ``stop`` is set; the round in progress is finished."""
        log.info(
            "worker %s started on queues %s", self.worker_id, ", ".join(self.handlers)
        )
        while not stop.is_set():
            try:
                ran = await self.step()
            except BocageError as exc:
                # The database is away (restarting, locked): wait and try again;
                # leased jobs are safe in it meanwhile.
                log.warning(
                    "job round failed, retrying in %.1fs: %s", self.poll_interval, exc
                )
                ran = 0
            if ran:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(e.wait()) for e in (stop, self._wake)]
            _, pending = await asyncio.wait(
                waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
        log.info("worker %s stopped", self.worker_id)

    async def _run_one(self, job: Job) -> Outcome:
        handler = self.handlers[job.queue]
        async with self._semaphore:
            try:
                if job.attempts > self.policy.max_attempts:
                    raise PermanentFailure(f"gave up after {job.attempts - 1} attempts")
                await handler(job)
            except PermanentFailure as exc:
                return self._dead(job, str(exc))
            except RetryLater as exc:
                self.stats.retried += 1
                return Outcome(job.id, PENDING, self._clock() + exc.delay, str(exc))
            except Exception as exc:
                if not isinstance(exc, BocageError):
                    log.exception("job %d (%s) raised unexpectedly", job.id, job.queue)
                return self._retry(job, f"{exc.__class__.__name__}: {exc}")
        self.stats.done += 1
        self.stats.by_queue[job.queue] = self.stats.by_queue.get(job.queue, 0) + 1
        return Outcome(job.id, DONE)

    def _retry(self, job: Job, error: str) -> Outcome:
        now = self._clock()
        delay = self.policy.delay(job.attempts, now - job.created_at)
        if delay is None:
            return self._dead(job, f"retries exhausted; last error: {error}")
        self.stats.retried += 1
        log.info("job %d (%s) will retry in %.0fs: %s", job.id, job.queue, delay, error)
        return Outcome(job.id, PENDING, now + delay, error)

    def _dead(self, job: Job, error: str) -> Outcome:
        self.stats.dead += 1
        log.warning("job %d (%s) abandoned: %s", job.id, job.queue, error)
        return Outcome(job.id, DEAD, None, error)
