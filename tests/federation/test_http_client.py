"""The outbound client's guards, against real servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from federation.http import FetchError, ForbiddenAddress, HttpClient, HttpPolicy
from tests.conftest import free_port


@pytest.fixture
async def server() -> AsyncIterator[str]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"

    async def doc(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        claimed = {"liar": f"{origin}/docs/someone-else"}.get(name, str(request.url))
        return web.json_response(
            {"id": claimed, "type": "Note"}, content_type="application/activity+json"
        )

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        target = f"{origin}/docs/final" if n == 0 else f"{origin}/hop/{n - 1}"
        raise web.HTTPFound(target)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000, content_type="application/activity+json")

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def private_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/secret")

    app = web.Application()
    app.router.add_get("/docs/{name}", doc)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/big", big)
    app.router.add_get("/html", html)
    app.router.add_get("/to-private", private_redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield origin
    await runner.cleanup()


def client(**policy: object) -> HttpClient:
    return HttpClient(HttpPolicy(**policy))  # type: ignore[arg-type]


async def test_loopback_is_refused_unless_allowed(server: str) -> None:
    closed = client()
    with pytest.raises(ForbiddenAddress):
        await closed.get_document(f"{server}/docs/a")
    open_ = client(allow_private_hosts=frozenset({"127.0.0.1"}))
    try:
        assert (await open_.get_document(f"{server}/docs/a"))["type"] == "Note"
    finally:
        await closed.close()
        await open_.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/x",  # a name resolving to loopback
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "ftp://example.org/x",
        "http://example.org/x",  # plain http to a public host
    ],
)
async def test_private_and_odd_targets_are_refused(url: str) -> None:
    guarded = client()
    try:
        with pytest.raises(ForbiddenAddress):
            await guarded.get_document(url)
    finally:
        await guarded.close()


async def test_test_domains_resolve_through_the_hook(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    hooked = client(resolve_overrides={"brest.test": "127.0.0.1"})
    try:
        document = await hooked.get_document(f"http://brest.test:{port}/docs/b")
        assert document["id"] == f"http://brest.test:{port}/docs/b"
    finally:
        await hooked.close()


async def test_document_checks(server: str) -> None:
    allowed = client(
        allow_private_hosts=frozenset({"127.0.0.1"}),
        max_body_bytes=1000,
        max_redirects=2,
    )
    try:
        with pytest.raises(FetchError, match="is not its URL"):
            await allowed.get_document(f"{server}/docs/liar")
        assert (await allowed.get_document(f"{server}/hop/1"))["id"].endswith("/final")
        with pytest.raises(FetchError, match="more than 2 redirects"):
            await allowed.get_document(f"{server}/hop/5")
        with pytest.raises(FetchError, match="size cap"):
            await allowed.get_document(f"{server}/big")
        with pytest.raises(FetchError, match="not an ActivityStreams document"):
            await allowed.get_document(f"{server}/html")
        with pytest.raises(ForbiddenAddress):
            await allowed.get_document(f"{server}/to-private")
        with pytest.raises(FetchError) as gone:
            await allowed.get_document(f"{server}/nothing-here")
        assert gone.value.status == 404
    finally:
        await allowed.close()
