"""Assembly: every federation component of one node process, wired once."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.context import DELIVER_QUEUE, INBOX_QUEUE, INSTANCE_USERNAME, Federation
from federation.delivery import Deliverer
from federation.hosts import HostBook
from federation.inbox import Inbox
from federation.outbox import Outbox
from federation.processing import Processor
from federation.resolver import ActorResolver
from storage.tables import local_actors
from storage.worker import Handler


@dataclass(frozen=True, slots=True)
class LocalActor:
    """One of our actors, as configured."""

    username: str
    type: str
    name: str
    summary: str = ""
    manually_approves: bool = False


class FederationService:
    """The node's federation: inbox, outbox, delivery, resolver and host memory."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.hosts = HostBook(fed.db, fed.writer)
        self.resolver = ActorResolver(fed, self.hosts)
        self.outbox = Outbox(fed, self.resolver)
        self.processor = Processor(fed, self.resolver, self.outbox)
        self.deliverer = Deliverer(fed, self.hosts)
        self.local_users: set[str] = set()
        self.inbox = Inbox(fed, self.resolver, local_users=self.local_users)

    def handlers(self) -> dict[str, Handler]:
        return {
            INBOX_QUEUE: self.processor.handle,
            DELIVER_QUEUE: self.deliverer.handle,
        }

    async def ensure_actors(self, actors: list[LocalActor]) -> None:
        """Create or refresh our actors' rows from the configuration."""
        now = time.time()

        async def save(conn: AsyncConnection) -> None:
            for actor in actors:
                values = {
                    "type": actor.type,
                    "name": actor.name,
                    "summary": actor.summary,
                }
                stmt = self.fed.db.insert(local_actors).values(
                    username=actor.username,
                    manually_approves=actor.manually_approves,
                    created_at=now,
                    **values,
                )
                await conn.execute(
                    stmt.on_conflict_do_update(index_elements=["username"], set_=values)
                )

        await self.fed.writer.submit(save)
        await self.refresh_users()
        await self.hosts.load()

    async def refresh_users(self) -> None:
        async with self.fed.db.read() as conn:
            names = (await conn.execute(select(local_actors.c.username))).scalars()
            self.local_users.clear()
            self.local_users.update(names)

    async def set_manual_approval(self, username: str, manual: bool) -> None:
        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                local_actors.update()
                .where(local_actors.c.username == username)
                .values(manually_approves=manual)
            )

        await self.fed.writer.submit(save)


def default_actors(
    node_username: str, node_type: str, name: str, summary: str
) -> list[LocalActor]:
    """The node's organisation (or group), its catalogue service, its instance actor."""
    return [
        LocalActor(node_username, node_type, name, summary),
        LocalActor(
            "catalogue",
            "Service",
            f"{name} — catalogue",
            "Datasets and service offers published by this node.",
        ),
        LocalActor(
            INSTANCE_USERNAME,
            "Application",
            f"{name} — instance",
            "Signs this node's requests to other servers.",
            manually_approves=True,
        ),
    ]
