"""Membership: join, admit, invite, leave, exclude — each decision in the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson

from protocol.records import decode_service
from tests.federation.fake_peer import FakePeer
from tests.federation.harness import RunningNode, eventually, running_nodes


async def get_json(url: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": "application/activity+json"}) as response,
    ):
        return orjson.loads(await response.read())


async def log_kinds(node: RunningNode) -> list[str]:
    page = await get_json(f"{node.origin}/log?page=1")
    return [entry["kind"] for entry in page["orderedItems"]]


async def test_membership_lifecycle(tmp_path: Path) -> None:
    peer = FakePeer()
    alice = peer.add("alice")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 2) as (a, b):
            membership = a.node.membership

            # B asks to join A; an administrator admits it into a college.
            await b.node.membership.join(a.actor())

            async def requested() -> bool:
                found = await membership.get(b.actor())
                return found is not None and found["state"] == "requested"

            await eventually(requested, what="B's Join reaches A")
            await membership.admit(b.actor(), college="territories")
            listed = await get_json(f"{a.origin}/members")
            assert listed["orderedItems"] == [
                {"actor": b.actor(), "role": "member", "college": "territories"}
            ]

            # A invites alice; she accepts; she is a member.
            await membership.invite(alice.id, college="citizens")

            async def invited() -> bool:
                return any(act["type"] == "Invite" for act in peer.received)

            await eventually(invited, what="the Invite reaches alice")
            invite = next(act for act in peer.received if act["type"] == "Invite")
            accept = {
                "id": f"{alice.id}/accepts/1",
                "type": "Accept",
                "actor": alice.id,
                "object": invite["id"],
            }
            await _post(a, alice, accept)

            async def joined() -> bool:
                return await membership.is_member(alice.id)

            await eventually(joined, what="alice's Accept makes her a member")

            # Alice leaves; B is excluded, for a recorded reason.
            leave = {
                "id": f"{alice.id}/leaves/1",
                "type": "Leave",
                "actor": alice.id,
                "object": a.actor(),
            }
            await _post(a, alice, leave)

            async def left() -> bool:
                found = await membership.get(alice.id)
                return found is not None and found["state"] == "left"

            await eventually(left, what="alice's Leave")
            index = await membership.exclude(b.actor(), reason="repeated abuse")
            excluded = await membership.get(b.actor())
            assert excluded is not None and excluded["state"] == "excluded"
            assert excluded["decision"] == index
            assert await log_kinds(a) == [
                "membership.admit",
                "membership.join",
                "membership.leave",
                "membership.exclude",
            ]

            # Excluded, B is no longer a member for the offers' auto-acceptance.
            data = {
                "slug": "members-api",
                "title": "Members' API",
                "description": "For members only.",
                "endpoint_url": f"{a.origin}/catalogue/search",
                "offer": {
                    "permissions": [{"action": "read"}],
                    "auto_accept": "members",
                },
            }
            await a.node.catalogue.put(decode_service(data))
            await b.node.contracts.request(f"{a.origin}/services/members-api")

            async def pending() -> bool:
                rows = await a.node.contracts.list("provider")
                return [r["state"] for r in rows] == ["requested"]

            await eventually(pending, what="B's request waits for a human")
    finally:
        await peer.stop()


async def _post(node: RunningNode, actor: Any, activity: dict[str, Any]) -> None:
    inbox = f"{node.origin}/inbox"
    body, headers = actor.signed_post(inbox, activity)
    async with (
        aiohttp.ClientSession() as http,
        http.post(inbox, data=body, headers=headers) as response,
    ):
        assert response.status == 202, await response.text()
