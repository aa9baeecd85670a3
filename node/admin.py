"""The admin HTTP API: authoring the catalogue with a bearer token.

Every route but the OpenAPI document needs ``Authorization: Bearer <token>``
(``bocage token create NAME`` prints one).  Bodies are JSON shaped as
:mod:`protocol.records` describes; a refusal names the field at fault.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from node.appkeys import NODE
from protocol.errors import ProtocolError
from protocol.records import decode_dataset, decode_service

log = logging.getLogger("bocage.node.admin")

PREFIX = "/api/admin"
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_FILE_BYTES = 256 * 1024 * 1024
_IMPORT_TYPES = ("text/turtle", "application/ld+json", "application/rdf+xml")


def _problem(status: int, reason: str, **extra: Any) -> web.Response:
    return web.json_response({"error": reason, **extra}, status=status)


@web.middleware
async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
    """Admin routes need a valid bearer token; others pass through."""
    path = request.path
    if not path.startswith(PREFIX + "/") or path == f"{PREFIX}/openapi.json":
        response: web.StreamResponse = await handler(request)
        return response
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    name = (
        await request.app[NODE].tokens.check(token.strip())
        if scheme == "Bearer"
        else None
    )
    if name is None:
        return web.json_response(
            {"error": "a valid admin token is required (bocage token create NAME)"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="bocage-admin"'},
        )
    log.info("admin %s %s by token %s", request.method, path, name)
    response = await handler(request)
    return response


async def _json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=orjson.dumps({"error": "expected application/json"}).decode(),
            content_type="application/json",
        )
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(
            text=orjson.dumps({"error": "body is not valid JSON"}).decode(),
            content_type="application/json",
        ) from None


async def put_record(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    slug = request.match_info["slug"]
    data = await _json_body(request)
    if not isinstance(data, dict):
        return _problem(400, "expected a JSON object")
    data.setdefault("slug", slug)
    if data["slug"] != slug:
        return _problem(400, "slug: differs from the URL's")
    try:
        record = decode_dataset(data) if kind == "datasets" else decode_service(data)
        document, created = await request.app[NODE].catalogue.put(record)
    except ProtocolError as exc:
        return _problem(400, str(exc), field=getattr(exc, "field", ""))
    return web.json_response(document, status=201 if created else 200)


async def delete_record(request: web.Request) -> web.Response:
    kind = "Dataset" if request.match_info["kind"] == "datasets" else "DataService"
    if await request.app[NODE].catalogue.delete(kind, request.match_info["slug"]):
        return web.Response(status=204)
    return _problem(404, "no such record of ours")


async def import_catalogue(request: web.Request) -> web.Response:
    media_type = request.content_type
    if media_type not in _IMPORT_TYPES:
        return _problem(415, f"expected one of {', '.join(_IMPORT_TYPES)}")
    data = await request.content.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return _problem(413, f"imports are limited to {MAX_IMPORT_BYTES} bytes")
    try:
        summary = await request.app[NODE].catalogue.import_catalogue(data, media_type)
    except ProtocolError as exc:
        return _problem(400, str(exc))
    return web.json_response(
        {
            "created": summary.created,
            "updated": summary.updated,
            "refused": [{"subject": s, "reason": r} for s, r in summary.refused],
        }
    )


def files_dir(request: web.Request) -> Path:
    return Path(request.app[NODE].config.node.data_dir) / "files"


async def upload_file(request: web.Request) -> web.Response:
    """Store a distribution's file; answer its SHA-256 and download URL."""
    folder = files_dir(request)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    partial = folder / f".upload-{id(request)}"
    size = 0
    with partial.open("wb") as out:
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                out.close()
                partial.unlink()
                return _problem(413, f"files are limited to {MAX_FILE_BYTES} bytes")
            digest.update(chunk)
            out.write(chunk)
    sha = digest.hexdigest()
    partial.replace(folder / sha)
    return web.json_response(
        {
            "sha256": sha,
            "byte_size": size,
            "url": request.app[NODE].catalogue.file_url(sha),
        },
        status=201,
    )


def openapi(origin: str) -> dict[str, Any]:
    """The admin API described in OpenAPI 3.1, served at /api/admin/openapi.json."""
    error = {"$ref": "#/components/schemas/Error"}
    json_error = {"application/json": {"schema": error}}
    record_ops = {
        "put": {
            "summary": "Create or replace a record (signed and sent to followers)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": {"description": "Replaced; the signed record"},
                "201": {"description": "Created; the signed record"},
                "400": {
                    "description": "Invalid; names the field",
                    "content": json_error,
                },
                "401": {"description": "No valid token", "content": json_error},
                "415": {"description": "Not JSON", "content": json_error},
            },
        },
        "delete": {
            "summary": "Withdraw a record (it then answers 410)",
            "responses": {
                "204": {"description": "Withdrawn"},
                "401": {"description": "No valid token", "content": json_error},
                "404": {"description": "No such record", "content": json_error},
            },
        },
    }
    slug = {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bocage admin API", "version": "1"},
        "servers": [{"url": f"{origin}{PREFIX}"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "field": {"type": "string"},
                    },
                    "required": ["error"],
                }
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/datasets/{slug}": {"parameters": [slug], **record_ops},
            "/services/{slug}": {"parameters": [slug], **record_ops},
            "/import": {
                "post": {
                    "summary": "Import a DCAT catalogue (Turtle, JSON-LD, RDF/XML)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            t: {"schema": {"type": "string"}} for t in _IMPORT_TYPES
                        },
                    },
                    "responses": {
                        "200": {"description": "Created, updated and refused records"},
                        "400": {
                            "description": "Malformed; nothing written",
                            "content": json_error,
                        },
                        "401": {"description": "No valid token", "content": json_error},
                        "413": {"description": "Too large", "content": json_error},
                        "415": {
                            "description": "Unsupported type",
                            "content": json_error,
                        },
                    },
                }
            },
            "/files": {
                "post": {
                    "summary": "Store a file; answers its SHA-256 and URL",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "responses": {
                        "201": {"description": "Stored"},
                        "401": {"description": "No valid token", "content": json_error},
                        "413": {"description": "Too large", "content": json_error},
                    },
                }
            },
        },
    }


async def openapi_view(request: web.Request) -> web.Response:
    return web.json_response(openapi(request.app[NODE].config.origin))


def setup_admin(app: web.Application) -> None:
    app.middlewares.append(require_token)
    router = app.router
    router.add_get(f"{PREFIX}/openapi.json", openapi_view)
    router.add_put(f"{PREFIX}/{{kind:datasets|services}}/{{slug}}", put_record)
    router.add_delete(f"{PREFIX}/{{kind:datasets|services}}/{{slug}}", delete_record)
    router.add_post(f"{PREFIX}/import", import_catalogue)
    router.add_post(f"{PREFIX}/files", upload_file)
