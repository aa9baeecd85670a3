"""The community's charter: versioned, each version tied to the decision adopting it.

Adopting a version appends a ``charter.adopt`` entry to the decision log (with
the SHA-256 of the text, so the log alone proves which text was adopted),
stores the version pointing at that entry, and publishes it as an
ActivityStreams ``Article`` — Create for the first version, Update after —
so followers on Mastodon see its title, summary and link.  Every version
stays readable, and any two can be compared (``/charter/diff?from=1&to=2``).
"""

from __future__ import annotations

import difflib
import hashlib
import html
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from node.activitypub import as_response
from node.appkeys import NODE
from node.services import Node
from protocol.errors import BocageError
from storage.tables import charter_versions

MAX_TEXT = 200_000


class CharterError(BocageError):
    """A charter version cannot be adopted or found as asked."""


class Charter:
    """Adopts and serves the versions of the charter."""

    def __init__(self, node: Node) -> None:
        self.node = node
        fed = node.federation.fed
        self.iri = f"{fed.origin}/charter"
        self.username = node.config.node.username

    async def adopt(
        self,
        title: str,
        text: str,
        *,
        reason: str = "",
        proposal: str = "",
        proposal_decision: int | None = None,
    ) -> int:
        """Adopt a new version; returns its number.

        ``proposal`` and ``proposal_decision`` name the proposal that adopted
        the text and the log entry of its close (node.proposals), so the log
        alone leads from this version to the vote.
        """
        if not title.strip() or not text.strip():
            raise CharterError("a charter version needs a title and a text")
        if len(text) > MAX_TEXT:
            raise CharterError(f"the text is over {MAX_TEXT} characters")
        latest = await self.latest()
        version = 1 if latest is None else latest["version"] + 1
        digest = hashlib.sha256(text.encode()).hexdigest()
        body: dict[str, Any] = {
            "version": version,
            "title": title,
            "sha256": digest,
            "reason": reason,
        }
        if proposal:
            body["proposal"] = proposal
            body["proposalDecision"] = proposal_decision
        entry = await self.node.decisions.append(
            "charter.adopt", f"{self.iri}/versions/{version}", body
        )
        now = time.time()

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                charter_versions.insert().values(
                    version=version, title=title, text=text,
                    decision=entry["index"], adopted_at=now,
                )
            )  # fmt: skip

        await self.node.writer.submit(save)
        # Each version is its own object, created once: Mastodon shows a
        # Create(Article) but ignores Update of anything but Note and Question.
        article = self.article(
            {"version": version, "title": title, "text": text, "adopted_at": now,
             "decision": entry["index"]},
            iri=f"{self.iri}/versions/{version}",
        )  # fmt: skip
        await self.node.federation.outbox.publish(self.username, "Create", article)
        return version

    async def latest(self) -> dict[str, Any] | None:
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(
                    select(charter_versions)
                    .order_by(charter_versions.c.version.desc())
                    .limit(1)
                )
            ).first()
        return dict(row._mapping) if row is not None else None

    async def version(self, number: int) -> dict[str, Any] | None:
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(
                    select(charter_versions).where(charter_versions.c.version == number)
                )
            ).first()
        return dict(row._mapping) if row is not None else None

    def article(self, row: dict[str, Any], *, iri: str | None = None) -> dict[str, Any]:
        """A version as an Article (Mastodon shows name, summary and the link).

        The charter's IRI names the current version; each version also has
        its own (``iri``), so a fetched document's id is always its URL.
        """
        version = row["version"]
        paragraphs = [p.strip() for p in row["text"].split("\n\n") if p.strip()]
        stamp = datetime.fromtimestamp(row["adopted_at"], UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        actor = self.node.federation.fed.actor_iri(self.username)
        content = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        return {
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                {"bocage": "https://w3id.org/bocage/ns#"},
            ],
            "id": iri or self.iri,
            "type": "Article",
            "name": row["title"],
            "summary": f"Version {version} of the charter, adopted by decision "
            f"{row['decision']} of the public log.",
            "content": content,
            "contentMap": {self.node.config.node.language: content},
            "published": stamp,
            "attributedTo": actor,
            "url": f"{self.iri}/versions/{version}",
            "updated": stamp,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [f"{actor}/followers"],
            "bocage:version": version,
            "bocage:decision": f"{self.node.decisions.origin}?page="
            f"{row['decision'] // 100 + 1}#{row['decision']}",
        }


async def _render(
    request: web.Request, row: dict[str, Any] | None, *, own_page: bool = False
) -> web.Response:
    node = request.app[NODE]
    if row is None:
        return web.json_response({"error": "no such charter version"}, status=404)
    iri = node.config.origin + request.path if own_page else None
    return as_response(node.charter.article(row, iri=iri))


async def charter_view(request: web.Request) -> web.Response:
    return await _render(request, await request.app[NODE].charter.latest())


async def version_view(request: web.Request) -> web.Response:
    number = int(request.match_info["number"])
    found = await request.app[NODE].charter.version(number)
    return await _render(request, found, own_page=True)


async def diff_view(request: web.Request) -> web.Response:
    """A unified diff between two versions, as plain text."""
    charter = request.app[NODE].charter
    try:
        old, new = int(request.query["from"]), int(request.query["to"])
    except (KeyError, ValueError):
        return web.json_response(
            {"error": "give from= and to= version numbers"}, status=400
        )
    first, second = await charter.version(old), await charter.version(new)
    if first is None or second is None:
        return web.json_response({"error": "no such charter version"}, status=404)
    lines = difflib.unified_diff(
        first["text"].splitlines(keepends=True),
        second["text"].splitlines(keepends=True),
        fromfile=f"charter v{old}",
        tofile=f"charter v{new}",
    )
    return web.Response(text="".join(lines), content_type="text/plain")


def setup_charter_routes(app: web.Application) -> None:
    app.router.add_get("/charter", charter_view)
    app.router.add_get("/charter/versions/{number:\\d+}", version_view)
    app.router.add_get("/charter/diff", diff_view)
