"""Every kind of publication a node sends, checked against Mastodon's rules.

A fake Mastodon-like peer follows a real node (and is the member, invitee or
followee where an activity is addressed to one actor); what it receives is
checked with :func:`protocol.mastodon.check_publication`, and what a Mastodon
user would see is read with :func:`protocol.mastodon.view`.  Known problems
of producers we do not own here are ``xfail(strict=True)``: fixing one makes
its test pass, and then fail until the mark goes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import select

from node.demo_data import FILES, records_for
from protocol.html import plain_text
from protocol.mastodon import PollOption, check_publication, view
from protocol.records import decode_dataset, decode_service
from storage.tables import activities
from tests.federation.fake_peer import FakeActor, FakePeer
from tests.federation.harness import RunningNode, eventually, running_nodes
from tests.processes import run_cli

Activity = dict[str, Any]


@dataclass
class World:
    node: RunningNode
    peer: FakePeer
    alice: FakeActor  # follows the node, votes, is invited
    bob: FakeActor  # followed by the node; a community it joins

    @property
    def username(self) -> str:
        return self.node.config.node.username

    async def receive(
        self, what: str, match: Callable[[Activity], bool], *, after: int = 0
    ) -> Activity:
        """The first activity received (from index ``after``) that matches."""
        found: list[Activity] = []

        async def arrived() -> bool:
            found[:] = [a for a in self.peer.received[after:] if match(a)]
            return bool(found)

        await eventually(arrived, what=what)
        return found[0]

    def check(self, document: Activity, previous: Activity | None = None) -> list[str]:
        return check_publication(document, origin=self.node.origin, previous=previous)


def about(kind: str, object_id: str | None = None) -> Callable[[Activity], bool]:
    def match(activity: Activity) -> bool:
        if activity.get("type") != kind:
            return False
        obj = activity.get("object")
        found = obj.get("id") if isinstance(obj, dict) else obj
        return object_id is None or found == object_id

    return match


async def post(node: RunningNode, actor: FakeActor, activity: Activity) -> None:
    inbox = f"{node.actor()}/inbox"
    body, headers = actor.signed_post(inbox, activity)
    async with (
        aiohttp.ClientSession() as http,
        http.post(inbox, data=body, headers=headers) as response,
    ):
        assert response.status == 202, await response.text()


async def fetch(url: str) -> Activity:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": "application/activity+json"}) as response,
    ):
        assert response.status == 200, url
        document: Activity = orjson.loads(await response.read())
        return document


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    peer = FakePeer()
    alice, bob = peer.add("alice"), peer.add("bob")
    await peer.start()
    try:
        root = tmp_path_factory.mktemp("mastodon")
        async with running_nodes(root, 1) as (node,):
            world = World(node, peer, alice, bob)
            follow = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{alice.id}#follows/1",
                "type": "Follow",
                "actor": alice.id,
                "object": node.actor(),
            }
            await post(node, alice, follow)
            accept = await world.receive("the Accept", about("Accept", follow["id"]))
            assert world.check(accept) == []
            yield world
    finally:
        await peer.stop()


# --- notes --------------------------------------------------------------------


async def test_note_with_a_content_warning(world: World) -> None:
    outbox = world.node.node.federation.outbox
    sent = await outbox.create_note(
        world.username,
        "<p>Coupure du service <strong>mardi</strong> de 8 h à 10 h.</p>",
        summary="Maintenance",
    )
    note_id = sent["object"]["id"]
    create = await world.receive("the Note", about("Create", note_id))
    assert world.check(create) == []
    status = view(create)
    assert status is not None
    assert status.spoiler_text == "Maintenance" and status.sensitive
    assert status.language == "fr" and status.visibility == "public"
    assert "<strong>mardi</strong>" in status.text
    # The document behind the id is the one followers got.
    assert world.check(await fetch(note_id)) == []

    # An edit: Update with a newer `updated`, shown by Mastodon.
    await asyncio.sleep(1.1)  # `updated` counts seconds
    edited = {**create["object"], "content": "<p>Coupure reportée.</p>"}
    await outbox.update_object(world.username, edited)
    update = await world.receive("the Update", about("Update", note_id))
    assert world.check(update, previous=create) == []
    assert update["object"]["contentMap"] == {"fr": "<p>Coupure reportée.</p>"}
    shown = view(update)
    assert shown is not None and "reportée" in shown.text

    await outbox.delete_object(world.username, note_id)
    delete = await world.receive("the Delete", about("Delete", note_id))
    assert world.check(delete) == []


async def test_note_from_bocage_post(world: World) -> None:
    conf = str(Path(world.node.config.node.data_dir).parent / "bocage.toml")
    before = len(world.peer.received)
    text = "Réunion & vote <jeudi> à 18 h\n\nOrdre du jour : la charte."
    posted = await asyncio.to_thread(run_cli, "post", "-c", conf, text)
    assert posted.returncode == 0, posted.stderr
    create = await world.receive("the posted Note", about("Create"), after=before)
    assert world.check(create) == []
    status = view(create)
    assert status is not None
    assert plain_text(status.text) == (
        "Réunion & vote <jeudi> à 18 h\n\nOrdre du jour : la charte."
    )


# --- follows and membership ---------------------------------------------------


async def test_follow_and_undo(world: World) -> None:
    outbox = world.node.node.federation.outbox
    await outbox.follow(world.username, world.bob.id)
    follow = await world.receive("the Follow", about("Follow", world.bob.id))
    assert world.check(follow) == []
    await outbox.unfollow(world.username, world.bob.id)
    undo = await world.receive("the Undo", about("Undo", follow["id"]))
    assert world.check(undo) == []


async def test_join_another_community(world: World) -> None:
    await world.node.node.membership.join(world.bob.id)
    join = await world.receive("the Join", about("Join", world.bob.id))
    assert world.check(join) == []


async def test_admit_and_exclude(world: World) -> None:
    membership = world.node.node.membership
    carol = world.peer.add("carol")
    await membership._save(carol.id, "requested", f"{carol.id}#join/1")
    await membership.admit(carol.id, college="habitants")
    accept = await world.receive("Accept(Join)", about("Accept", f"{carol.id}#join/1"))
    assert world.check(accept) == []
    await membership.exclude(carol.id, reason="statuts, article 4")
    remove = await world.receive("the Remove", about("Remove", carol.id))
    assert world.check(remove) == []


async def test_invite_names_the_invitee(world: World) -> None:
    dave = world.peer.add("dave")
    await world.node.node.membership.invite(dave.id, college="habitants")
    invite = await world.receive("the Invite", about("Invite"))
    assert world.check(invite) == []


async def test_moderation_notices(world: World) -> None:
    moderation = world.node.node.moderation
    erin = world.peer.add("erin")
    flag = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{world.alice.id}#flags/1",
        "type": "Flag",
        "actor": world.alice.id,
        "object": [erin.id],
        "content": "Spam répété",
    }
    await post(world.node, world.alice, flag)

    async def reported() -> list[dict[str, Any]]:
        return [
            r for r in await moderation.list("open") if r["reporter"] == world.alice.id
        ]

    async def arrived() -> bool:
        return bool(await reported())

    await eventually(arrived, what="the report is recorded")
    (report,) = await reported()
    await moderation.decide(report["id"], "warn", by="camille", reason="spam")
    for who in (erin, world.alice):
        notice = await world.receive(
            f"the notice to {who.username}",
            lambda a, who=who: (
                a.get("type") == "Create" and a["object"].get("to") == [who.id]
            ),
        )
        assert world.check(notice) == []
        status = view(notice)
        assert status is not None and status.visibility == "direct"
        assert [m.href for m in status.mentions] == [who.id]


# --- proposals ---------------------------------------------------------------


def vote(voter: FakeActor, question: str, n: int, **note: Any) -> Activity:
    """A ballot as Mastodon sends it (INTEROP.md, "Polls"), or a reply."""
    obj = {
        "id": f"{voter.id}#votes/{n}",
        "type": "Note",
        "attributedTo": voter.id,
        "inReplyTo": question,
        "to": question.split("/proposals/", maxsplit=1)[0] + "/actors/node",
        **note,
    }
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{voter.id}#votes/{n}/activity",
        "type": "Create",
        "actor": voter.id,
        "to": obj["to"],
        "object": obj,
    }


async def _member(world: World, actor: FakeActor) -> None:
    membership = world.node.node.membership
    if not await membership.is_member(actor.id):
        await membership._save(actor.id, "requested", f"{actor.id}#join")
        await membership.admit(actor.id)


async def test_proposal_question_and_its_results(world: World) -> None:
    node = world.node.node
    await _member(world, world.alice)
    seq = await node.proposals.open("Publier <budget.csv> ?", "Texte & annexe.")
    iri = node.proposals.iri(seq)
    create = await world.receive("Create(Question)", about("Create", iri))
    assert world.check(create) == []
    status = view(create)
    assert status is not None and status.poll is not None
    assert [o.title for o in status.poll.options] == ["yes", "no", "abstain"]
    assert not status.poll.multiple and status.language == "fr"
    assert "Publier <budget.csv> ?" in plain_text(status.text)

    await post(world.node, world.alice, vote(world.alice, iri, 1, name="yes"))

    async def counted() -> bool:
        return bool((await node.proposals.live(seq))["voters"] == 1)

    await eventually(counted, what="the vote is counted")
    await asyncio.sleep(1.1)  # `updated` counts seconds
    await node.proposals.close(seq)
    update = await world.receive("Update(Question)", about("Update", iri))
    assert world.check(update, previous=create) == []
    shown = view(update)
    assert shown is not None and shown.poll is not None and shown.poll.closed
    assert shown.poll.options[0] == PollOption("yes", 1)
    assert shown.poll.voters_count == 1


async def test_judgment_proposal_is_a_note(world: World) -> None:
    node = world.node.node
    seq = await node.proposals.open(
        "Quel horaire ?", "Pour la réunion.", rule="judgment", options=["9 h", "18 h"]
    )
    create = await world.receive(
        "Create(Note)", about("Create", node.proposals.iri(seq))
    )
    assert world.check(create) == []
    status = view(create)
    assert status is not None and status.poll is None
    assert "9 h: excellent" in plain_text(status.text)


async def test_reply_to_a_ballot_mentions_the_voter(world: World) -> None:
    node = world.node.node
    await _member(world, world.alice)
    seq = await node.proposals.open("Adopter ?", "Texte.", rule="consent")
    iri = node.proposals.iri(seq)
    before = len(world.peer.received)
    objection = vote(world.alice, iri, 2, content="<p>Objection : trop cher.</p>")
    await post(world.node, world.alice, objection)
    reply = await world.receive(
        "the reply to the objection",
        lambda a: (
            a.get("type") == "Create"
            and a["object"].get("inReplyTo") == objection["object"]["id"]
        ),
        after=before,
    )
    status = view(reply)
    assert status is not None and status.visibility == "direct"
    assert world.check(reply) == []


async def test_fetched_question_is_complete(world: World) -> None:
    node = world.node.node
    seq = await node.proposals.open("Ouvrir les tarifs ?", "Texte.")
    assert world.check(await fetch(node.proposals.iri(seq))) == []


# --- the charter --------------------------------------------------------------


async def test_charter_versions(world: World) -> None:
    charter = world.node.node.charter
    await charter.adopt("Charte", "Article 1. Les données sont ouvertes.")
    first = f"{charter.iri}/versions/1"
    create = await world.receive("Create(Article)", about("Create", first))
    assert world.check(create) == []
    status = view(create)
    assert status is not None and status.converted
    assert "Version 1 of the charter" in status.text

    await charter.adopt("Charte", "Article 1. Les données sont ouvertes à tous.")
    second = f"{charter.iri}/versions/2"
    create = await world.receive("the second Create", about("Create", second))
    assert world.check(create) == []
    assert view(create) is not None


async def test_a_new_charter_version_reaches_mastodon(world: World) -> None:
    charter = world.node.node.charter
    version = await charter.adopt("Charte", "Article 1. Version suivante.")
    sent = await world.receive(
        "the new version",
        lambda a: (
            a.get("type") in ("Create", "Update")
            and a["object"].get("url") == f"{charter.iri}/versions/{version}"
        ),
    )
    assert view(sent) is not None


async def test_fetched_charter_is_complete(world: World) -> None:
    charter = world.node.node.charter
    if await charter.latest() is None:
        await charter.adopt("Charte", "Article 1.")
    assert world.check(await fetch(charter.iri)) == []


# --- catalogue records --------------------------------------------------------


def _demo_records() -> list[Any]:
    params = []
    for slug in ("metropole", "syndicat", "cooperative"):
        urls = {
            name: f"https://files.example/{hashlib.sha256(content).hexdigest()}"
            for name, content in FILES.get(slug, {}).items()
        }
        for data in records_for(slug, urls):
            params.append(pytest.param(data, id=data["slug"]))
    return params


@pytest.mark.parametrize("data", _demo_records())
async def test_catalogue_record(world: World, data: dict[str, Any]) -> None:
    catalogue = world.node.node.catalogue
    decode = decode_service if "endpoint_url" in data else decode_dataset
    document, _ = await catalogue.put(decode(data))
    create = await world.receive("the record", about("Create", document["id"]))
    problems = world.check(create)

    # An update of the record: Bocage peers take it; Mastodon ignores it.
    await asyncio.sleep(1.1)  # `updated` counts seconds
    changed = {**data, "title": data["title"] + " (mise à jour)"}
    await catalogue.put(decode(changed))
    update = await world.receive("its Update", about("Update", document["id"]))
    problems += world.check(update, previous=create)
    assert view(update) is None

    kind = "DataService" if "endpoint_url" in data else "Dataset"
    await catalogue.delete(kind, data["slug"])
    delete = await world.receive("its Delete", about("Delete", document["id"]))
    problems += world.check(delete)
    assert problems == []


# --- contracts, between two nodes ---------------------------------------------


async def _published(node: RunningNode) -> list[Activity]:
    async with node.node.db.read() as conn:
        rows = await conn.execute(
            select(activities.c.document).order_by(activities.c.published_at)
        )
        return [row.document for row in rows]


async def test_contract_activities(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        await a.node.catalogue.put(
            decode_service(
                {
                    "slug": "parkings",
                    "title": "Occupation des parkings",
                    "description": "Places libres en temps réel.",
                    "endpoint_url": f"{a.origin}/catalogue/search",
                    "offer": {
                        "permissions": [{"action": "read"}],
                        "authentication": ["http-signature"],
                        "audience": "agreement",
                        "auto_accept": "any",
                    },
                }
            )
        )
        seq = await b.node.contracts.request(f"{a.origin}/services/parkings")

        async def agreed() -> bool:
            rows = await b.node.contracts.list("consumer")
            return any(r["state"] == "agreed" for r in rows)

        await eventually(agreed, what="the agreement is concluded")
        await b.node.contracts.terminate(seq, reason="fin du projet")
        problems = []
        for node in (a, b):
            for activity in await _published(node):
                if activity["type"] in ("Offer", "Accept", "Reject", "Delete"):
                    found = check_publication(activity, origin=node.origin)
                    problems += [f"{node.origin}: {p}" for p in found]
        assert problems == []
