"""Public catalogue routes: records, the paginated catalogue, exports, search, files.

Every record answers on its own IRI: ActivityStreams JSON for servers (the
signed document as published), Turtle, RDF/XML or JSON-LD for open-data tools
(DCAT-AP 3) — by ``Accept``, or explicitly with ``?format=ttl|rdf|jsonld``.
People's browsers get the pages of :mod:`node.web.pages_catalogue` on the same
IRIs.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from node.activitypub import (
    as_response,
    collection,
    collection_page,
    keyset_page,
    page_cursor,
)
from node.appkeys import NODE
from node.catalogue import record_to_public
from protocol import dcat
from storage.search import SearchQuery, search
from storage.tables import records

PROFILE_DIR = Path(dcat.__file__).with_name("profile")
_FORMATS = {
    "ttl": "turtle",
    "turtle": "turtle",
    "rdf": "xml",
    "xml": "xml",
    "jsonld": "json-ld",
}
_ACCEPTS = (
    ("text/turtle", "turtle"),
    ("application/rdf+xml", "xml"),
    ("application/ld+json", "json-ld"),
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def rdf_format(request: web.Request) -> str | None:
    """The RDF serialisation asked for, if any (JSON for AS is not one)."""
    explicit = request.query.get("format")
    if explicit is not None:
        if explicit not in _FORMATS:
            raise web.HTTPBadRequest(reason="format must be ttl, rdf or jsonld")
        return _FORMATS[explicit]
    accept = request.headers.get("Accept", "")
    if "activitystreams" in accept or "application/activity+json" in accept:
        return None
    for media_type, fmt in _ACCEPTS:
        if media_type in accept:
            return fmt
    return None


async def _serialise(graph_of: Any, fmt: str) -> web.Response:
    # Expanding JSON-LD and serialising RDF cost milliseconds: off the loop.
    body = await asyncio.to_thread(lambda: dcat.serialize(graph_of(), fmt))  # type: ignore[arg-type]
    return web.Response(body=body, content_type=dcat.MEDIA_TYPES[fmt], charset="utf-8")


async def record_view(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    kind = "Dataset" if request.match_info["kind"] == "datasets" else "DataService"
    row = await node.catalogue.get(kind, request.match_info["slug"])
    if row is None:
        return web.json_response({"error": "no such record"}, status=404)
    if row.deleted_at is not None:
        tombstone = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": row.id,
            "type": "Tombstone",
            "formerType": f"dcat:{kind}",
        }
        return as_response(tombstone, status=410)
    document: dict[str, Any] = row.document
    fmt = rdf_format(request)
    if fmt is not None:
        return await _serialise(lambda: dcat.to_graph(document), fmt)
    return as_response(document)


async def catalogue_view(request: web.Request) -> web.StreamResponse:
    """Our own records (never the mirrored ones), newest first, by pages."""
    node = request.app[NODE]
    iri = node.catalogue.collection
    own = records.c.deleted_at.is_(None) & ~records.c.mirrored
    fmt = rdf_format(request)
    is_page, before, at = page_cursor(request)
    async with node.db.read() as conn:
        if not is_page and fmt is None:
            total = (
                await conn.execute(select(func.count()).select_from(records).where(own))
            ).scalar_one()
            name = f"{node.config.node.name} — catalogue"
            return as_response(collection(iri, int(total), name=name))
        stmt = select(records.c.seq, records.c.document).where(own)
        rows, cursor = await keyset_page(conn, stmt, records.c.seq, before)
    documents = [row.document for row in rows]
    next_url = f"{iri}?before={cursor}" if cursor is not None else None
    if fmt is not None:
        config = node.config
        response = await _serialise(
            lambda: dcat.catalog_graph(
                iri=iri,
                title=config.node.name,
                description=config.node.summary or f"Open data of {config.node.name}",
                publisher_iri=node.catalogue.actor,
                publisher_name=config.node.name,
                records=documents,
                homepage=config.origin + "/",
            ),
            fmt,
        )
        if next_url:
            suffix = {"turtle": "ttl", "xml": "rdf", "json-ld": "jsonld"}[fmt]
            response.headers["Link"] = f'<{next_url}&format={suffix}>; rel="next"'
        return response
    return as_response(collection_page(iri, documents, cursor, at))


async def search_view(request: web.Request) -> web.Response:
    """Search own and mirrored records; each hit says where it comes from."""
    q = request.query
    try:
        page = max(1, int(q.get("page", "1")))
        per_page = min(100, max(1, int(q.get("per_page", "20"))))
    except ValueError:
        return web.json_response(
            {"error": "page and per_page are integers"}, status=400
        )
    kind = q.get("kind")
    if kind not in (None, "Dataset", "DataService"):
        return web.json_response(
            {"error": "kind is Dataset or DataService"}, status=400
        )
    query = SearchQuery(
        text=q.get("q", "")[:500],
        themes=tuple(q.getall("theme", [])),
        keywords=tuple(q.getall("keyword", [])),
        formats=tuple(q.getall("format", [])),
        publisher=q.get("publisher", ""),
        kind=kind,
        include_mirrored=q.get("mirrored", "true") != "false",
        page=page,
        per_page=per_page,
    )
    result = await search(request.app[NODE].db, query)
    return web.json_response(
        {
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "items": [record_to_public(item) for item in result.items],
        }
    )


async def mirror_view(request: web.Request) -> web.Response:
    """A record mirrored from a peer, exactly as signed, with its provenance.

    ``?format=json`` names the ActivityStreams document explicitly (a link
    cannot set ``Accept``); ``ttl``, ``rdf`` and ``jsonld`` export it as RDF.
    """
    iri = request.query.get("id", "")
    row = await request.app[NODE].catalogue.get_by_iri(iri)
    if row is None or not row.mirrored or row.deleted_at is not None:
        return web.json_response(
            {"error": "no mirrored record with that id"}, status=404
        )
    document: dict[str, Any] = row.document
    fmt = None if request.query.get("format") == "json" else rdf_format(request)
    if fmt is not None:
        response = await _serialise(lambda: dcat.to_graph(document), fmt)
    else:
        response = as_response(document)
    response.headers["Link"] = f'<{row.id}>; rel="canonical"'
    response.headers["X-Bocage-Origin"] = row.origin
    response.headers["X-Bocage-Verified-At"] = f"{row.verified_at:.0f}"
    return response


async def file_view(request: web.Request) -> web.StreamResponse:
    sha = request.match_info["sha256"]
    if not _SHA256.match(sha):
        return web.json_response({"error": "no such file"}, status=404)
    path = Path(request.app[NODE].config.node.data_dir) / "files" / sha
    if not path.is_file():
        return web.json_response({"error": "no such file"}, status=404)
    return web.FileResponse(
        path, headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


async def profile_view(request: web.Request) -> web.StreamResponse:
    """The Bocage profile: vocabulary, JSON-LD context and SHACL shapes."""
    files = {
        "": ("bocage.ttl", "text/turtle"),
        "/context.jsonld": ("context.jsonld", "application/ld+json"),
        "/shapes.ttl": ("shapes.ttl", "text/turtle"),
    }
    name, media_type = files[request.match_info.get("part", "")]
    return web.Response(
        body=(PROFILE_DIR / name).read_bytes(), content_type=media_type, charset="utf-8"
    )


def setup_catalogue_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/catalogue", catalogue_view)
    router.add_get("/catalogue/search", search_view)
    router.add_get("/mirror", mirror_view)
    router.add_get("/{kind:datasets|services}/{slug}", record_view)
    router.add_get("/files/{sha256}", file_view)
    router.add_get("/ns/bocage", profile_view)
    router.add_get("/ns/bocage{part:/context.jsonld|/shapes.ttl}", profile_view)
