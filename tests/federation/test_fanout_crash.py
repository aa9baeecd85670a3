"""A worker SIGKILLed mid-fan-out: every recipient still gets the activity.

One Create goes to 1,000 followers on 1,000 hosts (every host name resolves to
the sink in this process).  A real ``bocage worker`` is killed while a batch of
deliveries is in flight; a second one, started at once, finishes the fan-out
and, once their leases expire, sends the killed batch again.  Only that batch
may reach its inboxes twice.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from federation.context import DELIVER_QUEUE
from node.services import open_node
from storage.database import Database
from storage.jobs import DONE, PENDING, RUNNING
from storage.tables import jobs
from tests.conftest import free_port, make_config
from tests.federation.harness import eventually
from tests.federation.sink import (
    InboxSink,
    add_followers,
    host_names,
    resolve_overrides,
)
from tests.processes import spawn, stop

HOSTS = 1000
BATCH = 50
KILL_AFTER = 300  # deliveries answered before the kill


async def _deliveries(db: Database) -> dict[str, int]:
    stmt = (
        select(jobs.c.state, func.count())
        .where(jobs.c.queue == DELIVER_QUEUE)
        .group_by(jobs.c.state)
    )
    async with db.read() as conn:
        return {row[0]: int(row[1]) for row in await conn.execute(stmt)}


async def _attempts(db: Database) -> list[int]:
    stmt = select(jobs.c.attempts).where(jobs.c.queue == DELIVER_QUEUE)
    async with db.read() as conn:
        return sorted((await conn.execute(stmt)).scalars())


@pytest.mark.slow
async def test_sigkilled_worker_mid_fanout_every_inbox_receives(
    tmp_path: Path,
) -> None:
    # 20 ms per answer keeps a batch in flight most of the time.
    sink = InboxSink(delay=0.02)
    port = await sink.start()
    names = host_names(HOSTS)
    env = {
        "BOCAGE_FEDERATION_RESOLVE_OVERRIDES": resolve_overrides(names),
        "BOCAGE_WORKER_LEASE_SECONDS": "2",
        "BOCAGE_WORKER_BATCH_SIZE": str(BATCH),
        "BOCAGE_WORKER_POLL_INTERVAL": "0.1",
        # One INFO line per request would fill the unread pipe and stall it.
        "BOCAGE_LOG_LEVEL": "WARNING",
    }
    folder = tmp_path / "node"
    config = make_config(
        folder,
        f"sqlite+aiosqlite:///{folder / 'bocage.sqlite'}",
        port=free_port(),
        extra_env=env,
    )
    async with open_node(config) as node:
        username = config.node.username
        actor = node.federation.fed.actor_iri(username)
        await add_followers(node.db, actor, names, port=port)
        activity = await node.federation.outbox.create_note(username, "<p>Hi</p>")
    assert activity["type"] == "Create"

    db = Database(config.database.url)
    args = ("worker", "-c", str(folder / "bocage.toml"))
    doomed = survivor = None
    try:
        assert await _deliveries(db) == {PENDING: HOSTS}
        doomed = await spawn(*args, env=env)

        # Kill while the sink holds requests: their batch is not recorded yet.
        async def mid_batch() -> bool:
            return sink.total >= KILL_AFTER and sink.in_flight > 0

        await eventually(mid_batch, within=20, what=f"{KILL_AFTER} deliveries")
        os.kill(doomed.pid, signal.SIGKILL)
        assert await doomed.wait() == -signal.SIGKILL
        received_before = sink.total
        leased = (await _deliveries(db)).get(RUNNING, 0)
        assert 0 < leased <= BATCH
        assert received_before < HOSTS

        survivor = await spawn(*args, env=env)

        async def all_done() -> bool:
            return (await _deliveries(db)).get(DONE, 0) == HOSTS

        await eventually(all_done, within=25, what="every delivery job done")
        attempts = await _attempts(db)
        final = await _deliveries(db)
    finally:
        for process in (doomed, survivor):
            if process is not None:
                await stop(process)
        await db.close()
        await sink.close()

    assert final == {DONE: HOSTS}
    # The killed worker's batch ran a second time, every other job once.
    assert attempts == [1] * (HOSTS - leased) + [2] * leased
    assert set(sink.by_host) == set(names)
    # Only deliveries of that batch can have been sent twice.
    assert sink.duplicates <= leased <= BATCH
