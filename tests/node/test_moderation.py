"""Reports: a Mastodon-shaped Flag, a decision, an appeal heard by someone else."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from node.moderation import APPEAL_WITHIN, ModerationError
from tests.federation.fake_peer import FakePeer
from tests.federation.harness import eventually, running_nodes


async def test_flag_decision_appeal(tmp_path: Path) -> None:
    peer = FakePeer()
    reporter = peer.add("instance")
    member = peer.add("bob")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            moderation = node.node.moderation
            membership = node.node.membership
            # bob is a member (admitted after asking to join).
            await membership._save(member.id, "requested", f"{member.id}/join/1")
            await membership.admit(member.id, college="citizens")

            # A report as Mastodon sends it: from its instance actor, the
            # account and a status as object, the comment as content.
            flag = {
                "id": f"{reporter.id}/flags/1",
                "type": "Flag",
                "actor": reporter.id,
                "object": [member.id, f"{member.id}/statuses/9"],
                "content": "Spam répété dans les réponses",
            }
            inbox = f"{node.origin}/inbox"
            body, headers = reporter.signed_post(inbox, flag)
            async with (
                aiohttp.ClientSession() as http,
                http.post(inbox, data=body, headers=headers) as response,
            ):
                assert response.status == 202

            async def queued() -> bool:
                return len(await moderation.list("open")) == 1

            await eventually(queued, what="the report reaches the queue")
            (report,) = await moderation.list("open")
            assert report["targets"] == [member.id, f"{member.id}/statuses/9"]
            assert report["comment"] == "Spam répété dans les réponses"

            await moderation.decide(
                report["id"], "suspend", by="camille", reason="spam"
            )
            assert (await membership.get(member.id) or {})["state"] == "suspended"

            await moderation.appeal(report["id"], reason="mon compte était piraté")
            with pytest.raises(ModerationError, match="someone other"):
                await moderation.hear(report["id"], "dismiss", by="camille", reason="")
            await moderation.hear(
                report["id"], "warn", by="dominique", reason="piratage établi"
            )
            (final,) = await moderation.list("final")
            assert (final["decision"], final["final_decision"]) == ("suspend", "warn")

            log = [e async for e in _log(node.origin)]
            assert [e["kind"] for e in log] == [
                "membership.admit",
                "membership.suspend",
                "moderation.decide",
                "moderation.appeal",
            ]

            # An appeal after the deadline is refused.
            body, headers = reporter.signed_post(
                inbox, {**flag, "id": f"{reporter.id}/flags/2"}
            )
            async with (
                aiohttp.ClientSession() as http,
                http.post(inbox, data=body, headers=headers) as response,
            ):
                assert response.status == 202

            async def second() -> bool:
                return len(await moderation.list("open")) == 1

            await eventually(second, what="the second report")
            (late,) = await moderation.list("open")
            await moderation.decide(late["id"], "dismiss", by="camille", reason="")
            moderation.clock = lambda: late["received_at"] + APPEAL_WITHIN + 60
            with pytest.raises(ModerationError, match="appeal period"):
                await moderation.appeal(late["id"], reason="trop tard")
    finally:
        await peer.stop()


async def _log(origin: str):  # type: ignore[no-untyped-def]
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{origin}/log?page=1", headers={"Accept": "application/activity+json"}
        ) as r,
    ):
        for entry in (await r.json(content_type=None))["orderedItems"]:
            yield entry
