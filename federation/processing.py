"""Processing received activities: the ``inbox`` job handler.

The inbox already verified who sent each activity; here each type does its
work.  Handlers are idempotent (a job may run twice after a crash): they upsert
and delete by key, and answers they send are deduplicated by the outbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.context import Federation
from federation.http import FetchError
from federation.outbox import Outbox
from federation.resolver import ActorResolver
from protocol.jsonld import first_id, get_str, types
from storage.jobs import Job
from storage.tables import follows, local_actors, remote_objects
from storage.worker import PermanentFailure

log = logging.getLogger("bocage.federation.processing")

# (activity type, object, actor) for Create and Update of objects of a type.
ObjectHandler = Callable[[str, dict[str, Any], str], Awaitable[None]]
# (object id, actor) for every Delete.
DeleteHandler = Callable[[str, str], Awaitable[None]]
# (our actor, the peer actor) when a peer accepts our follow.
AcceptedHandler = Callable[[str, str], Awaitable[None]]
# ("Accept" or "Reject", the activity, its actor) for answers to non-Follows.
AnswerHandler = Callable[[str, dict[str, Any], str], Awaitable[None]]

_ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})


class Processor:
    """Dispatches each received activity to the handler for its type."""

    def __init__(
        self, fed: Federation, resolver: ActorResolver, outbox: Outbox
    ) -> None:
        self.fed = fed
        self.resolver = resolver
        self.outbox = outbox
        self.handlers: dict[str, Callable[[dict[str, Any], str], Awaitable[None]]] = {
            "Follow": self.on_follow,
            "Undo": self.on_undo,
            "Accept": self.on_accept,
            "Reject": self.on_reject,
            "Create": self.on_create,
            "Update": self.on_update,
            "Delete": self.on_delete,
        }
        # Extension points for the node's domain services (the catalogue…):
        # handlers for objects by type, told of deletions, and told when a
        # peer accepted one of our follows.
        self.object_handlers: dict[str, ObjectHandler] = {}
        self.delete_handlers: list[DeleteHandler] = []
        self.accepted_handlers: list[AcceptedHandler] = []
        # Accept/Reject of something other than a Follow (a contract Offer).
        self.answer_handlers: list[AnswerHandler] = []

    async def handle(self, job: Job) -> None:
        """The ``inbox`` job handler: the job carries the verified activity."""
        activity = job.payload.get("activity")
        actor = job.payload.get("actor")
        kind = job.payload.get("type")
        if not isinstance(activity, dict) or not isinstance(actor, str):
            raise PermanentFailure("inbox job without an activity")
        handler = self.handlers.get(str(kind))
        if handler is None:
            log.debug("ignoring %s from %s", kind, actor)
            return
        await handler(activity, actor)

    # --- follows ----------------------------------------------------------

    async def on_follow(self, activity: dict[str, Any], actor: str) -> None:
        target = first_id(activity.get("object"))
        username = self.fed.local_username(target or "")
        if username is None:
            log.info("Follow of %s, not one of ours: ignored", target)
            return
        async with self.fed.db.read() as conn:
            manual = (
                await conn.execute(
                    select(local_actors.c.manually_approves).where(
                        local_actors.c.username == username
                    )
                )
            ).scalar_one_or_none()
        if manual is None:
            log.info("Follow of unknown actor %s: ignored", target)
            return
        assert target is not None
        state = "pending" if manual else "accepted"
        await self._save_follow(actor, target, str(activity["id"]), state)
        if not manual:
            await self.outbox.accept_follow(username, activity, actor, accept=True)

    async def _save_follow(
        self, follower: str, followee: str, activity_id: str, state: str
    ) -> None:
        now = time.time()
        values = {"activity_id": activity_id, "state": state, "updated_at": now}

        async def save(conn: AsyncConnection) -> None:
            stmt = self.fed.db.insert(follows).values(
                follower=follower, followee=followee, created_at=now, **values
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["follower", "followee"], set_=values
                )
            )

        await self.fed.writer.submit(save)

    async def decide_follow(
        self, username: str, follower: str, *, accept: bool
    ) -> bool:
        """Approve or refuse a pending follow of a manually approving actor."""
        followee = self.fed.actor_iri(username)
        async with self.fed.db.read() as conn:
            row = (
                await conn.execute(
                    select(follows.c.activity_id).where(
                        follows.c.follower == follower,
                        follows.c.followee == followee,
                        follows.c.state == "pending",
                    )
                )
            ).first()
        if row is None:
            return False
        follow = {
            "id": row.activity_id,
            "type": "Follow",
            "actor": follower,
            "object": followee,
        }
        await self._save_follow(
            follower, followee, row.activity_id, "accepted" if accept else "rejected"
        )
        await self.outbox.accept_follow(username, follow, follower, accept=accept)
        return True

    async def on_undo(self, activity: dict[str, Any], actor: str) -> None:
        obj = activity.get("object")
        if isinstance(obj, dict) and "Follow" in types(obj):
            followee = first_id(obj.get("object"))
        else:
            # Undo by reference: find the Follow by its id.
            followee = None
            object_id = first_id(obj)
            async with self.fed.db.read() as conn:
                followee = (
                    await conn.execute(
                        select(follows.c.followee).where(
                            follows.c.activity_id == object_id,
                            follows.c.follower == actor,
                        )
                    )
                ).scalar_one_or_none()
        if followee is None:
            return

        async def drop(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(follows).where(
                    follows.c.follower == actor, follows.c.followee == followee
                )
            )

        await self.fed.writer.submit(drop)

    async def on_accept(self, activity: dict[str, Any], actor: str) -> None:
        if not await self._answers_follow(activity, actor):
            for handler in self.answer_handlers:
                await handler("Accept", activity, actor)
            return
        followers = await self._answer(activity, actor, "accepted")
        for follower in followers:
            for accepted in self.accepted_handlers:
                await accepted(follower, actor)

    async def on_reject(self, activity: dict[str, Any], actor: str) -> None:
        if not await self._answers_follow(activity, actor):
            for handler in self.answer_handlers:
                await handler("Reject", activity, actor)
            return
        await self._answer(activity, actor, "rejected")

    async def _answers_follow(self, activity: dict[str, Any], actor: str) -> bool:
        """Whether an Accept/Reject answers one of our Follows (else: an Offer…)."""
        obj = activity.get("object")
        if isinstance(obj, dict) and "Follow" in types(obj):
            return True
        follow_id = first_id(obj)
        async with self.fed.db.read() as conn:
            row = (
                await conn.execute(
                    select(follows.c.id).where(
                        follows.c.activity_id == follow_id, follows.c.followee == actor
                    )
                )
            ).first()
        return row is not None

    async def _answer(
        self, activity: dict[str, Any], actor: str, state: str
    ) -> list[str]:
        """A peer answered one of our Follows (the Follow by id or embedded).

        Returns our actors whose follow of ``actor`` changed state.
        """
        obj = activity.get("object")
        follow_id = first_id(obj)
        # Some servers answer with the Follow re-serialised: match on who too.
        follower = first_id(obj.get("actor")) if isinstance(obj, dict) else None
        now = time.time()

        async def save(conn: AsyncConnection) -> list[str]:
            result = await conn.execute(
                update(follows)
                .where(
                    follows.c.followee == actor,
                    follows.c.state != state,
                    (follows.c.activity_id == follow_id)
                    | (follows.c.follower == follower),
                )
                .values(state=state, updated_at=now)
                .returning(follows.c.follower)
            )
            return [str(row[0]) for row in result]

        changed: list[str] = await self.fed.writer.submit(save)
        return changed

    # --- objects ----------------------------------------------------------

    async def _object_of(
        self, activity: dict[str, Any], actor: str
    ) -> dict[str, Any] | None:
        obj = activity.get("object")
        if isinstance(obj, dict):
            return obj  # the inbox checked it is the actor's own
        object_id = first_id(obj)
        if object_id is None:
            return None
        try:
            fetched = await self.resolver.fetch(object_id)
        except FetchError as exc:
            if exc.status in (404, 410):
                return None
            raise
        author = first_id(fetched.get("attributedTo")) or first_id(fetched.get("actor"))
        if author not in (None, actor) and fetched.get("id") != actor:
            log.info("object %s is not %s's: ignored", object_id, actor)
            return None
        return fetched

    async def _typed(self, kind: str, obj: dict[str, Any], actor: str) -> bool:
        for name in types(obj):
            handler = self.object_handlers.get(name)
            if handler is not None:
                await handler(kind, obj, actor)
                return True
        return False

    async def on_create(self, activity: dict[str, Any], actor: str) -> None:
        obj = await self._object_of(activity, actor)
        if obj is None or get_str(obj, "id") is None:
            return
        if not await self._typed("Create", obj, actor):
            await self.keep_object(obj, actor)

    async def on_update(self, activity: dict[str, Any], actor: str) -> None:
        obj = await self._object_of(activity, actor)
        if obj is None:
            return
        if obj.get("id") == actor and _ACTOR_TYPES & set(types(obj)):
            # Key rotation and profile changes arrive this way.
            await self.resolver.store(obj, expected_id=actor)
            return
        if not await self._typed("Update", obj, actor):
            await self.keep_object(obj, actor)

    async def on_delete(self, activity: dict[str, Any], actor: str) -> None:
        object_id = first_id(activity.get("object"))
        if object_id == actor:
            await self.resolver.forget(actor)
            return
        if object_id is not None:
            for handler in self.delete_handlers:
                await handler(object_id, actor)

        async def drop(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(remote_objects).where(
                    remote_objects.c.id == object_id, remote_objects.c.actor == actor
                )
            )

        await self.fed.writer.submit(drop)

    async def keep_object(self, obj: dict[str, Any], actor: str) -> None:
        """Store a peer's object as received (for objects no handler claims)."""
        now = time.time()
        kinds = types(obj)
        values = {
            "actor": actor,
            "type": (kinds[0] if kinds else "Object")[:32],
            "document": obj,
            "updated_at": now,
            "in_reply_to": (first_id(obj.get("inReplyTo")) or "")[:2048] or None,
        }

        async def save(conn: AsyncConnection) -> None:
            stmt = self.fed.db.insert(remote_objects).values(
                id=obj["id"], received_at=now, **values
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_=values,
                    # Never let another actor overwrite someone's object.
                    where=remote_objects.c.actor == actor,
                )
            )

        await self.fed.writer.submit(save)
