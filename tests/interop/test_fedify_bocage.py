"""A real Bocage node and a real Fedify 2.3.6 peer federate with each other.

Both directions of follow → Accept → Create, with each signature scheme
inbound, Bocage's fall-back from RFC 9421 + Ed25519 to draft-cavage + RSA
outbound (Fedify reads only ``publicKey`` keys), and forged or unsigned
POSTs refused by both sides.

The tests share one node and one peer (module fixtures), and each also
passes alone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest
from aiohttp import web
from fedify_peer import FedifyPeer, SignatureScheme, running_peer
from sqlalchemy import select

from federation.hosts import CAVAGE_RSA
from protocol.httpsig import Scheme, sign_request
from protocol.keys import (
    PrivateKey,
    generate_ed25519,
    generate_rsa,
    public_key_of,
    public_key_to_pem,
)
from protocol.records import decode_dataset
from storage.tables import follows, hosts, jobs, remote_objects
from tests.federation.harness import RunningNode, eventually, running_nodes

RFC9421: SignatureScheme = "rfc9421"
CAVAGE: SignatureScheme = "draft-cavage-http-signatures-12"
AS_JSON = "application/activity+json"


@pytest.fixture(scope="module")
async def peer() -> AsyncIterator[FedifyPeer]:
    async with running_peer("bocage-interop") as fedify:
        yield fedify


@pytest.fixture(scope="module")
async def bocage(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningNode]:
    async with running_nodes(tmp_path_factory.mktemp("bocage"), 1) as (node,):
        yield node


async def _rows(node: RunningNode, stmt: Any) -> list[Any]:
    async with node.node.db.read() as conn:
        return list((await conn.execute(stmt)).all())


# --- Fedify follows Bocage, Bocage publishes ---------------------------------


@pytest.mark.parametrize("knock", [RFC9421, CAVAGE])
async def test_fedify_follows_bocage_and_receives_its_note(
    peer: FedifyPeer, bocage: RunningNode, knock: SignatureScheme
) -> None:
    # A fresh federation: Fedify forgets which scheme Bocage took, so its
    # first POST to Bocage is signed with ``knock``.
    await peer.configure(first_knock=knock)
    sent_before = len(await peer.outgoing())
    target = bocage.actor()

    follow_id = (await peer.follow(target))["id"]

    stored = (
        select(follows.c.state)
        .where(follows.c.follower == peer.actor_url)
        .where(follows.c.followee == target)
        .where(follows.c.activity_id == follow_id)
    )

    async def bocage_accepted() -> bool:
        return [r.state for r in await _rows(bocage, stored)] == ["accepted"]

    await eventually(bocage_accepted, what="Bocage stores the Follow, accepted")

    async def fedify_accepted() -> bool:
        return {"actor": target, "followId": follow_id, "state": "accepted"} in (
            await peer.following()
        )

    await eventually(fedify_accepted, what="Bocage's Accept reaches Fedify")
    accept = await peer.wait_for(
        lambda a: a["type"] == "Accept" and a["object"]["id"] == follow_id
    )
    assert accept["actor"] == target
    assert accept["id"].startswith(bocage.origin + "/")

    # Inbound: Fedify's first POST to Bocage used ``knock`` and Bocage took it.
    posts = [
        r
        for r in (await peer.outgoing())[sent_before:]
        if r["method"] == "POST" and r["url"].startswith(bocage.origin + "/")
    ]
    assert posts, "Fedify sent Bocage nothing"
    assert (posts[0]["scheme"], posts[0]["status"]) == (knock, 202)
    assert posts[0]["keyId"].startswith(peer.actor_url)

    # Bocage publishes; Fedify, a follower, gets the Create.
    html = f"<p>Hello from Bocage ({knock})</p>"
    create = await bocage.node.federation.outbox.create_note(
        bocage.config.node.username, html
    )
    note_id = create["object"]["id"]
    received = await peer.wait_for(
        lambda a: a["type"] == "Create" and a["id"] == create["id"]
    )
    assert received["actor"] == target
    assert received["object"] == {"id": note_id, "type": "Note", "content": html}
    assert note_id.startswith(bocage.origin + "/objects/")

    # The Note is Bocage's to serve: Fedify can dereference it.
    looked_up = await peer.lookup(note_id)
    assert looked_up is not None
    assert looked_up["id"] == note_id
    assert looked_up["type"] == "Note"


# --- Bocage follows Fedify, Fedify publishes ---------------------------------


async def test_bocage_follows_fedify_and_stores_its_note(
    peer: FedifyPeer, bocage: RunningNode
) -> None:
    await peer.configure(first_knock=RFC9421)
    username = bocage.config.node.username
    follow = await bocage.node.federation.outbox.follow(username, peer.actor_url)

    relation = (
        select(follows.c.state)
        .where(follows.c.follower == bocage.actor())
        .where(follows.c.followee == peer.actor_url)
    )

    async def accepted() -> bool:
        return [r.state for r in await _rows(bocage, relation)] == ["accepted"]

    await eventually(accepted, what="Fedify's Accept reaches Bocage")
    got = await peer.wait_for(lambda a: a["id"] == follow["id"])
    assert got["type"] == "Follow"
    assert got["actor"] == bocage.actor()
    assert bocage.actor() in [f["id"] for f in await peer.followers()]

    html = "<p>Hello from Fedify</p>"
    sent = await peer.create(html)
    assert sent["recipients"] >= 1
    stored = select(remote_objects).where(remote_objects.c.id == sent["object"])

    async def note_stored() -> bool:
        return len(await _rows(bocage, stored)) == 1

    await eventually(note_stored, what="Fedify's Create reaches Bocage")
    (row,) = await _rows(bocage, stored)
    assert row.actor == peer.actor_url
    assert row.type == "Note"
    assert row.document["content"] == html
    # No check of ``attributedTo``: peer.mjs passes it to Fedify's Note
    # under that name, which the Note constructor ignores (Fedify calls it
    # ``attribution``), so the Note arrives without an author.


# --- what Bocage signs with, outbound ----------------------------------------


async def test_bocage_falls_back_to_cavage_rsa_for_fedify(
    peer: FedifyPeer, bocage: RunningNode
) -> None:
    """Fedify 2.3.6 refuses Bocage's Ed25519 key (not in ``publicKey``) and
    takes its RSA cavage signature; Bocage remembers that for the host."""
    # Something of Bocage's own to deliver, so that this test stands alone
    # (run after the follow tests, the host's scheme is already known).
    service = bocage.node.federation
    follow = await service.outbox.follow("catalogue", peer.actor_url)
    await peer.wait_for(lambda a: a["id"] == follow["id"])

    # Fedify's listener runs before it answers, and Bocage remembers the
    # scheme once it has the answer: wait for both ends to be done.
    host = urlsplit(peer.origin).netloc
    remembered = select(hosts.c.scheme).where(hosts.c.host == host)

    async def scheme_saved() -> bool:
        return [r.scheme for r in await _rows(bocage, remembered)] == [CAVAGE_RSA]

    await eventually(scheme_saved, what="Bocage saves cavage-rsa for Fedify")
    assert (await service.hosts.get(host)).scheme == CAVAGE_RSA

    async def from_bocage() -> list[dict[str, Any]]:
        """POSTs that Bocage signed (not the forgeries of the tests below)."""
        requests = await peer.inbox_requests()
        mine = bocage.origin + "/"
        return [r for r in requests if (r["keyId"] or "").startswith(mine)]

    async def all_answered() -> bool:
        return all(r["status"] is not None for r in await from_bocage())

    await eventually(all_answered, what="Fedify answers Bocage's requests")
    mine = await from_bocage()
    answers = [(r["scheme"], r["status"]) for r in mine]
    # Fedify refused every Ed25519 knock (with 401, which is what lets a
    # sender fall back) and took every cavage request.
    assert (RFC9421, 401) in answers
    assert (CAVAGE, 202) in answers
    assert all(
        status == (401 if scheme == RFC9421 else 202) for scheme, status in answers
    ), answers
    # Signed as the activity's actor: its RSA key for cavage, else Ed25519.
    for request in mine:
        username = service.fed.local_username(request["actor"])
        assert username is not None, request
        assert request["keyId"] == (
            service.fed.rsa_key_id(username)
            if request["scheme"] == CAVAGE
            else service.fed.ed25519_key_id(username)
        )

    # Now that the scheme is remembered, the next delivery knocks once.
    undo = await service.outbox.unfollow("catalogue", peer.actor_url)
    assert undo is not None
    await peer.wait_for(lambda a: a["id"] == undo["id"])
    await eventually(all_answered, what="Fedify answers the Undo")
    requests = (await from_bocage())[len(mine) :]
    assert [(r["scheme"], r["status"], r["id"]) for r in requests] == [
        (CAVAGE, 202, undo["id"])
    ]


# --- forged and unsigned POSTs -----------------------------------------------


def _create_from(origin: str, actor: str, name: str) -> dict[str, Any]:
    """A well-formed Create(Note) claiming to come from ``actor``."""
    activity_id = f"{origin}/forged/{name}-{uuid.uuid4()}"
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": activity_id,
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{activity_id}/note",
            "type": "Note",
            "attributedTo": actor,
            "content": "<p>forged</p>",
        },
    }


async def _post(
    url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=body, headers={"Content-Type": AS_JSON, **(headers or {})}
        ) as response,
    ):
        return response.status, await response.text()


async def _not_in_bocage_inbox(bocage: RunningNode, activity_id: str) -> bool:
    return not await _rows(
        bocage, select(jobs.c.id).where(jobs.c.dedupe_key == activity_id)
    )


def _json(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


@pytest.mark.parametrize("path", ["/inbox", "/actors/{username}/inbox"])
async def test_unsigned_post_refused_by_bocage(
    peer: FedifyPeer, bocage: RunningNode, path: str
) -> None:
    activity = _create_from(peer.origin, peer.actor_url, "unsigned")
    url = bocage.origin + path.format(username=bocage.config.node.username)
    status, text = await _post(url, _json(activity))
    assert status == 401, text
    assert "not signed" in text
    assert await _not_in_bocage_inbox(bocage, activity["id"])


@pytest.fixture(scope="module")
async def key_host() -> AsyncIterator[tuple[str, list[str], Callable[[Any], None]]]:
    """A loopback server an attacker controls: it serves whatever key document
    it is given, at ``/key``, and records the paths asked of it."""
    documents: dict[str, Any] = {}
    asked: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        asked.append(request.path)
        if "key" not in documents:
            return web.json_response({}, status=404)
        return web.json_response(documents["key"], content_type=AS_JSON)

    app = web.Application()
    app.router.add_get("/key", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", asked, lambda doc: documents.update(key=doc)
    finally:
        await runner.cleanup()


async def _listed_key_ids(peer: FedifyPeer) -> dict[str, str]:
    """The ids of the keys Fedify's actor lists: its ``publicKey`` (RSA) and
    its Ed25519 Multikey.  (``info()["keyIds"]`` names the Ed25519 pair
    ``#key-2``, an id the actor document does not carry.)"""
    async with (
        aiohttp.ClientSession() as session,
        session.get(peer.actor_url, headers={"Accept": AS_JSON}) as response,
    ):
        actor = await response.json(content_type=None)
    ed25519 = [
        key["id"]
        for key in actor["assertionMethod"]
        # The multicodec prefix of Ed25519 public keys, base58btc-encoded.
        if key["publicKeyMultibase"].startswith("z6Mk")
    ]
    assert len(ed25519) == 1, actor["assertionMethod"]
    return {"rsa": actor["publicKey"]["id"], "ed25519": ed25519[0]}


@pytest.mark.parametrize(
    ("scheme", "which_key", "reason"),
    [
        # Fedify's listed RSA key id, a stranger's RSA key.
        (Scheme.CAVAGE, "rsa", "does not verify"),
        # Fedify's listed Ed25519 key id, a stranger's Ed25519 key.
        (Scheme.RFC9421, "ed25519", "does not verify"),
        # A key document elsewhere naming Fedify's actor as its owner; the
        # actor does not list it, so the owner's word must not count.
        (Scheme.CAVAGE, "elsewhere", "unknown key"),
    ],
)
async def test_post_signed_by_another_key_refused_by_bocage(
    peer: FedifyPeer,
    bocage: RunningNode,
    key_host: tuple[str, list[str], Callable[[Any], None]],
    scheme: Scheme,
    which_key: str,
    reason: str,
) -> None:
    key: PrivateKey
    if which_key == "ed25519":
        key = await asyncio.to_thread(generate_ed25519)
    else:
        key = await asyncio.to_thread(generate_rsa, 2048)
    if which_key == "elsewhere":
        origin, asked, serve = key_host
        key_id = f"{origin}/key"
        serve(
            {
                "@context": "https://w3id.org/security/v1",
                "id": key_id,
                "type": "Key",
                "owner": peer.actor_url,
                "publicKeyPem": public_key_to_pem(public_key_of(key)),
            }
        )
    else:
        key_id = (await _listed_key_ids(peer))[which_key]
    activity = _create_from(peer.origin, peer.actor_url, f"forged-{which_key}")
    body = _json(activity)
    url = bocage.origin + "/inbox"
    headers = {"Content-Type": AS_JSON}
    headers |= await asyncio.to_thread(
        sign_request, "POST", url, headers, body, key, key_id, scheme=scheme
    )

    status, text = await _post(url, body, headers)

    assert status == 401, text
    assert reason in text
    assert await _not_in_bocage_inbox(bocage, activity["id"])
    if which_key == "elsewhere":
        assert asked == [], "Bocage fetched the key document instead of the actor"


async def test_unsigned_post_refused_by_fedify(
    peer: FedifyPeer, bocage: RunningNode
) -> None:
    activity = _create_from(bocage.origin, bocage.actor(), "unsigned")
    status, text = await _post(peer.shared_inbox_url, _json(activity))
    assert status == 401, text
    assert all(a["id"] != activity["id"] for a in await peer.received())
    refused = [r for r in await peer.inbox_requests() if r["id"] == activity["id"]]
    assert [(r["scheme"], r["status"]) for r in refused] == [(None, 401)]


# --- a catalogue record, as Fedify reads it --------------------------------


async def test_fedify_parses_a_published_dataset(
    peer: FedifyPeer, bocage: RunningNode
) -> None:
    target = bocage.actor()
    if not any(
        f["actor"] == target and f["state"] == "accepted"
        for f in await peer.following()
    ):
        await peer.follow(target)

        async def accepted() -> bool:
            return any(
                f["actor"] == target and f["state"] == "accepted"
                for f in await peer.following()
            )

        await eventually(accepted, what="Fedify follows Bocage")

    record, _ = await bocage.node.catalogue.put(
        decode_dataset(
            {
                "slug": f"air-{uuid.uuid4().hex[:8]}",
                "title": "Qualité de l'air — mesures horaires",
                "description": "Concentrations horaires de NO2, O3 et PM10.",
                "distributions": [{"download_url": "https://example.org/air.csv"}],
            }
        )
    )
    received = await peer.wait_for(
        lambda a: (
            a["type"] == "Create" and (a["object"] or {}).get("id") == record["id"]
        )
    )
    parsed = received.get("parsed")
    assert parsed is not None and "error" not in parsed, parsed
    # Fedify reads it as an Article with the title and summary Mastodon shows.
    assert parsed["class"] == "Article"
    assert parsed["id"] == record["id"]
    assert parsed["name"] == "Qualité de l'air — mesures horaires"
    assert parsed["summary"].startswith("Concentrations horaires")
    # And the full signed DCAT record came along for Bocage peers.
    assert received["raw"]["object"]["proof"]["cryptosuite"] == "eddsa-jcs-2022"
