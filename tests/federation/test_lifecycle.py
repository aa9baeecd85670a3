"""Three nodes: publications reach every follower; undo, delete and rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from protocol.httpsig import Scheme
from protocol.keys import generate_rsa
from storage.tables import follows, remote_keys, remote_objects
from tests.federation.fake_peer import FakePeer
from tests.federation.harness import RunningNode, eventually, running_nodes

AS = {"Accept": "application/activity+json"}


async def scalar(node: RunningNode, stmt: Any) -> Any:
    async with node.node.db.read() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers=headers or AS) as response,
    ):
        if response.content_type.endswith("json"):
            return response.status, await response.json(content_type=None)
        return response.status, await response.text()


def has_object(node: RunningNode, object_id: str) -> Any:
    async def check() -> bool:
        stmt = (
            select(func.count())
            .select_from(remote_objects)
            .where(remote_objects.c.id == object_id)
        )
        return bool(await scalar(node, stmt))

    return check


async def test_publication_reaches_every_follower_then_is_deleted(
    tmp_path: Path,
) -> None:
    async with running_nodes(tmp_path, 3) as (a, b, c):
        for follower in (b, c):
            await follower.node.federation.outbox.follow(
                follower.config.node.username, a.actor()
            )

        async def two_followers() -> bool:
            stmt = (
                select(func.count())
                .select_from(follows)
                .where(follows.c.followee == a.actor(), follows.c.state == "accepted")
            )
            return await scalar(a, stmt) == 2

        await eventually(two_followers, what="B and C follow A")

        outbox = a.node.federation.outbox
        created = await outbox.create_note(a.config.node.username, "<p>Open data!</p>")
        note_id = created["object"]["id"]
        await eventually(has_object(b, note_id), what="note on B")
        await eventually(has_object(c, note_id), what="note on C")

        status, document = await get(note_id)
        assert status == 200 and document["content"] == "<p>Open data!</p>"
        status, page = await get(f"{a.actor()}/outbox?page=1")
        assert [item["object"]["id"] for item in page["orderedItems"]] == [note_id]
        status, collection = await get(f"{a.actor()}/followers")
        assert collection["totalItems"] == 2

        await outbox.delete_object(a.config.node.username, note_id)
        status, tombstone = await get(note_id)
        assert status == 410 and tombstone["type"] == "Tombstone"

        async def gone_from_b() -> bool:
            return not await has_object(b, note_id)()

        await eventually(gone_from_b, what="Delete reaches B")

        # C stops following A: A forgets C, and C no longer receives A's posts.
        await c.node.federation.outbox.unfollow(c.config.node.username, a.actor())

        async def one_follower() -> bool:
            stmt = (
                select(func.count())
                .select_from(follows)
                .where(follows.c.followee == a.actor())
            )
            return await scalar(a, stmt) == 1

        await eventually(one_follower, what="Undo(Follow) reaches A")
        later = await outbox.create_note(a.config.node.username, "<p>Only B</p>")
        await eventually(has_object(b, later["object"]["id"]), what="note on B")
        assert not await has_object(c, later["object"]["id"])()


async def test_manual_approval(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        username = a.config.node.username
        await a.node.federation.set_manual_approval(username, True)
        await b.node.federation.outbox.follow(b.config.node.username, a.actor())

        def state_on(node: RunningNode) -> Any:
            async def check() -> Any:
                stmt = select(follows.c.state).where(follows.c.follower == b.actor())
                async with node.node.db.read() as conn:
                    return (await conn.execute(stmt)).scalar_one_or_none()

            return check

        async def pending() -> bool:
            return await state_on(a)() == "pending"

        await eventually(pending, what="Follow stored as pending on A")
        assert await state_on(b)() == "pending"
        assert await a.node.federation.processor.decide_follow(
            username, b.actor(), accept=False
        )

        async def rejected() -> bool:
            return await state_on(b)() == "rejected"

        await eventually(rejected, what="Reject reaches B")


async def test_key_rotation_and_actor_deletion(tmp_path: Path) -> None:
    peer = FakePeer()
    alice = peer.add("alice")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            inbox = f"{node.origin}/inbox"

            async def send(activity: dict[str, Any], **kw: Any) -> int:
                body, headers = alice.signed_post(inbox, activity, **kw)
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(inbox, data=body, headers=headers) as response,
                ):
                    return response.status

            def note(n: str) -> dict[str, Any]:
                return {
                    "id": f"{alice.id}/a/{n}",
                    "type": "Create",
                    "actor": alice.id,
                    "object": {"id": f"{alice.id}/n/{n}", "type": "Note"},
                }

            assert await send(note("1")) == 202
            # As if our copy of alice were older than the refetch guard.
            node.node.federation.inbox.refetch_after = 0
            old_key = alice.rsa
            alice.rsa = generate_rsa()
            update = {
                "id": f"{alice.id}/a/update",
                "type": "Update",
                "actor": alice.id,
                "object": alice.document(),
            }
            assert await send(update) == 202

            async def rotated() -> bool:
                stmt = select(remote_keys.c.public_pem).where(
                    remote_keys.c.key_id == alice.key_id
                )
                pem = await scalar(node, stmt)
                return "BEGIN PUBLIC KEY" in pem and await send(note("2")) == 202

            await eventually(rotated, what="Update(actor) rotates the key")
            assert await send(note("3"), key=old_key) == 401

            delete = {
                "id": f"{alice.id}/a/delete",
                "type": "Delete",
                "actor": alice.id,
                "object": alice.id,
            }
            assert await send(delete, scheme=Scheme.CAVAGE) == 202

            async def forgotten() -> bool:
                stmt = select(func.count()).select_from(remote_keys)
                return await scalar(node, stmt) == 0

            await eventually(forgotten, what="Delete(actor) removes the keys")
    finally:
        await peer.stop()
