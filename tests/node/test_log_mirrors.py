"""Peers mirror each other's decision logs; verify-log compares a log with mirrors.

Real nodes on loopback: B follows A, so B mirrors A's log.  Then A's log is
tampered with in its database, in each of the ways a node could lie about
its past, and the mirror (or the comparison with it) must say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest
from sqlalchemy import delete, func, select, update

from node.decisions import MIRROR_EVERY, MIRROR_QUEUE, MIRROR_ROUND_QUEUE, log_iri_of
from node.moderation import REMIND_EVERY, REMIND_QUEUE
from node.services import queue_periodic
from storage.tables import (
    decision_checkpoints,
    decision_entries,
    follows,
    jobs,
    log_mirror_entries,
    log_mirror_forks,
    log_mirrors,
)
from tests.federation.fake_peer import FakePeer
from tests.federation.harness import RunningNode, eventually, running_nodes
from tests.processes import run_cli


async def get_json(url: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": "application/activity+json"}) as response,
    ):
        assert response.status == 200, url
        return orjson.loads(await response.read())


async def verify_log(*args: str) -> Any:
    return await asyncio.to_thread(run_cli, "verify-log", *args, "--allow-private")


async def append(node: RunningNode, count: int, label: str = "peer") -> None:
    for n in range(count):
        await node.node.decisions.append(
            "federation.follow.accept",
            f"https://{label}{n}.example/actors/node",
            {"actor": node.actor()},
        )


async def mirrored_size(node: RunningNode, origin: str) -> int:
    async with node.node.db.read() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(log_mirror_entries)
                    .where(log_mirror_entries.c.origin == origin)
                )
            ).scalar_one()
        )


async def follow(b: RunningNode, a: RunningNode) -> None:
    """B follows A, and A accepts."""
    await b.node.federation.outbox.follow(b.config.node.username, a.actor())

    async def accepted() -> bool:
        async with b.node.db.read() as conn:
            state = (
                await conn.execute(
                    select(follows.c.state).where(follows.c.followee == a.actor())
                )
            ).scalar_one_or_none()
        return state == "accepted"

    await eventually(accepted, what="A accepts B's follow")

    # The Accept queued a first sync of A's log: let it finish, so that the
    # syncs a test runs itself do not race it.
    async def synced() -> bool:
        async with b.node.db.read() as conn:
            states = list(
                (
                    await conn.execute(
                        select(jobs.c.state).where(jobs.c.queue == MIRROR_QUEUE)
                    )
                ).scalars()
            )
        return states == ["done"]

    await eventually(synced, what="the first sync of A's log")


def mirror_url(b: RunningNode, a: RunningNode) -> str:
    return f"{b.origin}/log/mirrors/{urlsplit(a.origin).netloc}"


async def test_mirror_job_then_verify_from_the_mirror(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        await follow(b, a)
        await append(a, 5)
        origin = log_iri_of(a.actor())
        assert origin == f"{a.origin}/log"

        # The periodic round queues one sync per followed node; B's worker runs it.
        assert await b.node.decisions.mirrors.round() == 1

        async def mirrored() -> bool:
            return await mirrored_size(b, origin) == 5

        await eventually(mirrored, what="B's mirror job copies A's log")
        listing = await get_json(f"{b.origin}/log/mirrors")
        (item,) = listing["orderedItems"]
        assert item["origin"] == origin and item["totalItems"] == 5
        assert item["latest"]["size"] == 5 and item["id"] == mirror_url(b, a)

        # verify-log reads the mirror as it reads a log, keys from A's actor.
        ok = await verify_log(mirror_url(b, a))
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("OK: 5 entries") and "latest covers 5" in ok.stdout

        # The origin compared with its mirror: consistent.
        both = await verify_log(f"{a.origin}/log", "--mirror", mirror_url(b, a))
        assert both.returncode == 0, both.stderr
        assert "mirror" in both.stdout and "holds 5 entries, consistent" in both.stdout

        # A decides twice more: B trails until its next round, which is normal…
        await append(a, 2, "later")
        trailing = await verify_log(f"{a.origin}/log", "--mirror", mirror_url(b, a))
        assert trailing.returncode == 0, trailing.stderr
        assert "trails the origin by 2 entries signed" in trailing.stdout
        # …unless it trails for longer than a mirror may.
        late = await verify_log(
            f"{a.origin}/log", "--mirror", mirror_url(b, a), "--max-lag", "0"
        )
        assert late.returncode == 1
        assert "withholding: it holds 5 entries, not the 7" in late.stderr

        # A second sync catches up; a third changes nothing.
        sync = await b.node.decisions.mirrors.sync(origin, a.actor())
        assert (sync.entries, sync.size, sync.evidence) == (2, 7, 0)
        again = await b.node.decisions.mirrors.sync(origin, a.actor())
        assert (again.entries, again.checkpoints, again.size) == (0, 0, 7)

        # Someone with database access rewrites a decision of A after the fact:
        # the mirror's checkpoints no longer match A's log.
        async with a.node.db.transaction() as conn:
            row = (
                await conn.execute(
                    decision_entries.select().where(decision_entries.c.idx == 2)
                )
            ).first()
            assert row is not None
            forged = {**row.document, "subject": "https://attacker.example/x"}
            await conn.execute(
                update(decision_entries)
                .where(decision_entries.c.idx == 2)
                .values(document=forged)
            )
        bad = await verify_log(f"{a.origin}/log", "--mirror", mirror_url(b, a))
        assert bad.returncode == 1
        assert "PROBLEM entry 2: hash-mismatch" in bad.stderr
        assert "checkpoint of size 7: inconsistent" in bad.stderr
        assert "checkpoint of size 3: inconsistent" in bad.stderr
        assert "checkpoint of size 2: inconsistent" not in bad.stderr  # before it
        # The mirror itself still holds the log as A signed it.
        still = await verify_log(mirror_url(b, a))
        assert still.returncode == 0, still.stderr


async def test_a_rewritten_log_is_kept_as_evidence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        await follow(b, a)
        await append(a, 3)
        origin = f"{a.origin}/log"
        mirrors = b.node.decisions.mirrors
        assert (await mirrors.sync(origin, a.actor())).size == 3

        # A rewrites its history with its own key: a validly signed fork.
        async with a.node.db.transaction() as conn:
            await conn.execute(delete(decision_entries))
            await conn.execute(delete(decision_checkpoints))
        await append(a, 4, "rewritten")

        with caplog.at_level(logging.WARNING, logger="bocage.node.decisions"):
            sync = await mirrors.sync(origin, a.actor())
        assert sync.evidence == 3 and sync.size == 3  # never overwritten
        assert "contradicts its mirrored log" in caplog.text
        async with b.node.db.read() as conn:
            kinds = list(
                (await conn.execute(select(log_mirror_forks.c.kind))).scalars()
            )
            last_error = (
                await conn.execute(select(log_mirrors.c.last_error))
            ).scalar_one()
        assert kinds == ["fork", "fork", "fork"]
        assert last_error is not None and last_error.startswith("fork:")
        # Recorded once: the next round finds nothing new to record.
        assert (await mirrors.sync(origin, a.actor())).evidence == 0

        # Both signed checkpoints of each size are served as evidence.
        forks = await get_json(f"{mirror_url(b, a)}/forks")
        first = forks["orderedItems"][0]
        assert first["held"]["size"] == first["presented"]["size"] == 1
        assert first["held"]["root"] != first["presented"]["root"]

        # The comparison shows it, and the mirror still verifies on its own.
        bad = await verify_log(origin, "--mirror", mirror_url(b, a))
        assert bad.returncode == 1
        assert "checkpoint of size 3: inconsistent" in bad.stderr
        assert "a fork of the origin, both documents signed by it" in bad.stderr
        kept = await verify_log(mirror_url(b, a))
        assert kept.returncode == 0 and "OK: 3 entries" in kept.stdout


async def test_an_origin_hiding_entries_it_showed_a_mirror(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        await follow(b, a)
        await append(a, 5)
        origin = f"{a.origin}/log"
        mirrors = b.node.decisions.mirrors
        assert (await mirrors.sync(origin, a.actor())).size == 5

        # A drops its two latest decisions, as if they had never been taken.
        async with a.node.db.transaction() as conn:
            await conn.execute(
                delete(decision_entries).where(decision_entries.c.idx >= 3)
            )
            await conn.execute(
                delete(decision_checkpoints).where(decision_checkpoints.c.size > 3)
            )
        alone = await verify_log(origin)
        assert alone.returncode == 0  # consistent with itself: only a mirror tells
        compared = await verify_log(origin, "--mirror", mirror_url(b, a))
        assert compared.returncode == 1
        assert (
            "checkpoint of size 5: beyond-entries: the origin signed 5 entries "
            "but serves 3" in compared.stderr
        )
        sync = await mirrors.sync(origin, a.actor())
        assert sync.evidence == 1 and sync.size == 5
        async with b.node.db.read() as conn:
            assert (
                await conn.execute(select(log_mirror_forks.c.kind))
            ).scalar_one() == "rollback"


async def test_a_mirror_verifies_when_its_origin_is_gone(tmp_path: Path) -> None:
    async with contextlib.AsyncExitStack() as b_stack:
        a_stack = contextlib.AsyncExitStack()
        (a,) = await a_stack.enter_async_context(running_nodes(tmp_path / "a", 1))
        (b,) = await b_stack.enter_async_context(running_nodes(tmp_path / "b", 1))
        try:
            await follow(b, a)
            await append(a, 4)
            sync = await b.node.decisions.mirrors.sync(f"{a.origin}/log", a.actor())
            assert sync.size == 4
        finally:
            await a_stack.aclose()

        # A is down: its keys come from B's copy, and the output says so.
        ok = await verify_log(mirror_url(b, a))
        assert ok.returncode == 0, ok.stderr
        assert "cannot be read" in ok.stdout and "taken from the mirrors' copies" in (
            ok.stdout
        )
        assert "OK: 4 entries" in ok.stdout
        # Reading A itself fails in one line; so does an unreachable mirror.
        gone = await verify_log(f"{a.origin}/log")
        assert gone.returncode == 2
        assert gone.stderr.startswith("bocage: error: cannot read the log:")
        assert len(gone.stderr.strip().splitlines()) == 1
        missing = await verify_log(
            mirror_url(b, a), "--mirror", "http://127.0.0.1:9/log/mirrors/x"
        )
        assert missing.returncode == 1
        assert "PROBLEM mirror http://127.0.0.1:9/log/mirrors/x: cannot read it" in (
            missing.stderr
        )
        assert "Traceback" not in missing.stderr


async def test_a_followed_server_without_a_log_is_not_mirrored(tmp_path: Path) -> None:
    peer = FakePeer()
    someone = peer.add("someone")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (b,):
            origin = log_iri_of(someone.id)
            sync = await b.node.decisions.mirrors.sync(origin, someone.id)
            assert (sync.entries, sync.size) == (0, 0)
            listing = await get_json(f"{b.origin}/log/mirrors")
            assert listing["orderedItems"] == []
    finally:
        await peer.stop()


async def test_rounds_are_periodic_durable_jobs(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (node,):

        async def rows() -> list[Any]:
            async with node.node.db.read() as conn:
                return list(
                    await conn.execute(
                        select(jobs.c.queue, jobs.c.state, jobs.c.dedupe_key)
                        .where(jobs.c.queue.in_([MIRROR_ROUND_QUEUE, REMIND_QUEUE]))
                        .order_by(jobs.c.id)
                    )
                )

        # Nothing waits between slots: a starting node adds no work.
        assert await rows() == []
        # At a slot boundary each process queues the slot's rounds; the slot
        # is the dedupe key, so a second process (or a second tick) adds none.
        boundary = 1_900_000_800.0
        assert boundary % MIRROR_EVERY == boundary % REMIND_EVERY == 0
        assert await queue_periodic(node.node, boundary) == 2
        assert await queue_periodic(node.node, boundary + 5) == 0

        async def ran() -> bool:
            return [r.state for r in await rows()] == ["done", "done"]

        await eventually(ran, what="the worker runs both rounds")
        slot = int(boundary // MIRROR_EVERY)
        assert {r.dedupe_key for r in await rows()} == {f"slot {slot}"}
        assert await queue_periodic(node.node, boundary + MIRROR_EVERY) == 2
