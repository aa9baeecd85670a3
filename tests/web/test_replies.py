"""Replies from the fediverse on our pages: sanitised, and gone once hidden."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from node.demo import publish_demo_records
from tests.federation.fake_peer import FakePeer
from tests.federation.harness import eventually, running_nodes
from tests.web.conftest import HTML


async def test_a_reply_shows_sanitised_and_a_hide_decision_removes_it(
    tmp_path: Path,
) -> None:
    peer = FakePeer()
    alice = peer.add("alice")
    reporter = peer.add("instance")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            await publish_demo_records(node.node, "metropole")
            dataset = f"{node.origin}/datasets/arceaux-velo"
            reply_id = f"{alice.id}/statuses/1"
            reply = {
                "id": f"{reply_id}/activity",
                "type": "Create",
                "actor": alice.id,
                "object": {
                    "id": reply_id,
                    "type": "Note",
                    "attributedTo": alice.id,
                    "inReplyTo": dataset,
                    "content": '<p>Merci ! <a href="javascript:alert(1)" '
                    'onclick="steal()">ici</a><script>alert(2)</script>'
                    '<span class="invisible">https://</span>arceaux.example</p>',
                    "published": "2026-12-03T10:00:00Z",
                    "to": ["https://www.w3.org/ns/activitystreams#Public"],
                },
            }
            async with aiohttp.ClientSession() as http:
                for activity in (reply,):
                    body, headers = alice.signed_post(f"{node.origin}/inbox", activity)
                    async with http.post(
                        f"{node.origin}/inbox", data=body, headers=headers
                    ) as response:
                        assert response.status == 202

                async def page() -> str:
                    async with http.get(dataset, headers=HTML) as response:
                        return await response.text()

                async def shown() -> bool:
                    return "Merci !" in await page()

                await eventually(shown, what="the reply on the dataset page")
                text = await page()
                assert "@alice@127.0.0.1" in text
                assert "<script" not in text and "onclick" not in text
                assert "javascript:" not in text
                assert '<span class="invisible">https://</span>' in text

                # A moderator hides it after a report: the page leaves it out.
                flag = {
                    "id": f"{reporter.id}/flags/1",
                    "type": "Flag",
                    "actor": reporter.id,
                    "object": [alice.id, reply_id],
                    "content": "Hors sujet",
                }
                body, headers = reporter.signed_post(f"{node.origin}/inbox", flag)
                async with http.post(
                    f"{node.origin}/inbox", data=body, headers=headers
                ) as response:
                    assert response.status == 202
                moderation = node.node.moderation

                async def queued() -> bool:
                    return len(await moderation.list("open")) == 1

                await eventually(queued, what="the report")
                (report,) = await moderation.list("open")
                await moderation.decide(
                    report["id"], "hide", reason="off topic", by="mod"
                )
                assert "Merci !" not in await page()
                assert "Pas encore de réponse." in await page()  # node speaks fr
    finally:
        await peer.stop()
