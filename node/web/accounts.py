"""Accounts for people who sign in on the node's pages.

An account is a local ``Person`` actor (so it can be followed, and admitted as
a member like any fediverse account) with a password hashed by argon2id.
A signed-in browser holds a random session token in an HttpOnly, SameSite
cookie; the database keeps only the token's SHA-256, so a leaked database
opens no session.  Failed sign-ins are counted per account and per address,
and refused for a quarter of an hour after ten.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import cache

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from node.appkeys import NODE
from node.services import Node
from protocol.errors import BocageError
from storage.tables import local_actors, web_accounts, web_sessions

log = logging.getLogger("bocage.node.web.accounts")

USERNAME_RE = re.compile(r"[a-z0-9_]{3,30}")
MIN_PASSWORD = 10
FAILURE_WINDOW = 15 * 60.0
MAX_FAILURES = 10
MAX_TRACKED = 10_000  # names and addresses with recent failures

# One hasher for the process: argon2id with the library's RFC 9106 defaults.
_hasher = PasswordHasher()


class AccountError(BocageError):
    """An account cannot be created or used as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    name: str
    actor: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Creates accounts, checks passwords, opens and closes sessions."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    async def create(self, username: str, password: str, name: str = "") -> Account:
        """Open an account; refuses taken or reserved names and short passwords."""
        username = username.strip().lower()
        if not USERNAME_RE.fullmatch(username):
            raise AccountError("a user name is 3 to 30 lower-case letters, digits or _")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
        name = name.strip()[:100] or username
        # argon2 costs tens of milliseconds of CPU: keep it off the event loop.
        hashed = await asyncio.to_thread(_hasher.hash, password)
        now = time.time()

        async def save(conn: AsyncConnection) -> bool:
            taken = (
                await conn.execute(
                    select(local_actors.c.username).where(
                        local_actors.c.username == username
                    )
                )
            ).first()
            if taken is not None:
                return False
            await conn.execute(
                local_actors.insert().values(
                    username=username, type="Person", name=name, summary="",
                    manually_approves=False, created_at=now,
                )
            )  # fmt: skip
            await conn.execute(
                web_accounts.insert().values(
                    username=username, password_hash=hashed, created_at=now
                )
            )
            return True

        if not await self.node.writer.submit(save):
            raise AccountError(f"the name {username!r} is taken")
        log.info("account %s opened", username)
        return Account(username, name, self.fed.actor_iri(username))

    async def authenticate(self, username: str, password: str, address: str) -> Account:
        """The account if the password is right; AccountError otherwise."""
        username = username.strip().lower()
        keys = (f"user:{username}", f"addr:{address}")
        now = time.time()
        for key in keys:
            recent = self._failures[key]
            while recent and recent[0] < now - FAILURE_WINDOW:
                recent.popleft()
            if len(recent) >= MAX_FAILURES:
                raise AccountError("too many failed attempts; try again later")
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(
                    select(web_accounts, local_actors.c.name)
                    .join(local_actors)
                    .where(web_accounts.c.username == username)
                )
            ).first()
        # Hash even for unknown names, so timing does not tell which exist.
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
            ok = row is not None and not row.disabled
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None:
            for key in keys:
                self._failures[key].append(now)
            self._forget_old_failures(now)
            raise AccountError("wrong user name or password")
        return Account(row.username, row.name, self.fed.actor_iri(row.username))

    def _forget_old_failures(self, now: float) -> None:
        # Someone trying many names must not grow this table without end.
        if len(self._failures) > MAX_TRACKED:
            for key in [
                k
                for k, v in self._failures.items()
                if not v or v[-1] < now - FAILURE_WINDOW
            ]:
                del self._failures[key]

    async def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
        hashed = await asyncio.to_thread(_hasher.hash, password)

        async def save(conn: AsyncConnection) -> int:
            result = await conn.execute(
                web_accounts.update()
                .where(web_accounts.c.username == username)
                .values(password_hash=hashed)
            )
            # A new password signs every browser out.
            await conn.execute(
                delete(web_sessions).where(web_sessions.c.username == username)
            )
            return int(result.rowcount or 0)

        if not await self.node.writer.submit(save):
            raise AccountError(f"no account {username!r}")

    async def open_session(self, username: str) -> str:
        """A new session token for the cookie (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        expires = now + self.node.config.web.session_days * 86400

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                web_sessions.insert().values(
                    token_hash=token_hash(token), username=username,
                    created_at=now, expires_at=expires,
                )
            )  # fmt: skip

        await self.node.writer.submit(save)
        return token

    async def session(self, token: str) -> Account | None:
        if not token or len(token) > 100:
            return None
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(
                    select(web_sessions.c.username, local_actors.c.name)
                    .join(
                        web_accounts, web_accounts.c.username == web_sessions.c.username
                    )
                    .join(
                        local_actors, local_actors.c.username == web_sessions.c.username
                    )
                    .where(
                        web_sessions.c.token_hash == token_hash(token),
                        web_sessions.c.expires_at > time.time(),
                        ~web_accounts.c.disabled,
                    )
                )
            ).first()
        if row is None:
            return None
        return Account(row.username, row.name, self.fed.actor_iri(row.username))

    async def close_session(self, token: str) -> None:
        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(web_sessions).where(
                    (web_sessions.c.token_hash == token_hash(token))
                    | (web_sessions.c.expires_at < time.time())
                )
            )

        await self.node.writer.submit(save)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


SESSION_COOKIE = "bocage_session"
ACCOUNT: web.RequestKey[Account | None] = web.RequestKey("account")
_HOLDER: web.AppKey[dict[str, Accounts]] = web.AppKey("accounts", dict)


def accounts_of(app: web.Application) -> Accounts:
    """The application's account service, made once the node is open."""
    holder = app.get(_HOLDER)
    if holder is None:
        raise AccountError("accounts are not set up on this application")
    if "service" not in holder:
        holder["service"] = Accounts(app[NODE])
    return holder["service"]


def setup_accounts(app: web.Application) -> None:
    app[_HOLDER] = {}


async def load_account(request: web.Request) -> Account | None:
    """The signed-in account of this request, if its cookie opens a session."""
    if ACCOUNT in request:
        return request[ACCOUNT]
    token = request.cookies.get(SESSION_COOKIE, "")
    account = await accounts_of(request.app).session(token) if token else None
    request[ACCOUNT] = account
    return account
