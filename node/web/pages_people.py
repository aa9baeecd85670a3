"""Sign-in, sign-up, sign-out and a person's own page.

Sign-in answers with a new session cookie (HttpOnly, SameSite=Lax, Secure on
https) and a redirect to a path on this node only, never to another site.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from node.appkeys import NODE
from node.governance import MembershipError
from node.web.accounts import (
    SESSION_COOKIE,
    Account,
    AccountError,
    accounts_of,
    load_account,
)
from node.web.render import checked_form, render, translator

log = logging.getLogger("bocage.node.web.people")


def _next_path(value: str) -> str:
    """A local path to go back to; anything else (//host, https:…) goes home."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def see_other(location: str) -> web.Response:
    """303: after a form, the browser fetches the next page with GET."""
    return web.Response(status=303, headers={"Location": location})


def _signed_in(response: web.StreamResponse, request: web.Request, token: str) -> None:
    node = request.app[NODE]
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Lax", path="/",
        secure=node.config.origin.startswith("https:"),
        max_age=int(node.config.web.session_days * 86400),
    )  # fmt: skip


async def require_account(request: web.Request) -> Account:
    account = await load_account(request)
    if account is None:
        raise web.HTTPSeeOther(f"/signin?next={quote(request.path)}")
    return account


async def signin_page(request: web.Request) -> web.Response:
    return await render(
        request, "signin.html", title=translator(request).gettext("Sign in"),
        next=_next_path(request.query.get("next", "/")), error="", username="",
    )  # fmt: skip


async def signin(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    accounts = accounts_of(request.app)
    target = _next_path(form.get("next", "/"))
    try:
        account = await accounts.authenticate(
            form.get("username", ""), form.get("password", ""), request.remote or ""
        )
    except AccountError as exc:
        tr = translator(request)
        return await render(
            request, "signin.html", status=401, title=tr.gettext("Sign in"),
            next=target, error=tr.gettext(str(exc)), username=form.get("username", ""),
        )  # fmt: skip
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await accounts.close_session(old)
    response = see_other(target)
    _signed_in(response, request, await accounts.open_session(account.username))
    log.info("%s signed in", account.username)
    return response


async def signup_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    if not node.config.web.registrations:
        raise web.HTTPForbidden(reason=tr.gettext("This node does not open accounts."))
    return await render(
        request, "signup.html", title=tr.gettext("Open an account"),
        error="", username="", name="",
    )  # fmt: skip


async def signup(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    tr = translator(request)
    if not node.config.web.registrations:
        raise web.HTTPForbidden(reason=tr.gettext("This node does not open accounts."))
    form = await checked_form(request)
    accounts = accounts_of(request.app)
    username, name = form.get("username", ""), form.get("name", "")
    error = ""
    if form.get("password", "") != form.get("confirm", ""):
        error = tr.gettext("the two passwords differ")
    else:
        try:
            account = await accounts.create(username, form.get("password", ""), name)
        except AccountError as exc:
            error = tr.gettext(str(exc))
    if error:
        return await render(
            request, "signup.html", status=400, title=tr.gettext("Open an account"),
            error=error, username=username, name=name,
        )  # fmt: skip
    response = see_other("/me")
    _signed_in(response, request, await accounts.open_session(account.username))
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await accounts_of(request.app).close_session(token)
    response = see_other("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    account = await require_account(request)
    membership = await node.membership.get(account.actor)
    return await render(
        request, "me.html", title=account.name, membership=membership,
        message=request.query.get("done", ""),
    )  # fmt: skip


async def ask_membership(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    await checked_form(request)
    account = await require_account(request)
    try:
        await node.membership.request(account.actor)
    except MembershipError as exc:
        raise web.HTTPConflict(reason=str(exc)) from None
    return see_other("/me?done=requested")


def setup(app: web.Application) -> None:
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/signin", signin)
    app.router.add_get("/signup", signup_page)
    app.router.add_post("/signup", signup)
    app.router.add_post("/signout", signout)
    app.router.add_get("/me", me_page)
    app.router.add_post("/me/membership", ask_membership)
