"""The node's public decision log: every decision appended, chained, signed.

Each decision becomes an entry of :mod:`protocol.decisionlog` signed with the
node's Ed25519 key; after each append a signed checkpoint covers the whole
log.  Both are public (``/log``, ``/log/checkpoints``) so peers can mirror them
and anyone can run ``bocage verify-log``.  Appends are serialised (one writer
on SQLite, an advisory lock on PostgreSQL), so the chain never forks.

Logged today: agreement decisions (accept, reject, terminate) and follow
requests decided by hand.  Governance decisions (membership, charter,
proposals, moderation) will be appended the same way (issue #7).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from node.activitypub import as_response, collection
from node.appkeys import NODE
from node.services import Node
from protocol.decisionlog import make_checkpoint, make_entry, parse_entry, tree_root
from storage.tables import decision_checkpoints, decision_entries

PAGE = 100
# Any constant, the same in every Bocage process (as for migrations).
_PG_LOG_LOCK = 0x626F636C6F67


class DecisionLog:
    """Appends decisions and checkpoints to the node's log."""

    def __init__(self, node: Node) -> None:
        self.node = node
        fed = node.federation.fed
        self.origin = f"{fed.origin}/log"
        self.key_id = fed.ed25519_key_id(node.config.node.username)

    async def append(
        self, kind: str, subject: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Record one decision; returns the signed entry."""
        db = self.node.db
        key = self.node.keys.ed25519

        async def write(conn: AsyncConnection) -> dict[str, Any]:
            if db.dialect == "postgresql":
                await conn.execute(
                    text(f"SELECT pg_advisory_xact_lock({_PG_LOG_LOCK})")
                )
            last = (
                await conn.execute(
                    select(decision_entries.c.document)
                    .order_by(decision_entries.c.idx.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            prev = parse_entry(last) if last is not None else None
            now = datetime.fromtimestamp(time.time(), UTC)
            if prev is not None and now < prev.time:
                now = prev.time  # a clock that stepped back must not break the chain
            entry = make_entry(prev, kind, subject, body, now, key, self.key_id)
            await conn.execute(
                decision_entries.insert().values(
                    idx=entry["index"], hash=entry["hash"], document=entry
                )
            )
            hashes = [
                bytes.fromhex(h)
                for h in (
                    await conn.execute(
                        select(decision_entries.c.hash).order_by(decision_entries.c.idx)
                    )
                ).scalars()
            ]
            checkpoint = make_checkpoint(
                len(hashes), tree_root(hashes), now, key, self.key_id, self.origin
            )
            await conn.execute(
                decision_checkpoints.insert().values(
                    size=len(hashes), document=checkpoint
                )
            )
            return entry

        entry: dict[str, Any] = await self.node.writer.submit(write)
        return entry


async def log_view(request: web.Request) -> web.Response:
    """The entries, oldest first, 100 a page (``?page=1`` is the first)."""
    node = request.app[NODE]
    iri = node.decisions.origin
    if "page" not in request.query:
        async with node.db.read() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(decision_entries))
            ).scalar_one()
        return as_response(collection(iri, int(total), name="Decision log"))
    try:
        page = max(1, int(request.query["page"]))
    except ValueError:
        return web.json_response({"error": "page is an integer"}, status=400)
    async with node.db.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(decision_entries.c.document)
                    .where(decision_entries.c.idx >= (page - 1) * PAGE)
                    .order_by(decision_entries.c.idx)
                    .limit(PAGE + 1)
                )
            )
            .scalars()
            .all()
        )
    document: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{iri}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": iri,
        "orderedItems": list(rows[:PAGE]),
    }
    if len(rows) > PAGE:
        document["next"] = f"{iri}?page={page + 1}"
    return as_response(document)


async def checkpoints_view(request: web.Request) -> web.Response:
    """The latest signed checkpoints, newest first (``?all=1`` for every one)."""
    node = request.app[NODE]
    stmt = select(decision_checkpoints.c.document).order_by(
        decision_checkpoints.c.size.desc()
    )
    if request.query.get("all") != "1":
        stmt = stmt.limit(PAGE)
    async with node.db.read() as conn:
        items = list((await conn.execute(stmt)).scalars())
    return as_response(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": node.config.origin + request.path_qs,
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        }
    )


def setup_log_routes(app: web.Application) -> None:
    app.router.add_get("/log", log_view)
    app.router.add_get("/log/checkpoints", checkpoints_view)
