"""Long-running processes: the web server and the job worker, with clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

from aiohttp import web

from node.app import create_app
from node.config import Config
from node.services import open_node
from protocol.errors import BocageError

log = logging.getLogger("bocage.node.server")


class ServeError(BocageError):
    """The server could not start (the port is taken, the address is wrong…)."""


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM ask for a graceful stop instead of killing the loop."""
    loop = asyncio.get_running_loop()
    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def start_site(app: web.Application, config: Config) -> web.AppRunner:
    """Start serving ``app`` on the configured address; return its runner."""
    runner = web.AppRunner(
        app,
        shutdown_timeout=config.http.shutdown_timeout,
        access_log=logging.getLogger("aiohttp.access"),
    )
    await runner.setup()
    site = web.TCPSite(runner, config.http.host, config.http.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ServeError(
            f"cannot listen on {config.http.host}:{config.http.port}: {exc.strerror}"
        ) from None
    return runner


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    """Run one node until SIGINT/SIGTERM (or ``stop``), then shut down cleanly.

    Shutdown order: stop accepting connections, let in-flight requests finish
    (up to ``http.shutdown_timeout``), finish the in-process worker's round,
    commit what the writer holds, close the database.
    """
    stop = stop or asyncio.Event()
    app = create_app(config)
    runner = await start_site(app, config)
    log.info(
        "node %s listening on %s:%d", config.origin, config.http.host, config.http.port
    )
    with stop_on_signals(stop):
        await stop.wait()
    log.info("shutting down")
    await runner.cleanup()


async def work(
    config: Config,
    stop: asyncio.Event | None = None,
    *,
    concurrency: int | None = None,
) -> None:
    """Run a job worker until SIGINT/SIGTERM; the round in progress is finished."""
    stop = stop or asyncio.Event()
    async with open_node(config) as node:
        runner = node.runner(concurrency=concurrency)
        with stop_on_signals(stop):
            await runner.run(stop)
