"""Proposals voted from fediverse accounts, tallied, published and verifiable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from storage.jobs import Job
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


def reply(
    voter: FakeActor, question: str, content: str, n: int, **extra: Any
) -> dict[str, Any]:
    """A reply to a proposal, as a Mastodon status (a real, fetchable id)."""
    node_actor = question.split("/proposals/", maxsplit=1)[0] + "/actors/node"
    note = {
        "id": f"{voter.id}/statuses/{n}",
        "type": "Note",
        "attributedTo": voter.id,
        "inReplyTo": question,
        "content": content,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [node_actor],
        **extra,
    }
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{note['id']}/activity",
        "type": "Create",
        "actor": voter.id,
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }


async def post(node: RunningNode, voter: FakeActor, activity: dict[str, Any]) -> None:
    inbox = f"{node.origin}/actors/node/inbox"
    body, headers = voter.signed_post(inbox, activity)
    async with (
        aiohttp.ClientSession() as http,
        http.post(inbox, data=body, headers=headers) as response,
    ):
        assert response.status == 202, await response.text()


async def processed(node: RunningNode) -> None:
    """Wait until every received activity has been processed."""

    async def done() -> bool:
        async with node.node.db.read() as conn:
            waiting = (
                await conn.execute(
                    select(func.count())
                    .select_from(jobs)
                    .where(jobs.c.queue == "inbox", jobs.c.state != "done")
                )
            ).scalar_one()
        return waiting == 0

    await eventually(done, what="the received activities are processed")


async def admit(node: RunningNode, actor: str, college: str = "citizens") -> None:
    membership = node.node.membership
    await membership._save(actor, "requested", f"{actor}/join")
    await membership.admit(actor, college=college)


@contextlib.asynccontextmanager
async def community(
    tmp_path: Path, members: dict[str, str], outsiders: Sequence[str] = ()
) -> AsyncIterator[tuple[RunningNode, FakePeer, dict[str, FakeActor]]]:
    """One node, and a peer with ``members`` (name → college) and outsiders."""
    peer = FakePeer()
    actors = {name: peer.add(name) for name in [*members, *outsiders]}
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            for name, college in members.items():
                await admit(node, actors[name].id, college)
            yield node, peer, actors
    finally:
        await peer.stop()


def told(peer: FakePeer, voter: FakeActor, words: str) -> bool:
    """Whether ``voter`` alone got a reply from the node containing ``words``."""
    return any(
        a["type"] == "Create"
        and a["object"].get("to") == [voter.id]
        and words in a["object"].get("content", "")
        for a in peer.received
    )


async def test_votes_tally_and_exclusion(tmp_path: Path) -> None:
    members = {"alice": "citizens", "bob": "citizens"}
    async with community(tmp_path, members, ["carol"]) as (node, peer, actors):
        alice, bob, carol = actors["alice"], actors["bob"], actors["carol"]
        proposals = node.node.proposals
        seq = await proposals.open(
            "Ouvrir les données de consommation d'eau ?", "Texte.",
            rule="majority", quorum=Fraction(1, 2),
        )  # fmt: skip
        question = proposals.iri(seq)

        await post(node, alice, mastodon_vote(alice, question, "yes", 1))
        await post(node, bob, mastodon_vote(bob, question, "no", 2))
        # Deliveries are processed concurrently: bob's second vote is sent once
        # his first is in, as it would arrive from a server (a later vote).
        await processed(node)
        await post(node, bob, mastodon_vote(bob, question, "yes", 3))  # second vote
        await post(node, carol, mastodon_vote(carol, question, "yes", 4))  # outsider
        await processed(node)

        shown = await proposals.document(seq)
        assert shown["type"] == "Question"
        # Counted ballots only: bob's second vote and carol's do not show.
        assert {o["name"]: o["replies"]["totalItems"] for o in shown["oneOf"]} == {
            "yes": 1, "no": 1, "abstain": 0,
        }  # fmt: skip
        assert shown["votersCount"] == 2
        assert "Texte." in shown["content"]

        document = await proposals.close(seq)
        result = document["result"]
        # alice yes, bob no (his first ballot); bob's second is refused and
        # published as such; carol's, from outside the electorate, is not
        # even recorded (anyone may send one).
        assert result["outcome"] == "rejected"
        reasons = sorted(r["reason"] for r in result["refused"])
        assert reasons == ["duplicate"]
        assert carol.id not in {b["voter"] for b in document["ballots"]}

        url = f"{node.origin}/proposals/{seq}/tally"
        checked = await asyncio.to_thread(
            run_cli, "verify-tally", url, "--allow-private"
        )
        assert checked.returncode == 0, checked.stderr

        async def results_sent() -> bool:
            return any(
                a["type"] == "Update" and a["object"].get("closed")
                for a in peer.received
            )

        await eventually(results_sent, what="voters receive Update(Question)")

        # bob is excluded: he cannot vote on the next proposal.
        await node.node.membership.exclude(bob.id, reason="fraude")
        second = await proposals.open("Deuxième question ?", "Texte.")
        await post(node, bob, mastodon_vote(bob, proposals.iri(second), "yes", 5))
        await post(node, alice, mastodon_vote(alice, proposals.iri(second), "yes", 6))
        await processed(node)
        later = await proposals.close(second)
        assert later["result"]["outcome"] == "adopted"
        assert [b["voter"] for b in later["ballots"]] == [alice.id]


def pleroma_answer(
    voter: FakeActor, question: str, option: str, n: int
) -> dict[str, Any]:
    """A vote as Pleroma and Akkoma send it: an Answer, with a fetchable id."""
    answer = {
        "id": f"{voter.id}/objects/answer-{n}",
        "type": "Answer",
        "name": option,
        "attributedTo": voter.id,
        "inReplyTo": question,
        "to": [question.split("/proposals/", maxsplit=1)[0] + "/actors/node"],
    }
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{voter.id}/activities/vote-{n}",
        "type": "Create",
        "actor": voter.id,
        "to": answer["to"],
        "object": answer,
    }


async def test_pleroma_answers_count_like_mastodon_votes(tmp_path: Path) -> None:
    members = {"alice": "citizens", "bob": "citizens"}
    async with community(tmp_path, members) as (node, _, actors):
        alice, bob = actors["alice"], actors["bob"]
        proposals = node.node.proposals
        seq = await proposals.open("Un composteur rue Neuve ?", "")
        question = proposals.iri(seq)

        await post(node, alice, pleroma_answer(alice, question, "yes", 1))
        await post(node, bob, pleroma_answer(bob, question, "abstain", 2))
        # The same vote again, in another activity: still one ballot.
        await post(node, alice, pleroma_answer(alice, question, "yes", 3))
        await processed(node)

        live = await proposals.live(seq)
        assert live["counts"] == {"yes": 1, "no": 0, "abstain": 1}
        assert live["voters"] == 2
        document = await proposals.close(seq)
        assert document["result"]["outcome"] == "adopted"
        assert len(document["ballots"]) == 2
        assert document["result"]["refused"] == []


async def test_results_reach_voters_a_few_minutes_after_votes(tmp_path: Path) -> None:
    """INTEROP.md, "Polls": Update(Question) a few minutes after votes, once per
    window however many votes arrive, and to the voters too."""
    members = {"alice": "citizens", "bob": "citizens"}
    async with community(tmp_path, members) as (node, peer, actors):
        proposals = node.node.proposals
        seq = await proposals.open("Ouvrir les horaires ?", "Texte.")
        question = proposals.iri(seq)
        await post(
            node, actors["alice"], mastodon_vote(actors["alice"], question, "yes", 1)
        )
        await post(node, actors["bob"], mastodon_vote(actors["bob"], question, "no", 2))
        await processed(node)

        async with node.node.db.read() as conn:
            queued = (
                await conn.execute(
                    select(jobs.c.next_attempt_at, jobs.c.payload).where(
                        jobs.c.queue == "proposal.results"
                    )
                )
            ).all()
        assert len(queued) == 1  # two votes, one window, one update
        run_at, payload = queued[0]
        assert run_at % 300 == 0 and payload == {"proposal": seq}

        job = Job(id=1, queue="proposal.results", payload=payload, attempts=1,
                  created_at=0.0)  # fmt: skip
        await proposals.results_job(job)

        async def updated() -> bool:
            return any(
                a["type"] == "Update"
                and a["object"]["id"] == question
                and {
                    o["name"]: o["replies"]["totalItems"] for o in a["object"]["oneOf"]
                }
                == {"yes": 1, "no": 1, "abstain": 0}
                for a in peer.received
            )

        await eventually(updated, what="the counts reach the voters' server")
