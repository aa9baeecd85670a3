"""The production topology without Docker: a web process and a worker process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import POSTGRES_SKIP, free_port, make_config, reset_postgres
from tests.federation.fake_peer import FakePeer
from tests.processes import spawn, stop, wait_http


async def _jobs(origin: str) -> dict[str, int]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{origin}/healthz") as response,
    ):
        body = await response.json()
    return dict(body["jobs"])


async def test_serve_and_worker_share_the_queue_on_postgresql(
    tmp_path: Path, postgres_database: str | None
) -> None:
    if postgres_database is None:
        pytest.skip(POSTGRES_SKIP)
    await reset_postgres(postgres_database)
    peer = FakePeer()
    alice = peer.add("alice")
    await peer.start()
    port = free_port()
    config = make_config(tmp_path / "node", postgres_database, port=port)
    conf = str(tmp_path / "node" / "bocage.toml")
    # The web process only enqueues; the separate worker must do the work.
    env = {"BOCAGE_FEDERATION_DELIVER_IN_PROCESS": "false"}

    web = await spawn("serve", "-c", conf, env=env)
    worker = None
    try:
        await wait_http(f"{config.origin}/healthz")
        assert (await _jobs(config.origin))["pending"] == 1  # the daily clean-up

        # A peer follows the node: the web process verifies and stores it...
        inbox = f"{config.origin}/actors/{config.node.username}/inbox"
        follow = {
            "id": f"{alice.id}/follows/1",
            "type": "Follow",
            "actor": alice.id,
            "object": f"{config.origin}/actors/{config.node.username}",
        }
        body, headers = alice.signed_post(inbox, follow)
        async with (
            aiohttp.ClientSession() as http,
            http.post(inbox, data=body, headers=headers) as response,
        ):
            assert response.status == 202
        assert (await _jobs(config.origin))["pending"] == 2

        # ...and only the worker process processes it and sends the Accept.
        worker = await spawn("worker", "-c", conf, env=env)
        for _ in range(200):
            if (await _jobs(config.origin))["done"] == 3:
                break
            await asyncio.sleep(0.1)
        assert await _jobs(config.origin) == {
            "pending": 0,
            "running": 0,
            "done": 3,  # clean-up, Follow processing, Accept delivery
            "dead": 0,
        }
        assert [a["type"] for a in peer.received] == ["Accept"]
        assert peer.received[0]["object"]["id"] == follow["id"]
    finally:
        worker_log = await stop(worker) if worker else ""
        web_log = await stop(web)
        await peer.stop()
    assert "pruned 0 finished jobs" in worker_log, worker_log
    assert web.returncode == 0, web_log
    assert worker is not None and worker.returncode == 0, worker_log
