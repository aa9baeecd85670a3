"""A node's services, opened once per process and shared by web and worker code.

``bocage serve`` and ``bocage worker`` both open a :class:`Node`: the same
database, job queue and job handlers, so a job enqueued by one process can run
in any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from federation.context import Federation
from federation.http import HttpClient, HttpPolicy
from federation.service import FederationService, default_actors
from node.config import Config
from node.identity import NodeKeys, load_keys
from node.tokens import Tokens
from storage.database import Database, StorageError, redact_url
from storage.jobs import Job, SqlJobQueue
from storage.migrate import migrate
from storage.worker import Handler, JobRunner
from storage.writer import GroupCommitWriter

if TYPE_CHECKING:
    from node.catalogue import Catalogue
    from node.charter import Charter
    from node.contracts import Contracts, Meter
    from node.decisions import DecisionLog
    from node.enforcement import Enforcer
    from node.governance import Membership
    from node.moderation import Moderation
    from node.proposals import Proposals

log = logging.getLogger("bocage.node")

PRUNE_QUEUE = "maintenance.prune"
VERSION = "0.1.0"


@dataclass(eq=False)
class Node:
    """Everything one node process holds open."""

    config: Config
    db: Database
    jobs: SqlJobQueue
    writer: GroupCommitWriter
    keys: NodeKeys
    federation: FederationService
    tokens: Tokens
    handlers: dict[str, Handler] = field(default_factory=dict)
    catalogue: Catalogue = field(init=False)
    contracts: Contracts = field(init=False)
    meter: Meter = field(init=False)
    enforcer: Enforcer = field(init=False)
    decisions: DecisionLog = field(init=False)
    membership: Membership = field(init=False)
    charter: Charter = field(init=False)
    moderation: Moderation = field(init=False)
    proposals: Proposals = field(init=False)
    # Queues of periodic jobs → their period in seconds (see every()).
    periodic: dict[str, float] = field(default_factory=dict)

    def runner(self, *, concurrency: int | None = None) -> JobRunner:
        """A job runner over this node's handlers, sized by the configuration."""
        worker = self.config.worker
        runner = JobRunner(
            self.jobs,
            self.handlers,
            concurrency=concurrency or worker.concurrency,
            batch_size=worker.batch_size,
            lease_seconds=worker.lease_seconds,
            poll_interval=worker.poll_interval,
        )
        # Local enqueues (publications, received activities) wake it at once.
        self.federation.fed.wake_worker.append(runner.wake)
        return runner


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
    jobs = SqlJobQueue(db)
    client = HttpClient(
        HttpPolicy(
            allow_private_hosts=frozenset(config.federation.allow_private_hosts),
            resolve_overrides=config.federation.overrides(),
            timeout=config.federation.fetch_timeout,
            user_agent=f"Bocage/{VERSION} (+{config.origin}/)",
        )
    )
    fed = Federation(
        origin=config.origin,
        domain=config.node.domain,
        db=db,
        jobs=jobs,
        writer=writer,
        client=client,
        rsa_key=keys.rsa,
        ed25519_key=keys.ed25519,
        node_username=config.node.username,
        blocked_domains=frozenset(config.federation.blocked_domains),
        software_version=VERSION,
    )
    service = FederationService(fed)
    service.outbox.language = config.node.language  # contentMap's key
    node = Node(config, db, jobs, writer, keys, service, Tokens(db, writer))
    try:
        await service.ensure_actors(
            default_actors(
                config.node.username,
                config.node.actor_type,
                config.node.name,
                config.node.summary,
            )
        )
        node.handlers.update(service.handlers())
        node.handlers[PRUNE_QUEUE] = _prune_handler(node)
        _open_catalogue(node)
        _open_contracts(node)
        ticker = asyncio.create_task(_tick(node), name="periodic-jobs")
        try:
            yield node
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await node.meter.close()
    finally:
        # Commit what was submitted before letting go of the database.
        await client.close()
        await writer.close()
        await db.close()


def _open_catalogue(node: Node) -> None:
    # Imported here: the catalogue module needs Node itself.
    from node.catalogue import BACKFILL_QUEUE, RECORD_TYPES, Catalogue  # noqa: PLC0415

    catalogue = Catalogue(node)
    node.catalogue = catalogue
    processor = node.federation.processor
    for name in RECORD_TYPES:
        processor.object_handlers[name] = catalogue.on_record
    processor.delete_handlers.append(catalogue.on_delete)
    processor.accepted_handlers.append(catalogue.on_accepted)
    node.handlers[BACKFILL_QUEUE] = catalogue.backfill


