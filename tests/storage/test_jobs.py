"""The job queue's conformance suite: every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from storage.database import Database
from storage.jobs import DEAD, DONE, PENDING, RUNNING, NewJob, Outcome, SqlJobQueue
from storage.retry import RetryPolicy
from storage.worker import JobRunner, PermanentFailure, RetryLater


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_enqueue_claim_complete(db: Database) -> None:
    clock = Clock()
    queue = SqlJobQueue(db, clock=clock)
    assert await queue.enqueue("deliver", {"to": "a"}) == 1
    assert await queue.enqueue("deliver", {"to": "b"}) == 1

    claimed = await queue.claim(["deliver"], worker="w1", limit=10, lease_seconds=30)
    assert [job.payload["to"] for job in claimed] == ["a", "b"]
    assert all(job.attempts == 1 for job in claimed)
    # Leased jobs are not handed out twice.
    assert await queue.claim(["deliver"], worker="w2", limit=10, lease_seconds=30) == []

    await queue.record([Outcome(claimed[0].id, DONE)], worker="w1")
    counts = await queue.counts()
    assert counts[DONE] == 1 and counts[RUNNING] == 1


async def test_dedupe_key_makes_enqueue_idempotent(db: Database) -> None:
    queue = SqlJobQueue(db)
    first = NewJob("inbox", {"n": 1}, dedupe_key="https://a.example/act/1")
    again = NewJob("inbox", {"n": 2}, dedupe_key="https://a.example/act/1")
    other_queue = NewJob("deliver", {"n": 3}, dedupe_key="https://a.example/act/1")
    assert await queue.enqueue_many([first]) == 1
    assert await queue.enqueue_many([again, other_queue]) == 1
    assert (await queue.counts())[PENDING] == 2


async def test_only_due_jobs_and_named_queues_are_claimed(db: Database) -> None:
    clock = Clock()
    queue = SqlJobQueue(db, clock=clock)
    await queue.enqueue("deliver", {"n": "later"}, run_at=clock.now + 60)
    await queue.enqueue("fetch", {"n": "other queue"})
    assert await queue.claim(["deliver"], worker="w", limit=5, lease_seconds=5) == []
    clock.now += 61
    claimed = await queue.claim(["deliver"], worker="w", limit=5, lease_seconds=5)
    assert [job.payload["n"] for job in claimed] == ["later"]


async def test_expired_lease_is_claimed_again_and_late_answer_dropped(
    db: Database,
) -> None:
    clock = Clock()
    queue = SqlJobQueue(db, clock=clock)
    await queue.enqueue("deliver", {"n": 1})
    (job,) = await queue.claim(["deliver"], worker="dead", limit=1, lease_seconds=10)

    clock.now += 11  # the first worker died holding the lease
    (again,) = await queue.claim(["deliver"], worker="alive", limit=1, lease_seconds=10)
    assert again.id == job.id and again.attempts == 2

    # The first worker comes back late: its answer must not override.
    assert await queue.record([Outcome(job.id, DONE)], worker="dead") == 0
    assert (await queue.get(job.id) or {})["locked_by"] == "alive"
    assert await queue.record([Outcome(job.id, DONE)], worker="alive") == 1


async def test_record_many_outcomes_in_one_call(db: Database) -> None:
    clock = Clock()
    queue = SqlJobQueue(db, clock=clock)
    await queue.enqueue_many([NewJob("q", {"i": i}) for i in range(5)])
    claimed = await queue.claim(["q"], worker="w", limit=5, lease_seconds=10)
    outcomes = [
        Outcome(claimed[0].id, DONE),
        Outcome(claimed[1].id, DONE),
        Outcome(claimed[2].id, PENDING, clock.now + 100, "timeout"),
        Outcome(claimed[3].id, DEAD, None, "410 Gone"),
        Outcome(claimed[4].id, PENDING, clock.now + 5, "429"),
    ]
    assert await queue.record(outcomes, worker="w") == 5
    assert await queue.counts() == {PENDING: 2, RUNNING: 0, DONE: 2, DEAD: 1}
    row = await queue.get(claimed[2].id)
    assert row is not None
    assert row["last_error"] == "timeout" and row["next_attempt_at"] == clock.now + 100


async def test_concurrent_claimers_never_share_a_job(db: Database) -> None:
    queue = SqlJobQueue(db)
    await queue.enqueue_many([NewJob("q", {"i": i}) for i in range(200)])

    async def claimer(name: str) -> list[int]:
        ids: list[int] = []
        while batch := await queue.claim(["q"], worker=name, limit=7, lease_seconds=60):
            ids += [job.id for job in batch]
        return ids

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    every = [job_id for ids in results for job_id in ids]
    assert len(every) == 200 and len(set(every)) == 200


async def test_runner_step_retries_with_policy_and_gives_up(db: Database) -> None:
    clock = Clock()
    queue = SqlJobQueue(db, clock=clock)
    calls: list[str] = []

    async def handler(job: object) -> None:
        payload = job.payload  # type: ignore[attr-defined]
        calls.append(payload["kind"])
        if payload["kind"] == "flaky":
            raise ConnectionError("peer reset the connection")
        if payload["kind"] == "gone":
            raise PermanentFailure("410 Gone")
        if payload["kind"] == "busy":
            raise RetryLater("429", delay=120)

    policy = RetryPolicy(base=10, max_attempts=2, max_elapsed=10_000)
    runner = JobRunner(queue, {"q": handler}, worker_id="w", policy=policy, clock=clock)
    await queue.enqueue_many(
        [NewJob("q", {"kind": k}) for k in ("ok", "flaky", "gone", "busy")]
    )
    assert await runner.step() == 4
    counts = await queue.counts()
    assert counts == {PENDING: 2, RUNNING: 0, DONE: 1, DEAD: 1}

    clock.now += 121  # past both the back-off (≤ 10 s) and Retry-After (120 s)
    assert await runner.step() == 2  # flaky fails its last try; busy waits again
    assert await queue.counts() == {PENDING: 1, RUNNING: 0, DONE: 1, DEAD: 2}
    clock.now += 121
    assert await runner.step() == 1  # a third claim is over the limit: refused
    assert (await queue.counts())[DEAD] == 3
    assert calls.count("flaky") == 2 and calls.count("busy") == 2


async def test_runner_run_stops_cleanly(db: Database) -> None:
    queue = SqlJobQueue(db)
    seen: list[int] = []

    async def handler(job: object) -> None:
        seen.append(job.payload["i"])  # type: ignore[attr-defined]

    runner = JobRunner(queue, {"q": handler}, poll_interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await queue.enqueue_many([NewJob("q", {"i": i}) for i in range(20)])
    runner.wake()
    for _ in range(100):
        if len(seen) == 20:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert sorted(seen) == list(range(20))
    assert (await queue.counts())[DONE] == 20


async def test_prune_removes_old_done_jobs(db: Database) -> None:
    clock = Clock()
    queue = SqlJobQueue(db, clock=clock)
    await queue.enqueue("q", {})
    (job,) = await queue.claim(["q"], worker="w", limit=1, lease_seconds=5)
    await queue.record([Outcome(job.id, DONE)], worker="w")
    assert await queue.prune(older_than=clock.now - 1) == 0
    assert await queue.prune(older_than=clock.now + 1) == 1
