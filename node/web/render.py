"""Rendering the human pages: templates, negotiation, security headers.

Pages live on the same IRIs as the JSON documents (DESIGN.md, "Protocols"):
a page is registered for a route's path pattern with :func:`page`, and
:func:`negotiate_pages` answers a browser's ``GET`` with it instead of the
JSON handler.  Servers asking for ActivityStreams, and ``?format=`` exports,
still reach the JSON handlers.

Every page is rendered by Jinja2 with autoescaping, carries no script and
loads nothing from another origin; the Content-Security-Policy says so to the
browser too.  Forms are protected against cross-site requests twice: the
``Origin`` must be ours, and a per-visitor token sent both as a cookie and
in the form must match (the double-submit pattern; the cookie is SameSite).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from node.activitypub import wants_html
from node.appkeys import NODE
from node.web.accounts import load_account
from node.web.i18n import Translator, negotiate

log = logging.getLogger("bocage.node.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PAGES: web.AppKey[dict[str, Handler]] = web.AppKey("pages", dict)
# Patterns whose page also goes to clients that name neither HTML nor JSON
# (curl's */*): the node's home, which such a visitor means to read.
PAGES_BY_DEFAULT: web.AppKey[set[str]] = web.AppKey("pages_by_default", set)
TRANSLATOR: web.RequestKey[Translator] = web.RequestKey("translator")
NEW_CSRF: web.RequestKey[str] = web.RequestKey("new_csrf")
CSRF_COOKIE = "bocage_csrf"
LANG_COOKIE = "bocage_lang"
MAX_PAGE_BYTES = 100_000  # issue #8: no page over 100 KB

# No script anywhere, styles only from our own stylesheet, forms only to us.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("node.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates ship with the code: no stat per render
)


def handle_of(iri: str) -> str:
    """``@name@host`` for an actor IRI (the last path segment names the account).

    Mastodon, GoToSocial and Bocage all end actor IRIs with the user name;
    for others this is only a readable label, the link keeps the real IRI.
    """
    parts = urlsplit(iri)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc
    return f"@{name}@{parts.netloc}"


def query_int(request: web.Request, name: str) -> int | None:
    """The integer ``?name=`` of a page's address, None if absent; 400 if not one."""
    if name not in request.query:
        return None
    try:
        return int(request.query[name])
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{name} is an integer") from None


def page(
    app: web.Application, pattern: str, handler: Handler, *, by_default: bool = False
) -> None:
    """Serve ``handler``'s page to browsers on the route whose path is ``pattern``.

    With ``by_default``, also to clients whose ``Accept`` names no JSON type.
    """
    app[PAGES][pattern] = handler
    if by_default:
        app[PAGES_BY_DEFAULT].add(pattern)


def language(request: web.Request) -> str:
    node = request.app[NODE]
    # A language picked with the page's link wins, then remembered in a cookie.
    for chosen in (request.query.get("lang", ""), request.cookies.get(LANG_COOKIE)):
        if chosen in ("fr", "en"):
            return chosen
    default = node.config.node.language.split("-")[0]
    return negotiate(request.headers.get("Accept-Language", ""), default)


def translator(request: web.Request) -> Translator:
    if TRANSLATOR in request:
        return request[TRANSLATOR]
    result = Translator(language(request))
    request[TRANSLATOR] = result
    return result


def csrf_token(request: web.Request) -> str:
    """This visitor's form token; set as a cookie on the response if new."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) != 43:
        token = request.get(NEW_CSRF) or secrets.token_urlsafe(32)
        request[NEW_CSRF] = token
    return token


async def checked_form(request: web.Request) -> Mapping[str, str]:
    """The posted form, once it is shown to come from one of our own pages."""
    node = request.app[NODE]
    origin = request.headers.get("Origin")
    if origin is not None and origin != node.config.origin:
        raise web.HTTPForbidden(reason="this form was posted from another site")
    form = await request.post()
    sent = str(form.get("csrf", ""))
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(
            reason="the form expired or came from elsewhere; reload the page"
        )
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


async def render(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    title: str = "",
    **context: Any,
) -> web.Response:
    """Render ``template`` in the visitor's language, with the shared layout."""
    node = request.app[NODE]
    tr = translator(request)
    account = await load_account(request)
    values = {
        "_": tr.gettext,
        "ngettext": tr.ngettext,
        "when": tr.datetime,
        "number": tr.number,
        "lang": tr.language,
        "node": node.config.node,
        "origin": node.config.origin,
        "handle": f"@{node.config.node.username}@{node.config.node.domain}",
        "path": request.path,
        "other_language": _other_language(request, tr.language),
        "account": account,
        "csrf": csrf_token(request),
        "registrations": node.config.web.registrations,
        "handle_of": handle_of,
        "title": title,
        **context,
    }
    text = _env.get_template(template).render(values)
    response = web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8"
    )
    response.headers["Content-Language"] = tr.language
    if len(response.body or b"") > MAX_PAGE_BYTES:  # type: ignore[arg-type]
        log.warning("page %s is over 100 KB; it should be paginated", request.path)
    return response


def _other_language(request: web.Request, current: str) -> dict[str, str]:
    """The link to this same page in the other language (query kept)."""
    other = "en" if current == "fr" else "fr"
    query = request.rel_url.query.copy()
    query["lang"] = other
    return {
        "code": other,
        "name": "English" if other == "en" else "Français",
        "href": str(request.rel_url.with_query(query)),
    }


def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    node = request.app[NODE]
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    chosen = request.query.get("lang")
    if chosen in ("fr", "en") and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE, chosen, samesite="Lax", path="/", max_age=365 * 86400
        )
    token = request.get(NEW_CSRF)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/",
            secure=node.config.origin.startswith("https:"),
        )  # fmt: skip


@web.middleware
async def negotiate_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Send browsers the page registered for the matched route, if any.

    Also gives every HTML answer its security headers, and a browser that hits
    an error on a page a readable page rather than a JSON body.
    """
    pages = request.app[PAGES]
    resource = request.match_info.route.resource
    pattern = resource.canonical if resource is not None else ""
    chosen = pages.get(pattern) if request.method in ("GET", "HEAD") else None
    browser = "format" not in request.query and (
        wants_html(request)
        or (
            pattern in request.app[PAGES_BY_DEFAULT]
            and "json" not in request.headers.get("Accept", "")
        )
    )
    try:
        if chosen is not None and browser:
            await load_account(request)
            response = await chosen(request)
            response.headers["Vary"] = "Accept, Accept-Language, Cookie"
            response.headers.setdefault("Cache-Control", "no-cache")
        else:
            response = await handler(request)
            if chosen is not None:
                # Caches must keep the JSON and the page apart.
                response.headers["Vary"] = "Accept, Accept-Language"
    except web.HTTPException as exc:
        if not browser or exc.status < 400:
            raise
        await load_account(request)
        response = await render(
            request, "error.html", status=exc.status, title=str(exc.status),
            reason=exc.reason,
        )  # fmt: skip
    if response.content_type == "text/html":
        _secure_headers(request, response)
    return response
