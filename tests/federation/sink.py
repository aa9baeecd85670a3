"""An inbox sink: one local server that answers 202 for every host name.

Fan-out tests and benchmarks point many test domains (``host0000.test``…) at
127.0.0.1 through ``federation.resolve_overrides``, all on the sink's port.
The sink accepts any POST without checking its signature, and counts requests
by ``Host`` (the port left out) and by signature scheme.

In a test, run it in the test's own event loop (:meth:`InboxSink.start`).  A
benchmark runs it in a process of its own, so that the sink does not share a
core's event loop with the node it measures; from the repository root::

    python -m tests.federation.sink [--port P] [--delay SECONDS]

prints ``ready PORT`` once listening; ``GET /_stats`` answers the counts as
JSON and ``POST /_reset`` clears them.

:func:`add_followers` fills a node's database with followers whose shared
inboxes all lead to the sink.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

from aiohttp import web

from storage.database import Database
from storage.tables import follows, remote_actors

STATS_PATH = "/_stats"
RESET_PATH = "/_reset"


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header value, lower-cased, port left out."""
    host = host_header.lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class InboxSink:
    """Answers 202 to every POST (after ``delay`` seconds) and counts them."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.by_host: Counter[str] = Counter()
        self.by_scheme: Counter[str] = Counter()
        self.total = 0
        self.in_flight = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def duplicates(self) -> int:
        """Requests beyond the first one to each host."""
        return self.total - len(self.by_host)

    def stats(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "hosts": len(self.by_host),
            "duplicates": self.duplicates,
            "by_scheme": dict(self.by_scheme),
            "by_host": dict(self.by_host),
        }

    def reset(self) -> None:
        self.by_host.clear()
        self.by_scheme.clear()
        self.total = 0

    async def _post(self, request: web.Request) -> web.Response:
        if request.path == RESET_PATH:
            self.reset()
            return web.Response(status=204)
        self.in_flight += 1
        try:
            await request.read()
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        # Counted once answered: a request cut short by a crash is not "received".
        self.total += 1
        self.by_host[host_name(request.host)] += 1
        signed = "Signature-Input" in request.headers
        self.by_scheme["rfc9421" if signed else "cavage"] += 1
        return web.Response(status=202)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (a free port when 0); return the port."""
        app = web.Application()
        app.router.add_get(STATS_PATH, self._stats)
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def host_names(count: int) -> list[str]:
    """``host0000.test``, ``host0001.test``…: test domains for the sink."""
    return [f"host{index:04d}.test" for index in range(count)]


def resolve_overrides(names: list[str], address: str = "127.0.0.1") -> str:
    """The value of ``BOCAGE_FEDERATION_RESOLVE_OVERRIDES`` sending ``names`` here."""
    return ",".join(f"{name}={address}" for name in names)


async def add_followers(
    db: Database, followee: str, names: list[str], *, port: int, per_host: int = 1
) -> int:
    """Insert ``per_host`` accepted followers of ``followee`` on each host of ``names``.

    The followers of one host share its inbox ``http://HOST:PORT/inbox``, as
    Mastodon users share their server's.  The rows are written directly, in
    one transaction: no Follow is exchanged.  Returns how many were added.
    """
    now = time.time()
    actors, relations = [], []
    for name in names:
        origin = f"http://{name}:{port}"
        for index in range(per_host):
            actor = f"{origin}/users/u{index}"
            actors.append(
                {
                    "id": actor,
                    "host": f"{name}:{port}",
                    "inbox": f"{actor}/inbox",
                    "shared_inbox": f"{origin}/inbox",
                    "preferred_username": f"u{index}",
                    "document": {"id": actor, "type": "Person"},
                    "fetched_at": now,
                    "expires_at": now + 86400,
                }
            )
            relations.append(
                {
                    "follower": actor,
                    "followee": followee,
                    "activity_id": f"{actor}/follows/1",
                    "state": "accepted",
                    "created_at": now,
                    "updated_at": now,
                }
            )
    async with db.transaction() as conn:
        await conn.execute(remote_actors.insert(), actors)
        await conn.execute(follows.insert(), relations)
    return len(relations)


async def _serve(port: int, delay: float) -> None:
    sink = InboxSink(delay=delay)
    bound = await sink.start(port=port)
    print(f"ready {bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sink.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    options = parser.parse_args(argv)
    try:
        asyncio.run(_serve(options.port, options.delay))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
