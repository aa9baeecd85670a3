"""Engines and transactions for SQLite and PostgreSQL behind one interface.

SQLite is the default: one file, nothing to install.  It allows one writer at a
time, so every writing transaction starts with ``BEGIN IMMEDIATE`` (taking the
write lock up front, instead of failing with SQLITE_BUSY when a deferred reader
tries to upgrade) and the in-process writes share one connection through the
group-commit writer.  PostgreSQL is for scale; there the same code runs on a
normal connection pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from protocol.errors import BocageError

# Both dialects' Insert share the on_conflict_* API we use.
Insert = postgresql.Insert | sqlite.Insert

log = logging.getLogger("bocage.storage")


class StorageError(BocageError):
    """The database refused an operation or cannot be reached."""


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # The driver's own transaction handling would BEGIN lazily and hide
    # SAVEPOINTs; we emit BEGIN ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while one writer commits; NORMAL fsyncs at checkpoints,
    # which stays durable across a process crash (only power loss can roll back
    # the last commits).  https://www.sqlite.org/wal.html
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=10000",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


class Database:
    """A node's database: a reading engine and a writing engine.

    On PostgreSQL both names point at one pooled engine.  On SQLite the writer
    is a single connection whose transactions begin IMMEDIATE; readers use a
    small pool and see committed data thanks to WAL.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = url.split("+", 1)[0].split(":", 1)[0]
        if self.dialect == "sqlite":
            path = Path(url.split(":///", 1)[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = create_async_engine(
                url,
                echo=echo,
                pool_size=1,
                max_overflow=0,
                pool_timeout=60,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            self.reader = create_async_engine(
                url,
                echo=echo,
                pool_size=4,
                max_overflow=4,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            for engine, begin in (
                (self.writer, _sqlite_begin_immediate),
                (self.reader, _sqlite_begin_deferred),
            ):
                event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
                event.listen(engine.sync_engine, "begin", begin)
        elif self.dialect == "postgresql":
            self.writer = create_async_engine(
                url,
                echo=echo,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            self.reader = self.writer
        else:
            raise StorageError(f"unsupported database dialect {self.dialect!r}")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A writing transaction, committed when the block ends without error."""
        try:
            async with self.writer.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(
                f"database write failed: {exc.__class__.__name__}"
            ) from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only view; on SQLite it does not wait for the writer."""
        try:
            async with self.reader.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(
                f"database read failed: {exc.__class__.__name__}"
            ) from exc

    def insert(self, table: Table) -> Insert:
        """An INSERT with this dialect's ``on_conflict_do_*`` (upserts, dedupe)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def ping(self) -> None:
        """Raise :class:`StorageError` unless the database answers."""
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def redact_url(url: str) -> str:
    """The URL without its password, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
