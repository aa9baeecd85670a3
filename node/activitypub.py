"""ActivityPub over HTTP: discovery, actors, inboxes, outboxes, collections, objects.

The same IRIs serve JSON to servers and HTML to browsers, chosen by ``Accept``
(DESIGN.md, "Protocols").  Collections are paginated (Mastodon refuses
documents over 1 MiB): a collection names its ``first`` page, each page its
``next``, keyed by a sequence number so pages stay stable while items arrive.
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from federation.context import INSTANCE_USERNAME
from federation.http import AS_CONTENT_TYPE
from federation.outbox import AS_CONTEXT
from node.appkeys import NODE
from node.services import VERSION, Node
from protocol.actors import ActorSpec, build_actor
from protocol.discovery import (
    build_host_meta,
    build_nodeinfo,
    build_nodeinfo_links,
    build_webfinger,
    parse_acct,
)
from protocol.errors import ProtocolError
from storage.tables import activities, follows, local_actors, objects

PAGE_SIZE = 20
AS_JSON = f"{AS_CONTENT_TYPE}; charset=utf-8"
_AS_ACCEPTS = ("application/activity+json", "application/ld+json", "application/json")


def wants_html(request: web.Request) -> bool:
    """True when a browser asks: HTML accepted and no JSON flavour named."""
    accept = request.headers.get("Accept", "").lower()
    if any(kind in accept for kind in _AS_ACCEPTS):
        return False
    return "text/html" in accept


def as_response(document: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(document, status=status, content_type=AS_CONTENT_TYPE)


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _actor_row(node: Node, username: str) -> Any:
    async with node.db.read() as conn:
        return (
            await conn.execute(
                select(local_actors).where(local_actors.c.username == username)
            )
        ).first()


def actor_document(node: Node, row: Any) -> dict[str, Any]:
    fed = node.federation.fed
    iri = fed.actor_iri(row.username)
    spec = ActorSpec(
        id=iri,
        type=row.type,
        username=row.username,
        inbox=f"{iri}/inbox",
        outbox=f"{iri}/outbox",
        followers=f"{iri}/followers",
        following=f"{iri}/following",
        shared_inbox=fed.shared_inbox,
        rsa_public_key=node.keys.rsa.public_key(),
        ed25519_public_key=node.keys.ed25519.public_key(),
        name=row.name,
        summary=f"<p>{html.escape(row.summary)}</p>" if row.summary else None,
        url=iri,
        manually_approves_followers=bool(row.manually_approves),
        discoverable=row.username != INSTANCE_USERNAME,
    )
    document = build_actor(spec)
    if row.username == node.config.node.username:
        # AS "streams": where peers find our catalogue to mirror it.
        document["streams"] = [f"{fed.origin}/catalogue"]
    return document


# --- discovery ----------------------------------------------------------------


async def webfinger(request: web.Request) -> web.Response:
    node = request.app[NODE]
    fed = node.federation.fed
    resource = request.query.get("resource", "")
    if not resource:
        return _error(400, "missing resource parameter")
    username: str | None
    if resource.startswith("acct:"):
        try:
            username, host = parse_acct(resource)
        except ProtocolError as exc:
            return _error(400, str(exc))
        if host != fed.domain:
            return _error(404, f"{host} is not this node")
    else:
        username = fed.local_username(resource)
    if username is None or await _actor_row(node, username) is None:
        return _error(404, "no such actor")
    document = build_webfinger(
        username,
        fed.domain,
        fed.actor_iri(username),
        profile_url=fed.actor_iri(username),
    )
    return web.json_response(document, content_type="application/jrd+json")


async def nodeinfo_links(request: web.Request) -> web.Response:
    return web.json_response(build_nodeinfo_links(request.app[NODE].config.origin))


async def nodeinfo(request: web.Request) -> web.Response:
    node = request.app[NODE]
    version = request.match_info["version"]
    if version not in ("2.0", "2.1"):
        return _error(404, "NodeInfo 2.0 and 2.1 are served")
    async with node.db.read() as conn:
        users = (
            await conn.execute(select(func.count()).select_from(local_actors))
        ).scalar_one()
        posts = (
            await conn.execute(
                select(func.count())
                .select_from(objects)
                .where(objects.c.deleted_at.is_(None))
            )
        ).scalar_one()
    document = build_nodeinfo(
        "2.1" if version == "2.1" else "2.0",
        software_name="bocage",
        software_version=VERSION,
        open_registrations=False,
        users_total=int(users),
        users_active_month=int(users),
        users_active_halfyear=int(users),
        local_posts=int(posts),
        metadata={"nodeName": node.config.node.name},
    )
    schema = f"http://nodeinfo.diaspora.software/ns/schema/{version}#"
    return web.json_response(
        document, content_type="application/json", headers={"Profile": schema}
    )


async def host_meta(request: web.Request) -> web.Response:
    body = build_host_meta(request.app[NODE].config.origin)
    return web.Response(body=body, content_type="application/xrd+xml")


# --- actors and inboxes --------------------------------------------------------


async def actor(request: web.Request) -> web.Response:
    node = request.app[NODE]
    row = await _actor_row(node, request.match_info["username"])
    if row is None:
        return _error(404, "no such actor")
    return as_response(actor_document(node, row))


async def inbox_post(request: web.Request) -> web.Response:
    node = request.app[NODE]
    body = await request.read()
    answer = await node.federation.inbox.receive(
        method=request.method,
        # The URL the sender signed: our public origin, even behind a proxy.
        url=node.config.origin + request.path_qs,
        headers=request.headers,
        body=body,
        recipient=request.match_info.get("username"),
        max_body=node.config.http.max_body_bytes,
    )
    if answer.status == 202:
        return web.Response(status=202)
    return _error(answer.status, answer.reason)


# --- collections -------------------------------------------------------------


def collection(iri: str, total: int, **extra: Any) -> dict[str, Any]:
    """An OrderedCollection that names its first page."""
    return {
        "@context": AS_CONTEXT,
        "id": iri,
        "type": "OrderedCollection",
        **extra,
        "totalItems": total,
        "first": f"{iri}?page=1",
    }


async def keyset_page(
    conn: Any, stmt: Any, key: Any, before: int | None
) -> tuple[list[Any], int | None]:
    """One page of ``stmt``, newest first by ``key``, and the next page's cursor.

    Keyed by a sequence number rather than an offset, so pages stay stable
    while new items arrive at the front.
    """
    if before is not None:
        stmt = stmt.where(key < before)
    rows = (await conn.execute(stmt.order_by(key.desc()).limit(PAGE_SIZE + 1))).all()
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        return rows, int(rows[-1][0])
    return rows, None


def collection_page(
    iri: str, items: list[Any], next_cursor: int | None, at: str
) -> dict[str, Any]:
    page: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": f"{iri}?{at}",
        "type": "OrderedCollectionPage",
        "partOf": iri,
        "orderedItems": items,
    }
    if next_cursor is not None:
        page["next"] = f"{iri}?before={next_cursor}"
    return page


def page_cursor(request: web.Request) -> tuple[bool, int | None, str]:
    """(is a page?, items before this sequence number, the page's query)."""
    if "before" in request.query:
        try:
            return (
                True,
                int(request.query["before"]),
                f"before={request.query['before']}",
            )
        except ValueError:
            raise web.HTTPBadRequest(reason="before must be an integer") from None
    if "page" in request.query:
        return True, None, "page=1"
    return False, None, ""


async def outbox(request: web.Request) -> web.Response:
    node = request.app[NODE]
    username = request.match_info["username"]
    if await _actor_row(node, username) is None:
        return _error(404, "no such actor")
    iri = f"{node.federation.fed.actor_iri(username)}/outbox"
    where = (activities.c.actor == username) & activities.c.public
    is_page, before, at = page_cursor(request)
    async with node.db.read() as conn:
        if not is_page:
            total = (
                await conn.execute(
                    select(func.count()).select_from(activities).where(where)
                )
            ).scalar_one()
            return as_response(collection(iri, int(total)))
        stmt = select(activities.c.seq, activities.c.document).where(where)
        rows, cursor = await keyset_page(conn, stmt, activities.c.seq, before)
    items = [row.document for row in rows]
    return as_response(collection_page(iri, items, cursor, at))


async def _follow_collection(request: web.Request, *, followers: bool) -> web.Response:
    node = request.app[NODE]
    username = request.match_info["username"]
    if await _actor_row(node, username) is None:
        return _error(404, "no such actor")
    me = node.federation.fed.actor_iri(username)
    iri = f"{me}/{'followers' if followers else 'following'}"
    mine, other = (
        (follows.c.followee, follows.c.follower)
        if followers
        else (follows.c.follower, follows.c.followee)
    )
    where = (mine == me) & (follows.c.state == "accepted")
    is_page, before, at = page_cursor(request)
    async with node.db.read() as conn:
        if not is_page:
            total = (
                await conn.execute(
                    select(func.count()).select_from(follows).where(where)
                )
            ).scalar_one()
            return as_response(collection(iri, int(total)))
        stmt = select(follows.c.id, other).where(where)
        rows, cursor = await keyset_page(conn, stmt, follows.c.id, before)
    return as_response(collection_page(iri, [r[1] for r in rows], cursor, at))


async def followers(request: web.Request) -> web.Response:
    return await _follow_collection(request, followers=True)


async def following(request: web.Request) -> web.Response:
    return await _follow_collection(request, followers=False)


# --- objects -------------------------------------------------------------------


async def object_view(request: web.Request) -> web.Response:
    node = request.app[NODE]
    iri = f"{node.config.origin}/objects/{request.match_info['id']}"
    async with node.db.read() as conn:
        row = (await conn.execute(select(objects).where(objects.c.id == iri))).first()
    if row is None:
        return _error(404, "no such object")
    if row.deleted_at is not None:
        tombstone = {
            "@context": AS_CONTEXT,
            "id": iri,
            "type": "Tombstone",
            "formerType": row.type,
        }
        return as_response(tombstone, status=410)
    return as_response({"@context": AS_CONTEXT, **row.document})


async def activity_view(request: web.Request) -> web.Response:
    node = request.app[NODE]
    iri = f"{node.config.origin}/activities/{request.match_info['id']}"
    async with node.db.read() as conn:
        row = (
            await conn.execute(
                select(activities.c.document, activities.c.public).where(
                    activities.c.id == iri
                )
            )
        ).first()
    # Activities addressed to one actor (Accept, Follow) are not public.
    if row is None or not row.public:
        return _error(404, "no such activity")
    return as_response(row.document)


# --- the home page ---------------------------------------------------------------


async def home(request: web.Request) -> web.StreamResponse:
    """Servers asking for the node's address are sent to its actor.

    Everyone else gets the home page (:mod:`node.web`) before this runs.
    """
    node = request.app[NODE]
    # Returned, not raised, so the negotiation adds its Vary: Accept and no
    # cache hands this redirect to a browser.
    actor_iri = node.federation.fed.actor_iri(node.config.node.username)
    return web.Response(status=302, headers={"Location": actor_iri})


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/", home)
    router.add_get("/.well-known/webfinger", webfinger)
    router.add_get("/.well-known/nodeinfo", nodeinfo_links)
    router.add_get("/.well-known/host-meta", host_meta)
    router.add_get("/nodeinfo/{version}", nodeinfo)
    router.add_post("/inbox", inbox_post)
    router.add_get("/actors/{username}", actor)
    router.add_post("/actors/{username}/inbox", inbox_post)
    router.add_get("/actors/{username}/outbox", outbox)
    router.add_get("/actors/{username}/followers", followers)
    router.add_get("/actors/{username}/following", following)
    router.add_get("/objects/{id}", object_view)
    router.add_get("/activities/{id}", activity_view)
