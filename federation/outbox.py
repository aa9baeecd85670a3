"""Publishing: store an activity in the outbox and queue its deliveries, atomically.

One activity to the followers of an actor becomes one delivery job per
distinct inbox, shared inboxes first (DESIGN.md, "Storage and scale"): 10,000
followers on 1,000 servers are 1,000 requests.  The activity, its object and
its delivery jobs are committed together, so a crash never leaves a
publication half-sent: either the jobs exist and the workers will send them,
or nothing was published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.context import DELIVER_QUEUE, Federation
from federation.resolver import ActorResolver
from protocol.jsonld import first_id
from storage.jobs import NewJob
from storage.tables import activities, follows, objects, remote_actors

log = logging.getLogger("bocage.federation.outbox")

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# The language of what the node writes, for contentMap, until the node sets
# its own (``node.language`` in the configuration).
DEFAULT_LANGUAGE: Final = "fr"


def _now_iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def complete_object(
    activity_type: str, obj: dict[str, Any] | str, *, language: str, stamp: str
) -> dict[str, Any] | str:
    """Add what a Create or Update object must carry, if its producer left it out.

    INTEROP.md, "Activities": ``content`` goes with a one-entry
    ``contentMap`` (Mastodon reads the language from its key); a Create's
    object has its ``published``, an Update's its ``updated`` (``stamp``).
    A one-entry ``contentMap`` left behind by an edit of ``content`` follows
    it.  Returns a copy; never touches a signed object (one with a ``proof``),
    whose producer must get this right itself, nor replaces a date present.
    """
    if not isinstance(obj, dict) or "proof" in obj:
        return obj
    if activity_type not in ("Create", "Update"):
        return obj
    done = dict(obj)
    content = done.get("content")
    mapped = done.get("contentMap")
    if isinstance(content, str) and content:
        if mapped is None:
            done["contentMap"] = {language: content}
        elif isinstance(mapped, dict) and len(mapped) == 1:
            done["contentMap"] = {key: content for key in mapped}
    done.setdefault("published" if activity_type == "Create" else "updated", stamp)
    return done


async def follower_inboxes(conn: AsyncConnection, followee: str) -> list[str]:
    """Distinct delivery inboxes of an actor's accepted followers."""
    inbox = func.coalesce(remote_actors.c.shared_inbox, remote_actors.c.inbox)
    stmt = (
        select(inbox)
        .select_from(
            follows.join(remote_actors, remote_actors.c.id == follows.c.follower)
        )
        .where(follows.c.followee == followee, follows.c.state == "accepted")
        .distinct()
    )
    return [row[0] for row in await conn.execute(stmt)]