def _open_contracts(node: Node) -> None:
    from node.charter import Charter  # noqa: PLC0415
    from node.contracts import Contracts, Meter  # noqa: PLC0415 - needs Node
    from node.decisions import DecisionLog  # noqa: PLC0415
    from node.enforcement import Enforcer  # noqa: PLC0415
    from node.governance import Membership  # noqa: PLC0415
    from node.moderation import Moderation  # noqa: PLC0415
    from node.proposals import CLOSE_QUEUE, RESULTS_QUEUE, Proposals  # noqa: PLC0415

    node.decisions = DecisionLog(node)
    node.membership = Membership(node)
    node.charter = Charter(node)
    node.moderation = Moderation(node)
    node.proposals = Proposals(node)
    node.contracts = Contracts(node)
    node.meter = Meter(node)
    node.enforcer = Enforcer(node, node.contracts, node.meter)
    node.meter.start()
    processor = node.federation.processor
    processor.handlers["Offer"] = node.contracts.on_offer
    processor.handlers["Join"] = node.membership.on_join
    processor.handlers["Leave"] = node.membership.on_leave
    processor.handlers["Flag"] = node.moderation.on_flag
    processor.object_handlers["Note"] = node.proposals.on_note
    # Pleroma and Akkoma send a poll vote as an Answer (INTEROP.md, "Polls").
    processor.object_handlers["Answer"] = node.proposals.on_note
    node.handlers[CLOSE_QUEUE] = node.proposals.close_job
    node.handlers[RESULTS_QUEUE] = node.proposals.results_job
    _open_follow_ups(node)
    processor.answer_handlers.append(node.membership.on_answer)
    processor.answer_handlers.append(node.contracts.on_answer)
    processor.delete_handlers.append(node.contracts.on_delete)


def _open_follow_ups(node: Node) -> None:
    # Mirrors of followed nodes' logs, and the moderation queue's follow-ups.
    from node.decisions import MIRROR_EVERY, MIRROR_QUEUE, MIRROR_ROUND_QUEUE  # noqa: PLC0415
    from node.moderation import NOTICE_QUEUE, REMIND_EVERY, REMIND_QUEUE  # noqa: PLC0415

    processor = node.federation.processor
    mirrors, moderation = node.decisions.mirrors, node.moderation
    # Replies to our moderation notices first (appeals), then votes and the rest.
    processor.object_handlers["Note"] = moderation.replies_then(
        processor.object_handlers["Note"]
    )
    processor.accepted_handlers.append(mirrors.on_accepted)
    node.handlers[MIRROR_QUEUE] = mirrors.job
    node.handlers[NOTICE_QUEUE] = moderation.notice_job
    every(node, MIRROR_ROUND_QUEUE, MIRROR_EVERY, mirrors.round)
    every(node, REMIND_QUEUE, REMIND_EVERY, moderation.remind)


def every(
    node: Node, queue: str, period: float, step: Callable[[], Awaitable[object]]
) -> None:
    """Run ``step`` every ``period`` seconds of the wall clock, as a durable job.

    At each multiple of ``period`` every open node process queues the job of
    that time slot (:func:`queue_periodic`); the slot is its dedupe key, so
    it runs once however many processes are open, a failing run is retried
    by the queue, and an outage does not replay the slots it missed.
    """

    async def run(job: Job) -> None:
        await step()

    node.handlers[queue] = run
    node.periodic[queue] = period


async def queue_periodic(node: Node, now: float) -> int:
    """Queue the periodic jobs of the time slots ``now`` falls in; how many were new."""
    queued = 0
    for queue, period in node.periodic.items():
        slot = int(now // period)
        queued += await node.jobs.enqueue(
            queue, {"slot": slot}, dedupe_key=f"slot {slot}"
        )
    return queued


async def _tick(node: Node) -> None:
    # Sleeps until the next slot boundary of any periodic job, then queues
    # the jobs due (waking a little early still counts as the new slot).
    # Nothing is queued at start-up: a process starting mid-slot leaves the
    # round to the next boundary, at most one period away, so starting and
    # stopping processes never adds work.
    while node.periodic:
        now = time.time()
        wake = min((now // p + 1) * p for p in node.periodic.values())
        await asyncio.sleep(wake - now)
        try:
            await queue_periodic(node, max(time.time(), wake))
        except StorageError as exc:
            log.warning("periodic jobs not queued (%s); the next slot retries", exc)


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
