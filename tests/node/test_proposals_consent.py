"""Consent: objections come as replies with their reason, and are published."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from protocol.tally import verify_tally
from storage.tables import remote_objects
from tests.federation.harness import eventually
from tests.node.test_proposals import (
    community,
    mastodon_vote,
    post,
    processed,
    reply,
    told,
)


async def test_objection_with_a_reason_counts_and_is_published(
    tmp_path: Path,
) -> None:
    members = {"alice": "citizens", "bob": "citizens", "carol": "citizens"}
    async with community(tmp_path, members) as (node, peer, actors):
        alice, bob, carol = actors["alice"], actors["bob"], actors["carol"]
        proposals = node.node.proposals
        seq = await proposals.open(
            "Fermer la rue de l'école aux voitures le matin ?",
            "De 8 h à 9 h, les jours d'école.",
            rule="consent",
        )
        iri = proposals.iri(seq)
        shown = await proposals.document(seq)
        assert shown["type"] == "Question"
        assert "objection:" in shown["content"]

        # alice votes "object" in the poll (no reason: refused), then says why.
        await post(node, alice, mastodon_vote(alice, iri, "object", 1))
        await processed(node)
        await post(
            node,
            alice,
            reply(
                alice, iri,
                "<p>@node Objection : les livraisons du marché passent à 8 h 30."
                "</p>",
                2,
            ),
        )  # fmt: skip
        # bob consents, then objects: his first valid ballot stands.
        await post(node, bob, mastodon_vote(bob, iri, "consent", 3))
        await processed(node)
        await post(node, bob, reply(bob, iri, "<p>J’objecte, finalement.</p>", 4))
        # carol comments: not a ballot, kept like any Note.
        await post(node, carol, reply(carol, iri, "<p>Bonne idée !</p>", 5))
        await processed(node)

        live = await proposals.live(seq)
        assert live["counts"] == {"consent": 1, "object": 1, "abstain": 0}
        assert live["objections"] == [
            {"voter": alice.id, "reason": "les livraisons du marché passent à 8 h 30."}
        ]
        async with node.node.db.read() as conn:
            kept = (
                await conn.execute(
                    select(remote_objects.c.id).where(
                        remote_objects.c.actor == carol.id
                    )
                )
            ).scalars()
            assert list(kept) == [f"{carol.id}/statuses/5"]

        async def receipts() -> bool:
            return told(peer, alice, "objection is recorded") and told(
                peer, bob, "you already voted"
            )

        await eventually(receipts, what="objectors are told how it went")

        document = await proposals.close(seq)
        result = document["result"]
        assert result["outcome"] == "rejected"
        ballots = document["ballots"]
        objections = [
            (ballots[o["index"]]["voter"], o["reason"]) for o in result["objections"]
        ]
        assert objections == [(alice.id, "les livraisons du marché passent à 8 h 30.")]
        refused = sorted(
            (ballots[r["index"]]["voter"], r["reason"]) for r in result["refused"]
        )
        assert refused == sorted([(alice.id, "malformed"), (bob.id, "duplicate")])
        assert verify_tally(document).ok


async def test_consent_without_objection_is_adopted(tmp_path: Path) -> None:
    async with community(tmp_path, {"alice": "citizens"}) as (node, _, actors):
        alice = actors["alice"]
        proposals = node.node.proposals
        seq = await proposals.open("Un banc devant la mairie ?", "", rule="consent")
        iri = proposals.iri(seq)
        # An objection with no reason is refused, and says so.
        await post(node, alice, reply(alice, iri, "<p>Objection.</p>", 1))
        await processed(node)
        assert (await proposals.live(seq))["voters"] == 0
        document = await proposals.close(seq)
        assert document["result"]["outcome"] == "adopted"
        assert [r["reason"] for r in document["result"]["refused"]] == ["malformed"]
