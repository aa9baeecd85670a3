"""Membership of the node's community: join, invite, admit, leave, suspend, exclude.

The node's main actor stands for the community (a ``Group`` or an
``Organization``).  Any fediverse actor may ask to join (``Join``) or be
invited (``Invite``, answered with ``Accept``); an administrator admits or
rejects requests; a member may ``Leave``.  Every decision about a member is
appended to the decision log first, and the member's row points at that
entry: an exclusion in particular exists only as a recorded decision
(``Remove`` is then sent to the excluded actor).

Lifecycle: requested | invited → member ⇄ suspended → left | excluded; or
rejected.  Members answer "members" in the service offers' auto-acceptance.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from node.activitypub import as_response
from node.appkeys import NODE
from node.services import Node
from protocol.errors import BocageError
from protocol.jsonld import first_id
from storage.tables import members

REQUESTED, INVITED, MEMBER, SUSPENDED = "requested", "invited", "member", "suspended"
LEFT, REJECTED, EXCLUDED = "left", "rejected", "excluded"
ROLES = ("member", "moderator", "administrator")


class MembershipError(BocageError):
    """A membership step does not fit the member's state."""


class Membership:
    """The community's member list and its decisions."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self.outbox = node.federation.outbox
        self.username = node.config.node.username
        self.group = self.fed.actor_iri(self.username)

    # --- what peers send ---------------------------------------------------------

    async def on_join(self, activity: dict[str, Any], actor: str) -> None:
        """Processor handler for ``Join``: a request, pending an administrator."""
        if first_id(activity.get("object")) != self.group:
            return
        current = await self.get(actor)
        if current is not None and current["state"] in (MEMBER, SUSPENDED, EXCLUDED):
            return  # a retry, or an excluded actor trying again: nothing changes
        await self._save(actor, REQUESTED, str(activity["id"]))

    async def on_leave(self, activity: dict[str, Any], actor: str) -> None:
        """Processor handler for ``Leave``: a member leaves; recorded."""
        if first_id(activity.get("object")) != self.group:
            return
        current = await self.get(actor)
        if current is None or current["state"] not in (MEMBER, SUSPENDED):
            return
        entry = await self.node.decisions.append("membership.leave", actor, {})
        await self._save(actor, LEFT, current["activity_id"], decision=entry["index"])

    async def on_answer(self, kind: str, activity: dict[str, Any], actor: str) -> None:
        """Processor hook: an invited actor accepted or declined our Invite."""
        current = await self.get(actor)
        invite = first_id(activity.get("object"))
        if current is None or current["state"] != INVITED:
            return
        if invite is None or invite != current["activity_id"]:
            return
        if kind == "Accept":
            entry = await self.node.decisions.append(
                "membership.join", actor, {"invitation": invite}
            )
            await self._save(actor, MEMBER, invite, decision=entry["index"])
        else:
            await self._save(actor, REJECTED, invite)

    async def request(self, actor: str) -> None:
        """One of our own accounts asks to join, from the web; pending like a Join."""
        if not self.fed.is_local(actor):
            raise MembershipError("remote actors ask to join with a Join activity")
        current = await self.get(actor)
        if current is not None and current["state"] in (
            REQUESTED, MEMBER, SUSPENDED, EXCLUDED
        ):  # fmt: skip
            raise MembershipError(f"{actor} is already {current['state']}")
        await self._save(actor, REQUESTED, f"{actor}#join-{int(time.time())}")

    # --- what we ask of other communities -------------------------------------

    async def join(self, group: str) -> str:
        """Ask to join another node's community; returns the Join's id."""
        activity = await self.outbox.direct(self.username, "Join", group, group)
        return str(activity["id"])

    # --- what administrators decide ------------------------------------------------

    async def admit(
        self, actor: str, *, college: str = "", role: str = "member"
    ) -> None:
        """Admit a pending request; the requester gets Accept(Join)."""
        current = await self._expect(actor, REQUESTED)
        if role not in ROLES:
            raise MembershipError(f"role must be one of {', '.join(ROLES)}")
        entry = await self.node.decisions.append(
            "membership.admit", actor, {"college": college, "role": role}
        )
        await self._save(
            actor, MEMBER, current["activity_id"], role=role, college=college,
            decision=entry["index"],
        )  # fmt: skip
        await self._answer("Accept", actor, current["activity_id"])

    async def reject(self, actor: str, *, reason: str = "") -> None:
        current = await self._expect(actor, REQUESTED)
        entry = await self.node.decisions.append(
            "membership.reject", actor, {"reason": reason}
        )
        await self._save(
            actor, REJECTED, current["activity_id"], decision=entry["index"]
        )
        await self._answer("Reject", actor, current["activity_id"])

    async def invite(
        self, actor: str, *, college: str = "", role: str = "member"
    ) -> None:
        """Invite an actor; it becomes a member when it accepts."""
        current = await self.get(actor)
        if current is not None and current["state"] in (MEMBER, SUSPENDED, EXCLUDED):
            raise MembershipError(f"{actor} is {current['state']}")
        activity, write = await self.outbox.prepare_direct(
            self.username, "Invite", self.group, actor
        )
        # AS2 vocabulary, Invite: the object is what one is invited to, the
        # target who is invited.
        activity["target"] = actor
        self.outbox.published(activity, await self.fed.writer.submit(write))
        activity_id = str(activity["id"])
        await self._save(actor, INVITED, activity_id, role=role, college=college)

    async def suspend(self, actor: str, *, reason: str) -> None:
        current = await self._expect(actor, MEMBER)
        entry = await self.node.decisions.append(
            "membership.suspend", actor, {"reason": reason}
        )
        await self._save(
            actor, SUSPENDED, current["activity_id"], decision=entry["index"]
        )

    async def reinstate(self, actor: str) -> None:
        current = await self._expect(actor, SUSPENDED)
        entry = await self.node.decisions.append("membership.reinstate", actor, {})
        await self._save(actor, MEMBER, current["activity_id"], decision=entry["index"])

    async def exclude(self, actor: str, *, reason: str) -> int:
        """Exclude a member: recorded as a decision first, then Remove is sent."""
        current = await self.get(actor)
        if current is None or current["state"] not in (MEMBER, SUSPENDED):
            raise MembershipError(f"{actor} is not a member")
        if not reason.strip():
            raise MembershipError("an exclusion needs its reason, for the record")
        entry = await self.node.decisions.append(
            "membership.exclude", actor, {"reason": reason}
        )
        await self._save(
            actor, EXCLUDED, current["activity_id"], decision=entry["index"]
        )
        await self.outbox.direct(self.username, "Remove", actor, actor)
        return int(entry["index"])

    # --- reading ---------------------------------------------------------------------

    async def get(self, actor: str) -> dict[str, Any] | None:
        async with self.fed.db.read() as conn:
            row = (
                await conn.execute(select(members).where(members.c.actor == actor))
            ).first()
        return dict(row._mapping) if row is not None else None

    async def is_member(self, actor: str) -> bool:
        current = await self.get(actor)
        return current is not None and current["state"] == MEMBER

    async def list(self, state: str | None = None) -> list[dict[str, Any]]:
        stmt = select(members).order_by(members.c.created_at)
        if state is not None:
            stmt = stmt.where(members.c.state == state)
        async with self.fed.db.read() as conn:
            return [dict(r._mapping) for r in await conn.execute(stmt)]

    async def _expect(self, actor: str, state: str) -> dict[str, Any]:
        current = await self.get(actor)
        if current is None or current["state"] != state:
            found = current["state"] if current is not None else "unknown"
            raise MembershipError(f"{actor} is {found}, not {state}")
        return current

    async def _save(
        self,
        actor: str,
        state: str,
        activity_id: str,
        *,
        role: str | None = None,
        college: str | None = None,
        decision: int | None = None,
    ) -> None:
        now = time.time()
        values: dict[str, Any] = {
            "state": state,
            "activity_id": activity_id,
            "updated_at": now,
        }
        if role is not None:
            values["role"] = role
        if college is not None:
            values["college"] = college
        if decision is not None:
            values["decision"] = decision

        async def write(conn: AsyncConnection) -> None:
            stmt = self.fed.db.insert(members).values(
                actor=actor, created_at=now, **values
            )
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["actor"], set_=values)
            )

        await self.fed.writer.submit(write)

    async def _answer(self, kind: str, actor: str, activity_id: str) -> None:
        if self.fed.is_local(actor):
            return  # our own accounts read the answer on their page
        await self.outbox.direct(self.username, kind, activity_id, actor)


async def members_view(request: web.Request) -> web.Response:
    """The current members, their roles and colleges (public)."""
    node = request.app[NODE]
    rows = await node.membership.list(MEMBER)
    items = [
        {"actor": r["actor"], "role": r["role"], "college": r["college"]} for r in rows
    ]
    return as_response(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{node.config.origin}/members",
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        }
    )
