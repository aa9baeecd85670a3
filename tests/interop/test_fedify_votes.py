"""A real Fedify 2.3.6 peer joins a Bocage community and votes on its proposals.

Fedify fetches and parses the ``Question`` and votes as Mastodon does
(``Create(Note{name, inReplyTo, to})``, INTEROP.md "Polls"): the vote counts
once the peer is a member, a second vote from it does not, and the results
come back as ``Update(Question)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fedify_peer import FedifyPeer, running_peer

from tests.federation.harness import eventually, running_nodes
from tests.node.test_proposals import processed


@pytest.fixture(scope="module")
async def peer() -> AsyncIterator[FedifyPeer]:
    async with running_peer("bocage-votes") as fedify:
        yield fedify


async def test_a_fedify_member_votes_once(peer: FedifyPeer, tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (bocage,):
        node = bocage.node
        proposals, membership = node.proposals, node.membership
        # Opened before the peer is a member: its electorate does not have it.
        before = await proposals.open("Avant l'adhésion ?", "")

        # The peer asks to join; an administrator admits it.
        await peer.join(bocage.actor())

        async def requested() -> bool:
            current = await membership.get(peer.actor_url)
            return current is not None and current["state"] == "requested"

        await eventually(requested, what="Bocage records Fedify's Join")
        await membership.admit(peer.actor_url, college="habitants")
        await peer.wait_for(
            lambda a: a["type"] == "Accept" and a["actor"] == bocage.actor()
        )

        seq = await proposals.open(
            "Installer des bacs à compost au square ?", "Trois bacs, gérés par nous."
        )
        iri = proposals.iri(seq)
        sent = await peer.vote(iri, "yes")
        # Fedify read the Question as a poll with our options.
        assert sent["question"]["id"] == iri
        assert sent["question"]["options"] == ["yes", "no", "abstain"]

        async def counted() -> bool:
            return (await proposals.live(seq))["voters"] == 1

        await eventually(counted, what="Fedify's vote is counted")

        # A second vote from the same actor, and the first one again.
        await peer.vote(iri, "no")
        await peer.vote(iri, "yes")
        await peer.vote(proposals.iri(before), "no")
        await processed(bocage)

        live = await proposals.live(seq)
        assert live["counts"] == {"yes": 1, "no": 0, "abstain": 0}
        assert live["voters"] == 1
        assert (await proposals.live(before))["voters"] == 0

        document = await proposals.close(seq)
        result = document["result"]
        assert result["outcome"] == "adopted"
        assert [(b["voter"], b["choice"]) for b in document["ballots"]] == [
            (peer.actor_url, "yes"),
            (peer.actor_url, "no"),
        ]
        assert [r["reason"] for r in result["refused"]] == ["duplicate"]

        # The voter gets the results, and Fedify reads the closed poll.
        await peer.wait_for(
            lambda a: a["type"] == "Update" and (a["object"] or {}).get("id") == iri
        )
        closed = await peer.lookup(iri)
        assert closed is not None and closed["type"] == "Question"
        assert closed["object"]["votersCount"] == 1
        assert "closed" in closed["object"]
