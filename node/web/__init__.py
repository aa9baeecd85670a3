"""The human side of a node: pages in French and English, sign-in, forms.

:func:`setup_web` registers the pages on the same IRIs as the JSON documents,
the stylesheet, and the account routes.  See :mod:`node.web.render` for how a
page is chosen and :mod:`node.web.accounts` for sign-in.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from node.web import (
    pages_catalogue,
    pages_fediverse,
    pages_governance,
    pages_people,
)
from node.web.accounts import setup_accounts
from node.web.render import PAGES, PAGES_BY_DEFAULT, negotiate_pages

STATIC = Path(__file__).parent / "static"


async def stylesheet(request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC / "site.css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def setup_web(app: web.Application) -> None:
    """Add the pages, the stylesheet and sign-in to ``app`` (before it starts)."""
    app[PAGES] = {}
    app[PAGES_BY_DEFAULT] = set()
    setup_accounts(app)
    app.middlewares.append(negotiate_pages)
    app.router.add_get("/assets/site.css", stylesheet)
    pages_people.setup(app)
    pages_catalogue.setup(app)
    pages_governance.setup(app)
    pages_fediverse.setup(app)
