"""A running node and a browser-like HTTP client for the page tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest

from node.app import NODE, create_app
from node.config import Config
from node.server import start_site
from node.services import Node
from tests.conftest import free_port, make_config

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


@dataclass
class Site:
    config: Config
    node: Node
    http: aiohttp.ClientSession

    @property
    def origin(self) -> str:
        return self.config.origin

    async def page(self, path: str, *, language: str = "en", status: int = 200) -> str:
        headers = {**HTML, "Accept-Language": language}
        async with self.http.get(self.origin + path, headers=headers) as response:
            text = await response.text()
            assert response.status == status, text[:500]
            return text

    async def csrf(self, path: str = "/signin") -> str:
        text = await self.page(path)
        found = re.search(r'name="csrf" value="([^"]+)"', text)
        assert found, "no form token on " + path
        return found.group(1)

    async def post(
        self, path: str, data: dict[str, str], *, status: int = 303
    ) -> aiohttp.ClientResponse:
        headers = {**HTML, "Origin": self.origin, "Accept-Language": "en"}
        response = await self.http.post(
            self.origin + path, data=data, headers=headers, allow_redirects=False
        )
        await response.read()
        assert response.status == status, (await response.text())[:500]
        return response

    async def sign_up(self, username: str, password: str = "correct horse 1") -> None:
        token = await self.csrf("/signup")
        await self.post(
            "/signup",
            {"csrf": token, "username": username, "name": username.title(),
             "password": password, "confirm": password},
        )  # fmt: skip


@pytest.fixture
async def site(tmp_path: Path, database_url: str) -> AsyncIterator[Site]:
    config = make_config(tmp_path / "node", database_url, port=free_port())
    app = create_app(config)
    runner = await start_site(app, config)
    jar = aiohttp.CookieJar(unsafe=True)  # the node is on an IP address
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            yield Site(config, app[NODE], http)
    finally:
        await runner.cleanup()


class _PageAudit(HTMLParser):
    """Collects what the page rules are about: scripts, links, fields, labels."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.external: list[str] = []
        self.fields: list[str] = []
        self.labels: set[str] = set()
        self.inline_styles = 0
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = values.get("lang", "")
        if tag == "script":
            self.scripts += 1
        if "style" in values:
            self.inline_styles += 1  # the CSP refuses inline styles
        if tag in ("link", "img", "iframe", "source") and (
            values.get("href", "") + values.get("src", "")
        ).startswith(("http:", "https:", "//")):
            self.external.append(values.get("href") or values.get("src", ""))
        if tag == "label" and values.get("for"):
            self.labels.add(values["for"])
        if tag in ("input", "select", "textarea") and values.get("type") not in (
            "hidden",
            "submit",
        ):
            self.fields.append(values.get("id", "(no id)"))


def audit_page(text: str) -> None:
    """The rules of issue #8 every page keeps: size, no script, no outside
    resource, no inline style (the CSP would drop it), a label per field."""
    assert len(text.encode()) < 100_000, f"page of {len(text.encode())} bytes"
    audit = _PageAudit()
    audit.feed(text)
    assert audit.lang in ("fr", "en")
    assert audit.scripts == 0
    assert audit.external == []
    assert audit.inline_styles == 0
    unlabelled = [f for f in audit.fields if f not in audit.labels]
    assert unlabelled == [], f"fields without a label: {unlabelled}"
