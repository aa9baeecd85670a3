"""Real headless Chromium against a real node, in one session-scoped event loop.

The browser is the system's (Debian's ``chromium-headless-shell`` or
``chromium``), driven by Playwright's async API; nothing downloads a browser.
Playwright's sync API would start a loop of its own and break the async
tests that run after it, so the node, the browser and the tests share the
session's loop (pytest-asyncio ``loop_scope="session"``).

Screenshots go to ``tests/artifacts/screenshots`` (or ``$BOCAGE_ARTIFACTS``)
so CI can keep them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from node.app import NODE, create_app
from node.config import Config
from node.demo import publish_demo_records
from node.server import start_site
from node.services import Node
from tests.conftest import free_port, make_config

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="the playwright package is not installed"
)

CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
)
ARTIFACTS = Path(
    os.environ.get("BOCAGE_ARTIFACTS", Path(__file__).parents[1] / "artifacts")
)


def chromium_path() -> str | None:
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@dataclass
class Running:
    config: Config
    node: Node

    @property
    def origin(self) -> str:
        return self.config.origin


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def browser() -> AsyncIterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: scripts/ensure-chromium failed")
        pytest.skip(
            "no system Chromium: install Debian's chromium-headless-shell "
            "(make test does it when it can)"
        )
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable,
            # No outside DNS: the browser talks only to the node on loopback.
            args=["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Running]:
    """One node on SQLite with the demo's records, for every browser test."""
    config = make_config(
        tmp_path_factory.mktemp("browser") / "node", "", port=free_port()
    )
    app = create_app(config)
    runner = await start_site(app, config)
    node = app[NODE]
    await publish_demo_records(node, "metropole")
    try:
        yield Running(config, node)
    finally:
        await runner.cleanup()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