class Outbox:
    """Publishes our actors' activities."""

    def __init__(
        self,
        fed: Federation,
        resolver: ActorResolver,
        *,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        self.fed = fed
        self.resolver = resolver
        self.language = language

    async def publish(
        self,
        username: str,
        activity_type: str,
        obj: dict[str, Any] | str,
        *,
        to: Sequence[str] = (PUBLIC,),
        cc: Sequence[str] | None = None,
        to_followers: bool = True,
        inboxes: Iterable[str] = (),
        store_object: bool = False,
    ) -> dict[str, Any]:
        """Build, store and queue for delivery one activity of ``username``.

        ``to_followers`` sends it to every accepted follower's inbox;
        ``inboxes`` adds explicit ones (a Follow goes to its target only).
        ``store_object`` keeps ``obj`` as one of ours, dereferenceable at its id.
        """
        activity, write = self.prepare(
            username,
            activity_type,
            obj,
            to=to,
            cc=cc,
            to_followers=to_followers,
            inboxes=inboxes,
            store_object=store_object,
        )
        queued = await self.fed.writer.submit(write)
        self.published(activity, queued)
        return activity

    def prepare(
        self,
        username: str,
        activity_type: str,
        obj: dict[str, Any] | str,
        *,
        to: Sequence[str] = (PUBLIC,),
        cc: Sequence[str] | None = None,
        to_followers: bool = True,
        inboxes: Iterable[str] = (),
        store_object: bool = False,
    ) -> tuple[dict[str, Any], Callable[[AsyncConnection], Awaitable[int]]]:
        """The activity, and the write that stores and queues it.

        For callers that must commit the activity together with their own
        rows (a catalogue record and its Create): run the write inside their
        operation, then call :meth:`published`.  A Create or Update object is
        completed by :func:`complete_object` (the activity holds the copy).
        """
        actor = self.fed.actor_iri(username)
        now = time.time()
        followers = f"{actor}/followers"
        obj = complete_object(
            activity_type, obj, language=self.language, stamp=_now_iso(now)
        )
        activity: dict[str, Any] = {
            "@context": AS_CONTEXT,
            "id": self.fed.new_id("activities"),
            "type": activity_type,
            "actor": actor,
            "object": obj,
            "published": _now_iso(now),
            "to": list(to),
        }
        if cc is None:
            cc = [followers] if to_followers else []
        if cc:
            activity["cc"] = list(cc)
        object_id = first_id(obj)
        explicit = list(dict.fromkeys(inboxes))

        async def write(conn: AsyncConnection) -> int:
            await conn.execute(
                activities.insert().values(
                    id=activity["id"],
                    actor=username,
                    type=activity_type,
                    object_id=object_id,
                    document=activity,
                    published_at=now,
                    public=PUBLIC in activity["to"] or PUBLIC in activity.get("cc", []),
                )
            )
            if store_object and isinstance(obj, dict):
                await conn.execute(
                    objects.insert().values(
                        id=obj["id"],
                        actor=username,
                        type=str(obj.get("type", "Object")),
                        document=obj,
                        published_at=now,
                        updated_at=now,
                    )
                )
            targets = list(explicit)
            if to_followers:
                targets += await follower_inboxes(conn, actor)
            return await self._queue(conn, activity["id"], username, targets)

        return activity, write

    def published(self, activity: dict[str, Any], queued: int) -> None:
        """Log a committed activity and wake the local worker to deliver it."""
        log.info(
            "published %s %s to %d inboxes", activity["type"], activity["id"], queued
        )
        self._wake()

    async def _queue(
        self, conn: AsyncConnection, activity_id: str, username: str, targets: list[str]
    ) -> int:
        unique = [t for t in dict.fromkeys(targets) if not self.fed.is_local(t)]
        jobs = [
            NewJob(
                DELIVER_QUEUE,
                {"activity": activity_id, "inbox": inbox, "actor": username},
                dedupe_key=f"{activity_id} {inbox}",
                partition_key=urlsplit(inbox).netloc.lower(),
            )
            for inbox in unique
        ]
        return await self.fed.jobs.enqueue_many(jobs, conn=conn)

    def _wake(self) -> None:
        for wake in self.fed.wake_worker:
            if callable(wake):
                wake()

    # --- the activities a node sends ----------------------------------------

    async def create_note(
        self, username: str, content: str, *, summary: str | None = None
    ) -> dict[str, Any]:
        """Publish a public Note (what Mastodon shows in full).

        ``summary`` is a content warning (INTEROP.md, "Activities"): the Note
        is then marked ``sensitive``, as Mastodon marks its own.
        """
        actor = self.fed.actor_iri(username)
        note: dict[str, Any] = {
            "id": self.fed.new_id("objects"),
            "type": "Note",
            "attributedTo": actor,
            "content": content,
            "published": _now_iso(time.time()),
            "to": [PUBLIC],
            "cc": [f"{actor}/followers"],
        }
        if summary:
            note["summary"] = summary
            note["sensitive"] = True
        note["url"] = note["id"]
        return await self.publish(username, "Create", note, store_object=True)

    async def follow(self, username: str, target: str) -> dict[str, Any]:
        """Ask to follow a peer's actor; the relation stays pending until Accept."""
        remote = await self.resolver.get(target)
        follower = self.fed.actor_iri(username)
        activity = await self.direct(username, "Follow", remote.id, remote.id)
        now = time.time()
        values = {"activity_id": activity["id"], "state": "pending", "updated_at": now}

        async def save(conn: AsyncConnection) -> None:
            stmt = self.fed.db.insert(follows).values(
                follower=follower, followee=remote.id, created_at=now, **values
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["follower", "followee"], set_=values
                )
            )

        await self.fed.writer.submit(save)
        return activity

    async def unfollow(self, username: str, target: str) -> dict[str, Any] | None:
        """Undo our Follow of ``target``; None if we did not follow it."""
        follower = self.fed.actor_iri(username)
        async with self.fed.db.read() as conn:
            row = (
                await conn.execute(
                    select(follows.c.activity_id).where(
                        follows.c.follower == follower, follows.c.followee == target
                    )
                )
            ).first()
        if row is None:
            return None
        follow = {
            "id": row.activity_id,
            "type": "Follow",
            "actor": follower,
            "object": target,
        }
        undo = await self.direct(username, "Undo", follow, target)

        async def drop(conn: AsyncConnection) -> None:
            await conn.execute(
                follows.delete().where(
                    follows.c.follower == follower, follows.c.followee == target
                )
            )

        await self.fed.writer.submit(drop)
        return undo

    async def update_object(self, username: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace one of our objects and send Update with a newer ``updated``."""
        now = time.time()
        done = complete_object(
            "Update",
            {**obj, "updated": _now_iso(now)},
            language=self.language,
            stamp=_now_iso(now),
        )
        assert isinstance(done, dict)
        obj = done

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                update(objects)
                .where(objects.c.id == obj["id"], objects.c.deleted_at.is_(None))
                .values(document=obj, updated_at=now)
            )

        await self.fed.writer.submit(save)
        return await self.publish(username, "Update", obj)

    async def delete_object(self, username: str, object_id: str) -> dict[str, Any]:
        """Tombstone one of our objects (it then answers 410) and send Delete."""
        now = time.time()
        tombstone = {
            "id": object_id,
            "type": "Tombstone",
            "deleted": _now_iso(now),
        }

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                update(objects)
                .where(and_(objects.c.id == object_id, objects.c.actor == username))
                .values(deleted_at=now, updated_at=now)
            )

        await self.fed.writer.submit(save)
        return await self.publish(username, "Delete", tombstone)

    async def accept_follow(
        self, username: str, follow: dict[str, Any], follower: str, *, accept: bool
    ) -> dict[str, Any]:
        """Answer a Follow with Accept or Reject, the Follow embedded as object."""
        return await self.direct(
            username, "Accept" if accept else "Reject", follow, follower
        )

    async def direct(
        self, username: str, activity_type: str, obj: dict[str, Any] | str, actor: str
    ) -> dict[str, Any]:
        """Send an activity to one actor only (its own inbox), not to followers."""
        activity, write = await self.prepare_direct(username, activity_type, obj, actor)
        self.published(activity, await self.fed.writer.submit(write))
        return activity

    async def prepare_direct(
        self, username: str, activity_type: str, obj: dict[str, Any] | str, actor: str
    ) -> tuple[dict[str, Any], Callable[[AsyncConnection], Awaitable[int]]]:
        """:meth:`prepare` for an activity addressed to one actor only."""
        remote = await self.resolver.get(actor)
        return self.prepare(
            username,
            activity_type,
            obj,
            to=[actor],
            cc=[],
            to_followers=False,
            inboxes=[remote.inbox],
        )
