"""Two and three Bocage nodes on loopback: follow, accept, publish, deliver."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from storage.tables import follows, remote_objects
from tests.federation.harness import RunningNode, eventually, running_nodes


async def _count(node: RunningNode, stmt: object) -> int:
    async with node.node.db.read() as conn:
        return int((await conn.execute(stmt)).scalar_one())  # type: ignore[call-overload]


async def test_follow_accept_then_create_arrives(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        username = a.config.node.username
        await a.node.federation.outbox.follow(username, b.actor())

        accepted = (
            select(func.count())
            .select_from(follows)
            .where(follows.c.follower == a.actor(), follows.c.state == "accepted")
        )

        async def a_follows_b() -> bool:
            return await _count(a, accepted) == 1

        await eventually(a_follows_b, what="B's Accept reaches A")
        assert (
            await _count(
                b,
                select(func.count())
                .select_from(follows)
                .where(follows.c.followee == b.actor(), follows.c.state == "accepted"),
            )
            == 1
        )

        note = await b.node.federation.outbox.create_note(
            b.config.node.username, "<p>Hello from B</p>"
        )

        async def a_has_note() -> bool:
            stmt = (
                select(func.count())
                .select_from(remote_objects)
                .where(remote_objects.c.id == note["object"]["id"])
            )
            return await _count(a, stmt) == 1

        await eventually(a_has_note, what="B's Create reaches A")
