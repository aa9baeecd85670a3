"""The Fedify peer itself works: two peers follow each other and exchange a Note.

These tests check the test tool, not Bocage: if they fail, interop tests that
use :class:`FedifyPeer` cannot be trusted either.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from fedify_peer import FedifyPeer, FedifyPeerError, ensure_installed, skip_reason

_SKIP = skip_reason()
pytestmark = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")


@pytest.fixture(scope="module")
async def peers() -> AsyncIterator[tuple[FedifyPeer, FedifyPeer]]:
    await asyncio.to_thread(ensure_installed)
    a = FedifyPeer("smoke-a")
    b = FedifyPeer("smoke-b")
    await asyncio.gather(a.start(), b.start())
    try:
        yield a, b
    finally:
        await asyncio.gather(a.stop(), b.stop())


async def test_actor_and_webfinger(peers: tuple[FedifyPeer, FedifyPeer]) -> None:
    a, _ = peers
    async with aiohttp.ClientSession() as session:
        async with session.get(
            a.actor_url, headers={"Accept": "application/activity+json"}
        ) as response:
            assert response.status == 200
            actor = await response.json(content_type=None)
        async with session.get(
            f"{a.origin}/.well-known/webfinger",
            params={"resource": f"acct:{a.handle}"},
        ) as response:
            assert response.status == 200
            jrd = await response.json(content_type=None)
    assert actor["id"] == a.actor_url
    assert actor["type"] == "Person"
    assert actor["preferredUsername"] == "alice"
    assert actor["inbox"] == a.inbox_url
    assert actor["endpoints"]["sharedInbox"] == a.shared_inbox_url
    assert actor["publicKey"]["owner"] == a.actor_url
    assert "BEGIN PUBLIC KEY" in actor["publicKey"]["publicKeyPem"]
    # RSA and Ed25519, both as Multikeys.
    assert len(actor["assertionMethod"]) == 2
    self_links = [link for link in jrd["links"] if link.get("rel") == "self"]
    assert [link["href"] for link in self_links] == [a.actor_url]


async def test_follow_accept_create(peers: tuple[FedifyPeer, FedifyPeer]) -> None:
    a, b = peers
    result = await a.follow(b.actor_url)
    follow_id = result["id"]

    follow = await b.wait_for(lambda x: x["type"] == "Follow" and x["id"] == follow_id)
    assert follow["actor"] == a.actor_url
    assert follow["object"]["id"] == b.actor_url
    assert [f["id"] for f in await b.followers()] == [a.actor_url]

    accept = await a.wait_for(lambda x: x["type"] == "Accept")
    assert accept["actor"] == b.actor_url
    assert accept["object"]["id"] == follow_id
    assert await a.following() == [
        {"actor": b.actor_url, "followId": follow_id, "state": "accepted"}
    ]

    sent = await b.create("<p>Hello from B</p>")
    assert sent["recipients"] == 1
    create = await a.wait_for(lambda x: x["type"] == "Create" and x["id"] == sent["id"])
    assert create["actor"] == b.actor_url
    assert create["object"] == {
        "id": sent["object"],
        "type": "Note",
        "content": "<p>Hello from B</p>",
    }
    # Fedify signs with RFC 9421 first and B's peer accepted it.
    requests = [r for r in await a.inbox_requests() if r["id"] == sent["id"]]
    assert [(r["scheme"], r["status"]) for r in requests] == [("rfc9421", 202)]

    # The Note is dereferenceable, through Fedify too.
    note = await a.lookup(sent["object"])
    assert note is not None
    assert note["type"] == "Note"

    await a.unfollow(b.actor_url)
    await b.wait_for(lambda x: x["type"] == "Undo" and x["actor"] == a.actor_url)
    assert await b.followers() == []


async def test_first_knock_draft_cavage(peers: tuple[FedifyPeer, FedifyPeer]) -> None:
    a, b = peers
    await b.configure(first_knock="draft-cavage-http-signatures-12")
    try:
        await b.follow(a.actor_url)
        accept = await b.wait_for(
            lambda x: x["type"] == "Accept" and x["actor"] == a.actor_url
        )
        requests = await a.inbox_requests()
        follows = [r for r in requests if r["id"] == accept["object"]["id"]]
        assert [(r["scheme"], r["status"]) for r in follows] == [
            ("draft-cavage-http-signatures-12", 202)
        ]
    finally:
        await b.configure(first_knock="rfc9421")


def _forged_create(author: FedifyPeer, name: str) -> dict[str, object]:
    """A well-formed Create(Note) claiming to come from ``author``, unsigned."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{author.origin}/forged/{name}",
        "type": "Create",
        "actor": author.actor_url,
        "object": {
            "id": f"{author.origin}/forged/{name}/note",
            "type": "Note",
            "attributedTo": author.actor_url,
            "content": "forged",
        },
    }


@pytest.mark.parametrize("path", ["/users/alice/inbox", "/inbox"])
async def test_unsigned_post_is_refused(
    peers: tuple[FedifyPeer, FedifyPeer], path: str
) -> None:
    a, b = peers
    activity = _forged_create(b, path.strip("/").replace("/", "-"))
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{a.origin}{path}",
            json=activity,
            headers={"Content-Type": "application/activity+json"},
        ) as response,
    ):
        assert response.status == 401
        assert "Failed to verify the request signature" in await response.text()
    assert all(r["id"] != activity["id"] for r in await a.received())
    refused = [r for r in await a.inbox_requests() if r["id"] == activity["id"]]
    assert [(r["scheme"], r["status"]) for r in refused] == [(None, 401)]


async def test_malformed_post_is_a_bad_request(
    peers: tuple[FedifyPeer, FedifyPeer],
) -> None:
    """Fedify parses the body before it checks the signature: not an activity,
    400; a well-formed but unsigned activity, 401 (above)."""
    a, _ = peers
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            a.inbox_url,
            data=b"{}",
            headers={"Content-Type": "application/activity+json"},
        ) as response,
    ):
        assert response.status == 400


async def test_control_errors(peers: tuple[FedifyPeer, FedifyPeer]) -> None:
    a, _ = peers
    with pytest.raises(FedifyPeerError, match="400"):
        await a.follow("not a url")
    with pytest.raises(FedifyPeerError, match="did not resolve to an actor"):
        await a.follow(f"{a.origin}/users/nobody")


async def test_inbox_challenge(peers: tuple[FedifyPeer, FedifyPeer]) -> None:
    a, b = peers
    await a.configure(inbox_challenge=True)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                a.inbox_url,
                json=_forged_create(b, "challenge"),
                headers={"Content-Type": "application/activity+json"},
            ) as response,
        ):
            assert response.status == 401
            challenge = response.headers.get("Accept-Signature", "")
    finally:
        await a.configure(inbox_challenge=False)
    assert '"@method"' in challenge
    assert '"@target-uri"' in challenge
