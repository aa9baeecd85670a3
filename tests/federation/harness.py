"""Several real Bocage nodes on loopback, each with its own database and port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from node.app import create_app
from node.appkeys import NODE
from node.config import Config
from node.server import start_site
from node.services import Node
from tests.conftest import free_port, make_config


@dataclass
class RunningNode:
    config: Config
    app: web.Application
    runner: web.AppRunner

    @property
    def node(self) -> Node:
        return self.app[NODE]

    @property
    def origin(self) -> str:
        return self.config.origin

    def actor(self, username: str | None = None) -> str:
        return self.node.federation.fed.actor_iri(username or self.config.node.username)


@contextlib.asynccontextmanager
async def running_nodes(
    root: Path, count: int, database_url: Callable[[int], str] | None = None
) -> AsyncIterator[list[RunningNode]]:
    """Start ``count`` nodes (SQLite unless ``database_url`` says otherwise)."""
    nodes: list[RunningNode] = []
    try:
        for index in range(count):
            port = free_port()
            folder = root / f"node{index}"
            url = (
                database_url(index)
                if database_url
                else f"sqlite+aiosqlite:///{folder / 'bocage.sqlite'}"
            )
            config = make_config(folder, url, port=port)
            config.worker.poll_interval = 0.05
            app = create_app(config)
            runner = await start_site(app, config)
            nodes.append(RunningNode(config, app, runner))
        yield nodes
    finally:
        for running in reversed(nodes):
            await running.runner.cleanup()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 10.0, what: str = ""
) -> None:
    """Wait until ``check()`` is true, or fail saying what did not happen."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what or check}")
        await asyncio.sleep(0.05)
