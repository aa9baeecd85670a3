"""Admin API tokens: shown once when created, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.errors import BocageError
from storage.database import Database
from storage.tables import api_tokens
from storage.writer import GroupCommitWriter

PREFIX = "bocage_"


class TokenError(BocageError):
    """A token cannot be created or revoked as asked."""


def token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to
    # guard against, unlike passwords), and it keeps the per-request check cheap.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    created_at: float
    last_used_at: float | None
    revoked: bool


class Tokens:
    """Creates, checks and revokes admin tokens."""

    def __init__(self, db: Database, writer: GroupCommitWriter) -> None:
        self.db = db
        self.writer = writer

    async def create(self, name: str) -> str:
        """A new token for ``name``; the only time it is ever visible."""
        if not name or len(name) > 200:
            raise TokenError("a token needs a name of 1 to 200 characters")
        token = PREFIX + secrets.token_urlsafe(32)

        async def save(conn: AsyncConnection) -> bool:
            exists = (
                await conn.execute(
                    select(api_tokens.c.id).where(api_tokens.c.name == name)
                )
            ).first()
            if exists is not None:
                return False
            await conn.execute(
                api_tokens.insert().values(
                    name=name, token_hash=token_hash(token), created_at=time.time()
                )
            )
            return True

        if not await self.writer.submit(save):
            raise TokenError(f"a token named {name!r} exists; revoke it first")
        return token

    async def check(self, token: str) -> str | None:
        """The token's name if it is valid, else None.

        Not cached: a token revoked from the CLI (another process) must stop
        working at once, and the admin API is not a hot path.
        """
        digest = token_hash(token)
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(api_tokens.c.name, api_tokens.c.token_hash).where(
                        api_tokens.c.token_hash == digest,
                        api_tokens.c.revoked_at.is_(None),
                    )
                )
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return str(row.name)

    async def revoke(self, name: str) -> bool:
        now = time.time()

        async def save(conn: AsyncConnection) -> int:
            result = await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return result.rowcount

        revoked: int = await self.writer.submit(save)
        return revoked > 0

    async def list(self) -> list[TokenInfo]:
        async with self.db.read() as conn:
            rows = (
                await conn.execute(select(api_tokens).order_by(api_tokens.c.id))
            ).all()
        return [
            TokenInfo(r.name, r.created_at, r.last_used_at, r.revoked_at is not None)
            for r in rows
        ]
