"""Pages for our actors and the notes they publish, on their own IRIs.

A Mastodon user who clicks one of our accounts or posts lands here.  The
HTML of a note or an actor summary is ours, but it is still passed through
the same sanitiser as a peer's (:func:`protocol.html.sanitise`), so a page
never carries more markup than Mastodon would show.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select

from federation.context import INSTANCE_USERNAME
from node.activitypub import actor_document
from node.appkeys import NODE
from node.web.render import page, render, translator
from node.web.replies import replies_to
from protocol.html import sanitise
from protocol.jsonld import get_str
from storage.tables import local_actors, objects

RECENT = 20  # an actor page lists its newest public posts


def _safe(html: str | None) -> Markup:
    # Safe: sanitised to what Mastodon keeps.
    return Markup(sanitise(html or ""))  # noqa: S704


def _post(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": document["id"],
        "name": get_str(document, "name") or "",
        "html": _safe(get_str(document, "content")),
        "summary": get_str(document, "summary") or "",
        "published": get_str(document, "published") or "",
    }


async def actor_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    username = request.match_info["username"]
    async with node.db.read() as conn:
        row = (
            await conn.execute(
                select(local_actors).where(local_actors.c.username == username)
            )
        ).first()
        posts = (
            await conn.execute(
                select(objects.c.document)
                .where(
                    objects.c.actor == username,
                    objects.c.deleted_at.is_(None),
                    objects.c.type == "Note",
                )
                .order_by(objects.c.published_at.desc())
                .limit(RECENT)
            )
        ).scalars()
    if row is None or username == INSTANCE_USERNAME:
        raise web.HTTPNotFound(reason=tr.gettext("There is no such account here."))
    document = actor_document(node, row)
    return await render(
        request, "actor.html", title=row.name, actor=document,
        summary=_safe(document.get("summary")),
        account_handle=f"@{username}@{node.config.node.domain}",
        posts=[_post(p) for p in posts],
    )  # fmt: skip


async def object_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    iri = f"{node.config.origin}/objects/{request.match_info['id']}"
    async with node.db.read() as conn:
        row = (await conn.execute(select(objects).where(objects.c.id == iri))).first()
    if row is None:
        raise web.HTTPNotFound(reason=tr.gettext("There is no such post here."))
    if row.deleted_at is not None:
        raise web.HTTPGone(reason=tr.gettext("Its author deleted this post."))
    post = _post(row.document)
    return await render(
        request, "post.html", title=post["name"] or tr.gettext("Post"), post=post,
        author=node.federation.fed.actor_iri(row.actor),
        replies=await replies_to(node, iri), reply_iri=iri,
    )  # fmt: skip


def setup(app: web.Application) -> None:
    page(app, "/actors/{username}", actor_page)
    page(app, "/objects/{id}", object_page)
