"""The charter: versions adopted by recorded decisions, published, compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
from sqlalchemy import select

from storage.tables import remote_objects
from tests.federation.harness import eventually, running_nodes


async def fetch(url: str, accept: str = "application/activity+json") -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": accept}) as response,
    ):
        body = await response.read()
        if response.content_type.endswith("json"):
            return response.status, orjson.loads(body)
        return response.status, body.decode()


async def test_versions_are_recorded_published_and_compared(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        await b.node.federation.outbox.follow(b.config.node.username, a.actor())

        async def followed() -> bool:
            _, page = await fetch(f"{a.actor()}/followers?page=1")
            return page["orderedItems"] == [b.actor()]

        await eventually(followed, what="B follows A")
        charter = a.node.charter
        first = (
            "Article 1. Les membres partagent leurs données.\n\n"
            "Article 2. Une voix par membre."
        )
        second = first.replace(
            "Une voix par membre.", "Une voix par membre, pondérée par collège."
        )
        assert await charter.adopt("Charte", first) == 1
        assert await charter.adopt("Charte", second, reason="vote du 2 décembre") == 2

        status, current = await fetch(f"{a.origin}/charter")
        assert status == 200 and current["type"] == "Article"
        assert current["id"] == f"{a.origin}/charter"
        assert "pondérée" in current["content"]
        assert current["url"] == f"{a.origin}/charter/versions/2"
        status, old = await fetch(f"{a.origin}/charter/versions/1")
        assert old["id"] == f"{a.origin}/charter/versions/1"
        assert "pondérée" not in old["content"]

        status, diff = await fetch(f"{a.origin}/charter/diff?from=1&to=2", "text/plain")
        assert status == 200
        assert "-Article 2. Une voix par membre." in diff
        assert "+Article 2. Une voix par membre, pondérée par collège." in diff

        # Each version is a decision in the log, naming the text's hash.
        _, log = await fetch(f"{a.origin}/log?page=1")
        entries = [e for e in log["orderedItems"] if e["kind"] == "charter.adopt"]
        assert [e["body"]["version"] for e in entries] == [1, 2]
        assert entries[1]["body"]["reason"] == "vote du 2 décembre"

        # Followers received each version as its own Article (Mastodon shows
        # a Create, never an Update of an Article).
        async def on_b() -> bool:
            async with b.node.db.read() as conn:
                row = (
                    await conn.execute(
                        select(remote_objects.c.document).where(
                            remote_objects.c.id == f"{a.origin}/charter/versions/2"
                        )
                    )
                ).first()
            return row is not None and "pondérée" in row.document["content"]

        await eventually(on_b, what="version 2 reaches B")
        async with b.node.db.read() as conn:
            ids = set((await conn.execute(select(remote_objects.c.id))).scalars())
        assert ids == {f"{a.origin}/charter/versions/{n}" for n in (1, 2)}
        assert (await fetch(f"{a.origin}/charter/diff?from=1&to=9"))[0] == 404
