"""A node's services, opened once per process and shared by web and worker code.

``bocage serve`` and ``bocage worker`` both open a :class:`Node`: the same
database, job queue and job handlers, so a job enqueued by one process can run
in any other.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from node.config import Config
from node.identity import NodeKeys, load_keys
from storage.database import Database, StorageError, redact_url
from storage.jobs import Job, SqlJobQueue
from storage.migrate import migrate
from storage.worker import Handler, JobRunner
from storage.writer import GroupCommitWriter

log = logging.getLogger("bocage.node")

PRUNE_QUEUE = "maintenance.prune"


@dataclass(eq=False)
class Node:
    """Everything one node process holds open."""

    config: Config
    db: Database
    jobs: SqlJobQueue
    writer: GroupCommitWriter
    keys: NodeKeys
    handlers: dict[str, Handler] = field(default_factory=dict)

    def runner(self, *, concurrency: int | None = None) -> JobRunner:
        """A job runner over this node's handlers, sized by the configuration."""
        worker = self.config.worker
        return JobRunner(
            self.jobs,
            self.handlers,
            concurrency=concurrency or worker.concurrency,
            batch_size=worker.batch_size,
            lease_seconds=worker.lease_seconds,
            poll_interval=worker.poll_interval,
        )


@contextlib.asynccontextmanager
async def open_node(config: Config) -> AsyncIterator[Node]:
    """Open the database (migrating it on first start), the writer and the keys."""
    keys = load_keys(config)
    db = Database(config.database.url)
    try:
        await migrate(db)
    except StorageError:
        await db.close()
        raise
    log.info("database %s ready", redact_url(config.database.url))
    writer = GroupCommitWriter(db)
    writer.start()
    node = Node(config, db, SqlJobQueue(db), writer, keys)
    node.handlers[PRUNE_QUEUE] = _prune_handler(node)
    try:
        yield node
    finally:
        # Commit what was submitted before letting go of the database.
        await writer.close()
        await db.close()


async def schedule_maintenance(node: Node) -> None:
    """Queue today's clean-up of finished jobs, once per day whoever asks first."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    await node.jobs.enqueue(PRUNE_QUEUE, {"keep_days": 7}, dedupe_key=f"prune:{today}")


def _prune_handler(node: Node) -> Handler:
    async def prune(job: Job) -> None:
        days = float(job.payload.get("keep_days", 7))
        removed = await node.jobs.prune(older_than=job.created_at - days * 86400)
        log.info("pruned %d finished jobs older than %.0f days", removed, days)

    return prune
