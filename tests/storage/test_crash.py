"""A worker killed with SIGKILL while holding leases loses no job."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sqlalchemy import select

from storage.database import Database
from storage.jobs import DONE, RUNNING, NewJob, SqlJobQueue
from storage.tables import jobs

SCRIPT = Path(__file__).with_name("crash_worker.py")
REPO = Path(__file__).resolve().parents[2]


async def _worker(url: str, mode: str, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        url,
        mode,
        *extra,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


async def test_sigkilled_worker_leases_expire_and_another_finishes(
    db: Database, database_url: str
) -> None:
    queue = SqlJobQueue(db)
    await queue.enqueue_many([NewJob("crash-test", {"n": i}) for i in range(120)])

    doomed = await _worker(database_url, "hang")
    # Wait until the doomed worker holds its batch of leases.
    for _ in range(200):
        if (await queue.counts())[RUNNING] == 50:
            break
        await asyncio.sleep(0.05)
    assert (await queue.counts())[RUNNING] == 50
    os.kill(doomed.pid, signal.SIGKILL)
    assert await doomed.wait() == -signal.SIGKILL

    survivor = await _worker(database_url, "finish", "120")
    assert await asyncio.wait_for(survivor.wait(), 60) == 0

    assert (await queue.counts())[DONE] == 120
    async with db.read() as conn:
        attempts = (await conn.execute(select(jobs.c.attempts))).scalars().all()
    # The 50 jobs leased by the killed worker ran a second time, the rest once.
    assert sorted(attempts) == [1] * 70 + [2] * 50
