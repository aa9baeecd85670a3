"""Forged and malformed input at the inbox: the right status, and nothing stored."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import func, select

from protocol.httpsig import Scheme, sign_request
from protocol.keys import generate_rsa
from storage.tables import jobs
from tests.federation.fake_peer import FakeActor, FakePeer
from tests.federation.harness import RunningNode, running_nodes


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[RunningNode, FakePeer]]:
    peer = FakePeer()
    for name in ("alice", "bob"):
        peer.add(name)
    await peer.start()
    async with running_nodes(tmp_path, 1) as (node,):
        node.config.federation.blocked_domains = []
        yield node, peer
    await peer.stop()


def create(actor: FakeActor, n: str, **extra: Any) -> dict[str, Any]:
    note = {
        "id": f"{actor.id}/notes/{n}",
        "type": "Note",
        "attributedTo": actor.id,
        "content": "<p>hi</p>",
    }
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor.id}/activities/{n}",
        "type": "Create",
        "actor": actor.id,
        "object": note,
        **extra,
    }


async def stored(node: RunningNode) -> int:
    """Received activities: each is stored as its inbox job."""
    async with node.node.db.read() as conn:
        stmt = select(func.count()).select_from(jobs).where(jobs.c.queue == "inbox")
        return int((await conn.execute(stmt)).scalar_one())


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


def _tamper_signature(headers: dict[str, str]) -> dict[str, str]:
    value = headers["Signature"]
    at = value.index('signature="') + len('signature="') + 5
    flipped = "A" if value[at] != "A" else "B"
    return {**headers, "Signature": value[:at] + flipped + value[at + 1 :]}


async def test_forged_input_table(setup: tuple[RunningNode, FakePeer]) -> None:
    node, peer = setup
    alice, bob = peer.actors["alice"], peer.actors["bob"]
    url = f"{node.origin}/actors/{node.config.node.username}/inbox"
    shared = f"{node.origin}/inbox"

    # The control: a well-signed activity is stored, with its job.
    body, headers = alice.signed_post(url, create(alice, "ok"))
    assert await post(url, body, headers) == (202, "")
    assert await stored(node) == 1

    mallory_key = generate_rsa()
    stale = formatdate(time.time() - 7200, usegmt=True)
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = []

    def case(name: str, status: int, reason: str, b: bytes, h: dict[str, str]) -> None:
        cases.append((name, b, h, status, reason))

    b, h = alice.signed_post(url, create(alice, "1"))
    case("bad signature", 401, "signature", b, _tamper_signature(h))

    # Signed correctly, but with a Date two hours old.
    b = orjson.dumps(create(alice, "2"))
    old = {"Content-Type": "application/activity+json", "Date": stale}
    old.update(sign_request("POST", url, old, b, alice.rsa, alice.key_id))
    case("stale date", 401, "signature", b, old)

    b, h = alice.signed_post(url, create(alice, "3"))
    case("wrong digest", 401, "signature", b.replace(b"hi", b"yo"), h)

    b, h = alice.signed_post(url, create(bob, "4"))  # alice's key, bob's activity
    case("actor is not the signer", 401, "signature", b, h)

    b, h = alice.signed_post(url, create(alice, "5"), key=mallory_key)
    case("key not the actor's", 401, "signature", b, h)

    b = orjson.dumps(create(alice, "6"))
    case("unsigned", 401, "signature", b, {"Content-Type": "application/activity+json"})

    big = create(alice, "7", padding="x" * (node.config.http.max_body_bytes + 10))
    b, h = alice.signed_post(url, big)
    case("oversize body", 413, "", b, h)

    deep: Any = "bottom"
    for _ in range(200):
        deep = [deep]
    b, h = alice.signed_post(url, create(alice, "8", deep=deep))
    case("deeply nested JSON", 400, "nesting", b, h)

    b, h = alice.signed_post(url, create(alice, "9"), content_type="text/plain")
    case("wrong content type", 415, "activity+json", b, h)

    foreign = create(alice, "10")
    foreign["object"]["id"] = "https://elsewhere.example/notes/10"
    b, h = alice.signed_post(url, foreign)
    case("embedded object from another origin", 400, "another origin", b, h)

    b, h = alice.signed_post(url, b"{not json")
    case("malformed JSON", 400, "JSON", b, h)

    b, h = alice.signed_post(shared, create(alice, "11"), scheme=Scheme.RFC9421)
    case("RFC 9421 signature for another URL", 401, "signature", b, h)

    for name, b, h, status, reason in cases:
        got, text = await post(url, b, h)
        assert got == status, f"{name}: {got} {text}"
        assert reason in text, f"{name}: {text!r} lacks {reason!r}"
        assert await stored(node) == 1, f"{name} stored something"

    # A replay of the stored activity: accepted again, nothing new stored.
    body, headers = alice.signed_post(url, create(alice, "ok"))
    assert await post(url, body, headers) == (202, "")
    assert await stored(node) == 1

    # A blocked domain is refused before any signature work.
    node.node.federation.fed.blocked_domains = frozenset({"127.0.0.1"})
    body, headers = alice.signed_post(url, create(alice, "blocked"))
    status, text = await post(url, body, headers)
    assert status == 403 and "blocked" in text
    assert await stored(node) == 1


async def test_both_schemes_and_key_types_accepted(
    setup: tuple[RunningNode, FakePeer],
) -> None:
    node, peer = setup
    alice = peer.actors["alice"]
    url = f"{node.origin}/inbox"
    body, headers = alice.signed_post(url, create(alice, "c"), scheme=Scheme.CAVAGE)
    assert (await post(url, body, headers))[0] == 202
    body, headers = alice.signed_post(url, create(alice, "r"), scheme=Scheme.RFC9421)
    assert (await post(url, body, headers))[0] == 202
    body, headers = alice.signed_post(
        url,
        create(alice, "e"),
        scheme=Scheme.RFC9421,
        key=alice.ed25519,  # type: ignore[arg-type]
        key_id=f"{alice.id}#ed25519-key",
    )
    assert (await post(url, body, headers))[0] == 202
    assert await stored(node) == 3
