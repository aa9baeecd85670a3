"""A worker process for the crash test: runs the real JobRunner on a test queue.

``hang`` mode leases its jobs and never finishes them (the test then SIGKILLs
it); ``finish`` mode completes them and exits when none are left.
"""

from __future__ import annotations

import asyncio
import sys

from storage.database import Database
from storage.jobs import Job, SqlJobQueue
from storage.worker import JobRunner


async def main(url: str, mode: str) -> None:
    db = Database(url)
    queue = SqlJobQueue(db)

    async def handler(job: Job) -> None:
        if mode == "hang":
            await asyncio.Event().wait()

    runner = JobRunner(
        queue, {"crash-test": handler}, batch_size=50, lease_seconds=2, concurrency=50
    )
    if mode == "hang":
        await runner.step()
    else:
        while (await queue.counts())["done"] < int(sys.argv[3]):
            if not await runner.step():
                await asyncio.sleep(0.2)
    await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
