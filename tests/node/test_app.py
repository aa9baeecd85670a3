"""The web process: health, body cap, clean shutdown that finishes in-flight work."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from node.app import NODE, create_app
from node.config import Config
from node.server import start_site
from storage.database import Database
from storage.tables import jobs


async def test_healthz_reports_database_and_queue(node_config: Config) -> None:
    runner = await start_site(create_app(node_config), node_config)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{node_config.origin}/healthz") as response,
        ):
            assert response.status == 200
            body = await response.json()
        assert body["status"] == "ok"
        assert set(body["jobs"]) == {"pending", "running", "done", "dead"}
        assert body["database"] in ("sqlite", "postgresql")
    finally:
        await runner.cleanup()


async def test_body_over_the_cap_is_refused_with_413(node_config: Config) -> None:
    node_config.http.max_body_bytes = 4096
    app = create_app(node_config)

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_post("/echo", echo)
    runner = await start_site(app, node_config)
    try:
        async with aiohttp.ClientSession() as http:
            url = f"{node_config.origin}/echo"
            async with http.post(url, data=b"x" * 4000) as small:
                assert small.status == 200
            async with http.post(url, data=b"x" * 5000) as large:
                assert large.status == 413
    finally:
        await runner.cleanup()


async def test_shutdown_finishes_in_flight_requests_and_their_writes(
    node_config: Config,
) -> None:
    app = create_app(node_config)
    started = asyncio.Event()

    async def slow_write(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.5)

        async def op(conn: AsyncConnection) -> int:
            return await request.app[NODE].jobs.enqueue("q", {"late": True}, conn=conn)

        await request.app[NODE].writer.submit(op)
        return web.json_response({"stored": True})

    app.router.add_post("/slow", slow_write)
    runner = await start_site(app, node_config)
    async with aiohttp.ClientSession() as http:
        request = asyncio.ensure_future(http.post(f"{node_config.origin}/slow"))
        await started.wait()
        await runner.cleanup()  # what SIGTERM triggers
        response = await request
        assert response.status == 200
        assert await response.json() == {"stored": True}

    # The write made during shutdown was committed before the database closed.
    db = Database(node_config.database.url)
    try:
        async with db.read() as conn:
            payloads = (
                (await conn.execute(select(jobs.c.payload).where(jobs.c.queue == "q")))
                .scalars()
                .all()
            )
    finally:
        await db.close()
    assert payloads == [{"late": True}]
