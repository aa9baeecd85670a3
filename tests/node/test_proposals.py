"""Proposals voted from fediverse accounts, tallied, published and verifiable."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from storage.tables import jobs
from tests.federation.fake_peer import FakeActor, FakePeer
from tests.federation.harness import RunningNode, eventually, running_nodes
from tests.processes import run_cli


def mastodon_vote(
    voter: FakeActor, question: str, option: str, n: int
) -> dict[str, Any]:
    """A vote exactly as Mastodon sends it: ids are fragments of the voter's URL."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{voter.id}#votes/{n}/activity",
        "type": "Create",
        "actor": voter.id,
        "to": question.split("/proposals/", maxsplit=1)[0] + "/actors/node",
        "object": {
            "id": f"{voter.id}#votes/{n}",
            "type": "Note",
            "name": option,
            "attributedTo": voter.id,
            "inReplyTo": question,
            "to": question.split("/proposals/", maxsplit=1)[0] + "/actors/node",
        },
    }


async def post(node: RunningNode, voter: FakeActor, activity: dict[str, Any]) -> None:
    inbox = f"{node.origin}/actors/node/inbox"
    body, headers = voter.signed_post(inbox, activity)
    async with (
        aiohttp.ClientSession() as http,
        http.post(inbox, data=body, headers=headers) as response,
    ):
        assert response.status == 202, await response.text()


async def test_votes_tally_and_exclusion(tmp_path: Path) -> None:
    peer = FakePeer()
    alice, bob, carol = (peer.add(n) for n in ("alice", "bob", "carol"))
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            membership = node.node.membership
            for member in (alice, bob):
                await membership._save(member.id, "requested", f"{member.id}/join")
                await membership.admit(member.id, college="citizens")
            proposals = node.node.proposals
            seq = await proposals.open(
                "Ouvrir les données de consommation d'eau ?", "Texte.",
                rule="majority", quorum=Fraction(1, 2),
            )  # fmt: skip
            question = proposals.iri(seq)

            await post(node, alice, mastodon_vote(alice, question, "yes", 1))
            await post(node, bob, mastodon_vote(bob, question, "no", 2))
            await post(node, bob, mastodon_vote(bob, question, "yes", 3))  # second vote
            await post(
                node, carol, mastodon_vote(carol, question, "yes", 4)
            )  # not a member

            async def received() -> bool:
                async with node.node.db.read() as conn:
                    waiting = (
                        await conn.execute(
                            select(func.count())
                            .select_from(jobs)
                            .where(jobs.c.queue == "inbox", jobs.c.state != "done")
                        )
                    ).scalar_one()
                return waiting == 0

            await eventually(received, what="the votes are processed")
            shown = await proposals.question(seq)
            assert {o["name"]: o["replies"]["totalItems"] for o in shown["oneOf"]} == {
                "yes": 2, "no": 1, "abstain": 0,
            }  # fmt: skip

            document = await proposals.close(seq)
            result = document["result"]
            # alice yes, bob no (his first ballot); carol and bob's second refused.
            assert result["outcome"] == "rejected"
            reasons = sorted(r["reason"] for r in result["refused"])
            assert reasons == ["duplicate", "not-eligible"]

            url = f"{node.origin}/proposals/{seq}/tally"
            checked = await asyncio.to_thread(
                run_cli, "verify-tally", url, "--allow-private"
            )
            assert checked.returncode == 0, checked.stderr

            async def told() -> bool:
                return any(
                    a["type"] == "Update" and a["object"].get("closed")
                    for a in peer.received
                )

            await eventually(told, what="voters receive Update(Question)")

            # bob is excluded: he cannot vote on the next proposal.
            await membership.exclude(bob.id, reason="fraude")
            second = await proposals.open("Deuxième question ?", "Texte.")
            await post(node, bob, mastodon_vote(bob, proposals.iri(second), "yes", 5))
            await post(
                node, alice, mastodon_vote(alice, proposals.iri(second), "yes", 6)
            )
            await eventually(received, what="the votes are processed")
            later = await proposals.close(second)
            assert later["result"]["outcome"] == "adopted"
            assert [r["reason"] for r in later["result"]["refused"]] == ["not-eligible"]
    finally:
        await peer.stop()
