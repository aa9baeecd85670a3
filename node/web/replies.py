"""Replies from the fediverse to one of our publications, for its page.

A reply is a peer's object whose ``inReplyTo`` names our IRI.  Its HTML comes
from another server, so it is sanitised to what Mastodon keeps
(:func:`protocol.html.sanitise`) before a template marks it safe; replies a
moderator hid ("hide" decision) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy import select

from node.services import Node
from protocol.html import sanitise
from protocol.jsonld import get_str
from storage.tables import remote_objects

SHOWN = 50  # the newest replies; a page stays far under 100 KB
MAX_HTML = 5_000  # characters of a reply's HTML kept before sanitising


@dataclass(frozen=True, slots=True)
class Reply:
    id: str
    author: str
    url: str
    html: Markup
    published: str


async def replies_to(node: Node, iri: str) -> list[Reply]:
    """The newest replies to ``iri``, oldest first, sanitised, hidden ones out."""
    async with node.db.read() as conn:
        rows = (
            await conn.execute(
                select(remote_objects.c.id, remote_objects.c.actor,
                       remote_objects.c.document)
                .where(remote_objects.c.in_reply_to == iri)
                .order_by(remote_objects.c.received_at.desc())
                .limit(SHOWN)
            )
        ).all()  # fmt: skip
    hidden = await node.moderation.hidden(row.id for row in rows)
    shown = []
    for row in reversed(rows):
        if row.id in hidden:
            continue
        document: dict[str, Any] = row.document
        content = (get_str(document, "content") or "")[:MAX_HTML]
        url = get_str(document, "url") or row.id
        shown.append(
            Reply(
                id=row.id,
                author=row.actor,
                url=url if url.startswith(("https://", "http://")) else row.id,
                # Safe: what Mastodon's own sanitiser would keep, nothing more.
                html=Markup(sanitise(content)),  # noqa: S704
                published=get_str(document, "published") or "",
            )
        )
    return shown
