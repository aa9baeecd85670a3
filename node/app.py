"""The aiohttp application factory: one node's web process.

:func:`create_app` wires configuration, storage and routes together.  The
application owns its database, its group-commit writer and, when
``federation.deliver_in_process`` is set, a job runner, so ``bocage serve`` alone
is a complete node; ``bocage worker`` processes can be added beside it to share
the job queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from node.activitypub import setup_routes
from node.admin import setup_admin
from node.appkeys import NODE, RUNNER
from node.catalogue_web import setup_catalogue_routes
from node.charter import setup_charter_routes
from node.config import Config
from node.contracts_web import setup_contract_routes
from node.decisions import setup_log_routes
from node.enforcement import count_bytes, enforce
from node.governance import members_view
from node.proposals import setup_proposal_routes
from node.services import open_node, schedule_maintenance
from node.web import setup_web
from protocol.errors import BocageError, ProtocolError
from storage.database import StorageError

log = logging.getLogger("bocage.node")

Setup = Callable[[web.Application], AsyncIterator[None]]


def json_error(status: int, reason: str) -> web.Response:
    """An error answer peers and people can both read: a status and a reason."""
    return web.json_response({"error": reason}, status=status)


@web.middleware
async def error_middleware(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Turn the project's own errors into answers with a reason, never a 500 page."""
    try:
        return await handler(request)
    except ProtocolError as exc:
        return json_error(400, str(exc))
    except StorageError:
        log.exception("storage failure on %s %s", request.method, request.path)
        return json_error(503, "the database is unavailable; try again later")
    except BocageError as exc:
        log.warning("refused %s %s: %s", request.method, request.path, exc)
        return json_error(500, str(exc))


async def healthz(request: web.Request) -> web.Response:
    """Liveness and readiness: the process answers and its database does too."""
    node = request.app[NODE]
    try:
        await node.db.ping()
        counts = await node.jobs.counts()
    except StorageError as exc:
        return web.json_response(
            {"status": "unavailable", "database": str(exc)}, status=503
        )
    return web.json_response(
        {"status": "ok", "database": node.db.dialect, "jobs": counts}
    )


def _lifecycle(config: Config) -> Setup:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with open_node(config) as node:
            app[NODE] = node
            await schedule_maintenance(node)
            yield
            # Reached after in-flight requests finished (the runner waited for
            # them); leaving the block commits what they submitted.

    return lifecycle


async def _in_process_worker(app: web.Application) -> AsyncIterator[None]:
    node = app[NODE]
    if not node.config.federation.deliver_in_process:
        yield
        return
    runner = node.runner()
    app[RUNNER] = runner
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop), name="in-process-worker")
    yield
    stop.set()
    await task


def create_app(config: Config, *, setups: list[Setup] | None = None) -> web.Application:
    """Build a node's application; ``setups`` add features (federation, catalogue…).

    Each setup is a cleanup context: it finds the open :class:`Node` under
    ``app[NODE]``, may register job handlers on it before its ``yield`` and
    release what it holds after.  Setups start after the node is open and stop
    before it closes; routes are added by the caller before the app starts.
    """
    app = web.Application(
        client_max_size=config.http.max_body_bytes,
        middlewares=[error_middleware],
    )
    app.router.add_get("/healthz", healthz)
    setup_routes(app)
    setup_catalogue_routes(app)
    setup_admin(app)
    setup_contract_routes(app)
    setup_log_routes(app)
    app.router.add_get("/members", members_view)
    setup_charter_routes(app)
    setup_proposal_routes(app)
    setup_web(app)
    app.middlewares.append(enforce)
    app.on_response_prepare.append(count_bytes)
    app.cleanup_ctx.append(_lifecycle(config))
    for setup in setups or []:
        app.cleanup_ctx.append(setup)
    app.cleanup_ctx.append(_in_process_worker)
    return app
