"""Discovery and actor documents as Mastodon, Misskey and Fedify read them."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson

from protocol.actors import parse_actor
from protocol.discovery import parse_host_meta, parse_nodeinfo_links, parse_webfinger
from tests.federation.harness import running_nodes


async def fetch(
    url: str, accept: str = "application/activity+json"
) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": accept}, allow_redirects=False) as response,
    ):
        return (
            response.status,
            response.headers.get("Content-Type", ""),
            await response.read(),
        )


async def test_discovery_documents(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        origin, domain = node.origin, node.config.node.domain
        username = node.config.node.username
        actor_iri = node.actor()

        status, ctype, body = await fetch(
            f"{origin}/.well-known/webfinger?resource=acct:{username}@{domain}"
        )
        assert status == 200 and ctype.startswith("application/jrd+json")
        finger = parse_webfinger(orjson.loads(body))
        assert finger.subject == f"acct:{username}@{domain}"
        assert finger.actor_id == actor_iri
        # Mastodon re-queries by actor URL; other hosts and users are 404.
        status, _, _ = await fetch(
            f"{origin}/.well-known/webfinger?resource={actor_iri}"
        )
        assert status == 200
        for bad in (f"acct:nobody@{domain}", f"acct:{username}@elsewhere.example"):
            status, _, _ = await fetch(f"{origin}/.well-known/webfinger?resource={bad}")
            assert status == 404
        assert (await fetch(f"{origin}/.well-known/webfinger"))[0] == 400

        status, _, body = await fetch(
            f"{origin}/.well-known/nodeinfo", "application/json"
        )
        links = parse_nodeinfo_links(orjson.loads(body))
        assert set(links) == {"2.0", "2.1"}
        for version, url in links.items():
            status, _, body = await fetch(url, "application/json")
            info = orjson.loads(body)
            assert info["version"] == version
            assert info["software"]["name"] == "bocage"
            assert info["protocols"] == ["activitypub"]

        status, ctype, body = await fetch(f"{origin}/.well-known/host-meta", "*/*")
        assert "xrd" in ctype
        assert parse_host_meta(body).startswith(f"{origin}/.well-known/webfinger")

        for username_, kind in (
            (username, "Organization"),
            ("catalogue", "Service"),
            ("instance", "Application"),
        ):
            for accept in (
                "application/activity+json",
                'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
            ):
                status, ctype, body = await fetch(
                    f"{origin}/actors/{username_}", accept
                )
                assert status == 200 and ctype.startswith("application/activity+json")
                actor = parse_actor(orjson.loads(body))
                assert kind in actor.types
                assert actor.shared_inbox == f"{origin}/inbox"
                assert len(actor.public_keys) == 1 and len(actor.assertion_methods) == 1

        status, ctype, body = await fetch(actor_iri, "text/html")
        assert status == 200 and ctype.startswith("text/html")
        assert b"Suivez ce compte" in body  # the node speaks French
        status, ctype, body = await fetch(f"{origin}/", "text/html")
        assert status == 200 and node.config.node.name.encode() in body
        status, _, _ = await fetch(f"{origin}/", "application/activity+json")
        assert status == 302
        assert (await fetch(f"{origin}/actors/nobody"))[0] == 404
