"""Majority judgment: a Note to reply to, graded ballots by hand or by machine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from node.proposals import DEFAULT_GRADES
from protocol.tally import verify_tally
from tests.federation.harness import eventually
from tests.node.test_proposals import community, post, processed, reply, told

OPTIONS = ["Parc", "Parking", "Potager"]


async def test_judgment_by_replies_tallied_and_verifiable(tmp_path: Path) -> None:
    members = {"alice": "citizens", "bob": "citizens", "carol": "citizens"}
    async with community(tmp_path, members, ["dave"]) as (node, peer, actors):
        alice, bob, carol, dave = (actors[n] for n in ("alice", "bob", "carol", "dave"))
        proposals = node.node.proposals
        seq = await proposals.open(
            "Que faire de la friche Lebon ?",
            "Trois projets ont été déposés.",
            rule="judgment",
            options=OPTIONS,
        )
        iri = proposals.iri(seq)

        # Published as a Note Mastodon shows in full, saying how to vote.
        async with (
            aiohttp.ClientSession() as http,
            http.get(iri, headers={"Accept": "application/activity+json"}) as got,
        ):
            note = await got.json(content_type=None)
        assert note["type"] == "Note" and note["id"] == iri
        assert note["bocage:options"] == OPTIONS
        assert note["bocage:grades"] == list(DEFAULT_GRADES)
        for word in [*OPTIONS, *DEFAULT_GRADES, "reply to this post"]:
            assert word in note["content"], word
        assert "oneOf" not in note
        assert note["contentMap"] == {"fr": note["content"]}

        # alice: a machine-readable ballot.
        await post(
            node,
            alice,
            reply(
                alice, iri, "<p>My ballot</p>", 1,
                **{"bocage:judgments": {
                    "Parc": "excellent", "Parking": "poor", "Potager": "good",
                }},
            ),
        )  # fmt: skip
        # bob: by hand, from Mastodon; Potager left out (so: reject).
        await post(
            node,
            bob,
            reply(
                bob, iri,
                '<p><span class="h-card"><a href="https://x.test/@node" '
                'class="u-url mention">@<span>node</span></a></span> '
                "parc : Very Good<br />PARKING: reject</p>",
                2,
            ),
        )  # fmt: skip
        # carol: a typo first, refused; her corrected ballot then counts.
        await post(node, carol, reply(carol, iri, "<p>Parc: goood</p>", 3))
        await processed(node)
        corrected = "<p>Parc: good<br>Potager: excellent<br>Parking: fair</p>"
        await post(node, carol, reply(carol, iri, corrected, 4))
        # dave is not a member: not recorded at all.
        await post(node, dave, reply(dave, iri, "<p>Parc: excellent</p>", 5))
        # A comment is a comment.
        await post(node, alice, reply(alice, iri, "<p>Belle idée !</p>", 6))
        await processed(node)

        live = await proposals.live(seq)
        assert live["voters"] == 3 and live["electorate"] == 3
        assert live["grades"] == list(DEFAULT_GRADES)
        assert live["distribution"]["Potager"] == {
            "excellent": 1, "very good": 0, "good": 1, "fair": 0, "poor": 0,
            "reject": 1,
        }  # fmt: skip
        assert live["majority_grades"] == {
            "Parc": "very good", "Parking": "poor", "Potager": "good",
        }  # fmt: skip
        assert live["leaders"] == ["Parc"]
        assert live["outcome"] is None and live["state"] == "open"

        # Who replied by hand is told how the ballot was read, or why not.
        async def receipts() -> bool:
            return (
                told(peer, bob, "Parc: very good; Parking: reject; Potager: (none)")
                and told(peer, carol, "unknown grade")
                and told(peer, carol, "recorded")
                and told(peer, dave, "not in this proposal")
            )

        await eventually(receipts, what="voters are told how their ballots went")
        receipt = next(
            a["object"]
            for a in peer.received
            if a["type"] == "Create" and a["object"].get("to") == [bob.id]
        )
        # Addressed to bob alone, mentioning him as Mastodon does.
        assert receipt["inReplyTo"] == f"{bob.id}/statuses/2"
        assert receipt["tag"] == [
            {
                "type": "Mention",
                "href": bob.id,
                "name": f"@bob@{urlsplit(bob.id).netloc}",
            }
        ]
        assert receipt["content"].startswith(
            f'<p><span class="h-card"><a href="{bob.id}"'
        )

        document = await proposals.close(seq)
        result = document["result"]
        assert document["rule"] == {
            "type": "MajorityJudgment",
            "grades": list(reversed(DEFAULT_GRADES)),
        }
        assert (result["outcome"], result["winners"]) == ("winner", ["Parc"])
        assert result["majorityGrades"]["Parking"] == "poor"
        assert [(r["reason"], r["detail"]) for r in result["refused"]] == [
            ("malformed", "unknown grade 'goood'")
        ]
        assert len(document["ballots"]) == 4  # dave's and the comment are not
        assert verify_tally(document).ok

        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{iri}/tally") as got,
        ):
            assert verify_tally(await got.json()).ok

        # The Note is updated with the result, for followers and voters.
        async def updated() -> bool:
            return any(
                a["type"] == "Update" and ": winner (Parc;" in a["object"]["content"]
                for a in peer.received
            )

        await eventually(updated, what="Update(Note) with the result")
        closed = await proposals.live(seq)
        assert closed["outcome"] == "winner" and closed["decision"] is not None


async def test_custom_grades_and_a_poll_vote_on_a_judgment(tmp_path: Path) -> None:
    async with community(tmp_path, {"alice": "citizens"}) as (node, _, actors):
        alice = actors["alice"]
        proposals = node.node.proposals
        grades = ["Très bien", "Bien", "À rejeter"]
        seq = await proposals.open(
            "Nom de la place ?", "", rule="judgment",
            options=["Place Louise Michel", "Place du Marché"], grades=grades,
        )  # fmt: skip
        iri = proposals.iri(seq)
        # A Mastodon poll vote cannot grade: refused, and it does not use up
        # alice's vote.
        await post(
            node,
            alice,
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{alice.id}#votes/1/activity",
                "type": "Create",
                "actor": alice.id,
                "object": {
                    "id": f"{alice.id}#votes/1",
                    "type": "Note",
                    "name": "Place du Marché",
                    "attributedTo": alice.id,
                    "inReplyTo": iri,
                },
            },
        )
        await post(
            node,
            alice,
            reply(alice, iri, "<p>place louise michel: très BIEN</p>", 2),
        )
        await processed(node)
        live = await proposals.live(seq)
        assert live["majority_grades"] == {
            "Place Louise Michel": "Très bien",
            "Place du Marché": "À rejeter",
        }
        result = (await proposals.close(seq))["result"]
        assert result["winners"] == ["Place Louise Michel"]
        assert [r["reason"] for r in result["refused"]] == ["malformed"]
