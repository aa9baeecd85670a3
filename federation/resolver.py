"""Remote actors and their keys: fetched with a signed GET, cached with an expiry.

A key is accepted for an actor only when that actor's own document, fetched
from the actor's origin, lists it (INTEROP.md, "Confirm a key both ways"):
:func:`protocol.actors.parse_actor` keeps only keys whose owner or controller
is the actor, and lookups go through the actor, never through the key URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.context import INSTANCE_USERNAME, Federation
from federation.hosts import HostBook
from federation.http import FetchError
from federation.signing import signer_for
from protocol.actors import parse_actor
from protocol.errors import ProtocolError
from protocol.keys import PublicKey, load_public_pem, public_key_to_pem
from storage.tables import follows, remote_actors, remote_keys

log = logging.getLogger("bocage.federation.resolver")

ACTOR_TTL = 24 * 3600.0
_MEMORY_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class KnownActor:
    """A peer's actor as far as delivery and verification need it."""

    id: str
    inbox: str
    shared_inbox: str | None
    preferred_username: str | None
    keys: dict[str, PublicKey]
    fetched_at: float
    expires_at: float

    @property
    def delivery_inbox(self) -> str:
        """Where to send public activities: the shared inbox when there is one."""
        return self.shared_inbox or self.inbox


class ActorError(FetchError):
    """A peer's actor document could not be had or is not acceptable."""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class ActorResolver:
    """Finds peers' actors: memory, then database, then a signed fetch."""

    def __init__(
        self,
        fed: Federation,
        hosts: HostBook,
        *,
        ttl: float = ACTOR_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fed = fed
        self.hosts = hosts
        self.ttl = ttl
        self._clock = clock
        self._memory: OrderedDict[str, KnownActor] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[KnownActor]] = {}

    async def get(self, actor_id: str, *, refresh: bool = False) -> KnownActor:
        """The actor, fetched again when ``refresh`` or when the cache expired."""
        now = self._clock()
        if not refresh:
            known = self._memory.get(actor_id) or await self._load(actor_id)
            if known is not None and known.expires_at > now:
                self._remember(known)
                return known
        # Many requests from one new actor arrive at once: fetch it once.
        pending = self._inflight.get(actor_id)
        if pending is not None:
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(self._fetch_and_store(actor_id))
        self._inflight[actor_id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._inflight.pop(actor_id, None)
            else:
                task.add_done_callback(lambda _: self._inflight.pop(actor_id, None))

    async def _fetch_and_store(self, actor_id: str) -> KnownActor:
        document = await self.fetch(actor_id)
        return await self.store(document, expected_id=actor_id)

    async def fetch(self, url: str) -> dict[str, Any]:
        """GET a document signed by our instance actor, in the scheme the host takes.

        An unknown host is tried with each scheme in turn; the one it accepts
        after refusing the other is remembered.  A GET that succeeds at once
        teaches nothing: many servers (Fedify 2.3.6 among them) serve actors
        whatever the signature, then refuse that scheme on their inbox.
        Fetches to a paused host are not refused: a fetch is what tells us
        that it is back.
        """
        host = urlsplit(url).netloc.lower()
        state = await self.hosts.get(host)
        last: FetchError | None = None
        schemes = self.hosts.schemes_for(state)
        for index, scheme in enumerate(schemes):
            signer = signer_for(self.fed, INSTANCE_USERNAME, scheme)
            try:
                document = await self.fed.client.get_document(url, signer=signer)
            except FetchError as exc:
                last = exc
                if exc.status in (401, 403) and index + 1 < len(schemes):
                    continue  # the host wants the other scheme, or stopped taking ours
                raise
            if last is not None:
                await self.hosts.succeeded(host, scheme)
            elif state.failures:
                await self.hosts.succeeded(host)
            return document
        assert last is not None
        raise last

    async def store(
        self, document: dict[str, Any], *, expected_id: str | None = None
    ) -> KnownActor:
        """Check and keep an actor document (fetched, or pushed by Update)."""
        try:
            actor = parse_actor(document)
        except ProtocolError as exc:
            raise ActorError(expected_id or "actor", f"unusable actor: {exc}") from None
        if expected_id is not None and actor.id != expected_id:
            raise ActorError(expected_id, f"document is actor {actor.id!r}")
        origin = _origin(actor.id)
        for url in (actor.inbox, actor.shared_inbox):
            # An inbox elsewhere would let one actor make us post to any URL.
            if url is not None and _origin(url) != origin:
                raise ActorError(actor.id, f"inbox {url} is not on the actor's host")
        now = self._clock()
        keys = {key.id: key.public_key for key in actor.public_keys}
        keys.update({key.id: key.public_key for key in actor.assertion_methods})
        known = KnownActor(
            actor.id,
            actor.inbox,
            actor.shared_inbox,
            actor.preferred_username,
            keys,
            now,
            now + self.ttl,
        )
        row = {
            "host": origin[1],
            "inbox": actor.inbox,
            "shared_inbox": actor.shared_inbox,
            "preferred_username": actor.preferred_username,
            "document": document,
            "fetched_at": now,
            "expires_at": known.expires_at,
        }
        key_rows = [
            {
                "key_id": key.id,
                "actor_id": actor.id,
                "public_pem": public_key_to_pem(key.public_key),
                "source": key.source,
            }
            for key in (*actor.public_keys, *actor.assertion_methods)
        ]

        async def save(conn: AsyncConnection) -> None:
            stmt = self.fed.db.insert(remote_actors).values(id=actor.id, **row)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["id"], set_=row)
            )
            # Keys are replaced whole: a rotated key must stop working at once.
            await conn.execute(
                delete(remote_keys).where(remote_keys.c.actor_id == actor.id)
            )
            if key_rows:
                await conn.execute(
                    self.fed.db.insert(remote_keys).on_conflict_do_nothing(), key_rows
                )

        await self.fed.writer.submit(save)
        self._remember(known)
        return known

    async def forget(self, actor_id: str) -> None:
        """Drop a deleted actor, its keys and its follow relations."""
        self._memory.pop(actor_id, None)

        async def drop(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(remote_keys).where(remote_keys.c.actor_id == actor_id)
            )
            await conn.execute(
                delete(remote_actors).where(remote_actors.c.id == actor_id)
            )
            await conn.execute(
                delete(follows).where(
                    (follows.c.follower == actor_id) | (follows.c.followee == actor_id)
                )
            )

        await self.fed.writer.submit(drop)

    def _remember(self, known: KnownActor) -> None:
        self._memory[known.id] = known
        self._memory.move_to_end(known.id)
        while len(self._memory) > _MEMORY_LIMIT:
            self._memory.popitem(last=False)

    async def _load(self, actor_id: str) -> KnownActor | None:
        async with self.fed.db.read() as conn:
            row = (
                await conn.execute(
                    select(remote_actors).where(remote_actors.c.id == actor_id)
                )
            ).first()
            if row is None:
                return None
            key_rows = (
                await conn.execute(
                    select(remote_keys.c.key_id, remote_keys.c.public_pem).where(
                        remote_keys.c.actor_id == actor_id
                    )
                )
            ).all()
        return KnownActor(
            row.id,
            row.inbox,
            row.shared_inbox,
            row.preferred_username,
            {k.key_id: load_public_pem(k.public_pem) for k in key_rows},
            row.fetched_at,
            row.expires_at,
        )
