"""`bocage demo` as a newcomer runs it: three nodes that federate, then Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import free_port_block
from tests.processes import spawn, stop, wait_http


async def _json(url: str) -> Any:
    headers = {"Accept": "application/activity+json"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers=headers) as response,
    ):
        assert response.status == 200, url
        return await response.json(content_type=None)


async def test_demo_federates_and_stops_cleanly(tmp_path: Path) -> None:
    base = free_port_block(3)
    demo = await spawn("demo", "--dir", str(tmp_path), "--base-port", str(base))
    origins = [f"http://127.0.0.1:{base + i}" for i in range(3)]
    try:
        for origin in origins:
            await wait_http(f"{origin}/healthz", within=60)

        async def federated() -> bool:
            followers = await _json(f"{origins[0]}/actors/metropole/followers")
            hits = await _json(f"{origins[1]}/catalogue/search?q=velo")
            return followers["totalItems"] == 2 and hits["total"] == 1

        for _ in range(150):
            if await federated():
                break
            await asyncio.sleep(0.2)
        assert await federated(), "the demo nodes did not federate"
        hit = (await _json(f"{origins[1]}/catalogue/search?q=velo"))["items"][0]
        assert hit["mirrored"] and hit["id"] == f"{origins[0]}/datasets/arceaux-velo"

        # The syndicate, the cooperative and a citizen were admitted as
        # members, a charter adopted, and the syndicate got an agreement on
        # the parking API: all in the log (the agreement's place depends on
        # when the syndicate's request arrives).
        async def logged() -> bool:
            page = await _json(f"{origins[0]}/log?page=1")
            return sorted(e["kind"] for e in page["orderedItems"]) == [
                "charter.adopt",
                "contract.accept",
                "membership.admit",
                "membership.admit",
                "membership.admit",
            ]

        for _ in range(100):
            if await logged():
                break
            await asyncio.sleep(0.2)
        assert await logged(), "no agreement in the metropolis' decision log"

        # A browser lands on pages: two proposals are open for votes.
        async def proposals_listed() -> int:
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    f"{origins[0]}/proposals", headers={"Accept": "text/html"}
                ) as response,
            ):
                return (await response.text()).count('href="/proposals/')

        for _ in range(100):
            if await proposals_listed() == 2:
                break
            await asyncio.sleep(0.2)
        assert await proposals_listed() == 2
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            out, _ = await asyncio.wait_for(demo.communicate(), 30)
            output = out.decode(errors="replace")
        except TimeoutError:
            output = await stop(demo)
    assert demo.returncode == 0, output
    assert "Bocage demo federation is running" in output
    assert "Try, as a server would:" in output and "Stopped." in output
    assert "/signin  as camille" in output
    assert "Traceback" not in output
