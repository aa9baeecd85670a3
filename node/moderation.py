"""Reports and mediation: a ``Flag`` from any server, a decision, an appeal.

A report arrives as ``Flag`` (Mastodon sends it from its instance actor, with
the reported account and statuses as ``object`` and the comment as
``content``).  It is *open* until a moderator decides (dismiss, warn, hide,
suspend, exclude) — within :data:`DECIDE_WITHIN`; the decision is recorded in
the decision log and, for suspend and exclude, applied to the membership.  The
reported party may appeal within :data:`APPEAL_WITHIN`; the appeal is heard by
someone other than the first decider, and that final decision is recorded too.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from node.services import Node
from protocol.errors import BocageError
from protocol.jsonld import ids
from storage.tables import reports

DECIDE_WITHIN = 7 * 86400.0
APPEAL_WITHIN = 14 * 86400.0
DECISIONS = ("dismiss", "warn", "hide", "suspend", "exclude")
OPEN, DECIDED, APPEALED, FINAL = "open", "decided", "appealed", "final"


class ModerationError(BocageError):
    """A moderation step does not fit the report's state."""


class Moderation:
    """The moderation queue of one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.clock = time.time

    async def on_flag(self, activity: dict[str, Any], actor: str) -> None:
        """Processor handler for ``Flag``: queue the report (once per activity)."""
        now = self.clock()
        row = {
            "activity_id": str(activity["id"]),
            "reporter": actor,
            "targets": ids(activity.get("object"))[:50],
            "comment": str(activity.get("content") or "")[:5000],
            "state": OPEN,
            "received_at": now,
            "decide_by": now + DECIDE_WITHIN,
            "updated_at": now,
        }

        async def save(conn: AsyncConnection) -> None:
            stmt = self.node.db.insert(reports).values(**row)
            await conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["activity_id"])
            )

        await self.node.writer.submit(save)

    async def decide(
        self, report_id: int, decision: str, *, by: str, reason: str
    ) -> None:
        """A moderator's first decision; recorded, and applied to members."""
        report = await self._expect(report_id, OPEN)
        await self._apply(report, decision, reason)
        entry = await self.node.decisions.append(
            "moderation.decide",
            f"{self.node.config.origin}/reports/{report_id}",
            {
                "decision": decision,
                "by": by,
                "reason": reason,
                "targets": report["targets"],
            },
        )
        await self._set(
            report_id,
            state=DECIDED,
            decision=decision,
            decided_by=by,
            log_entry=entry["index"],
            appeal_until=self.clock() + APPEAL_WITHIN,
        )

    async def appeal(self, report_id: int, *, reason: str) -> None:
        """The reported party contests the decision, before the deadline."""
        report = await self._expect(report_id, DECIDED)
        if report["appeal_until"] is not None and self.clock() > report["appeal_until"]:
            raise ModerationError(f"the appeal period of report {report_id} has ended")
        if not reason.strip():
            raise ModerationError("an appeal says why")
        await self._set(report_id, state=APPEALED, appeal=reason[:5000])

    async def hear(
        self, report_id: int, decision: str, *, by: str, reason: str
    ) -> None:
        """The appeal's final decision, by someone other than the first decider."""
        report = await self._expect(report_id, APPEALED)
        if by == report["decided_by"]:
            raise ModerationError(
                "an appeal is heard by someone other than the first decider"
            )
        if decision != report["decision"]:
            await self._apply(report, decision, reason)
        entry = await self.node.decisions.append(
            "moderation.appeal",
            f"{self.node.config.origin}/reports/{report_id}",
            {
                "decision": decision,
                "by": by,
                "reason": reason,
                "was": report["decision"],
            },
        )
        await self._set(
            report_id, state=FINAL, final_decision=decision, final_by=by,
            log_entry=entry["index"],
        )  # fmt: skip

    async def overdue(self) -> list[dict[str, Any]]:
        """Open reports past their deadline for a decision."""
        async with self.node.db.read() as conn:
            rows = await conn.execute(
                select(reports).where(
                    reports.c.state == OPEN, reports.c.decide_by < self.clock()
                )
            )
            return [dict(r._mapping) for r in rows]

    async def list(self, state: str | None = None) -> list[dict[str, Any]]:
        stmt = select(reports).order_by(reports.c.id)
        if state is not None:
            stmt = stmt.where(reports.c.state == state)
        async with self.node.db.read() as conn:
            return [dict(r._mapping) for r in await conn.execute(stmt)]

    async def _apply(self, report: dict[str, Any], decision: str, reason: str) -> None:
        if decision not in DECISIONS:
            raise ModerationError(f"a decision is one of {', '.join(DECISIONS)}")
        if decision not in ("suspend", "exclude"):
            return
        membership = self.node.membership
        for target in report["targets"]:
            if not await membership.is_member(target):
                continue
            if decision == "suspend":
                await membership.suspend(target, reason=reason)
            else:
                await membership.exclude(target, reason=reason or "moderation decision")

    async def _expect(self, report_id: int, state: str) -> dict[str, Any]:
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(select(reports).where(reports.c.id == report_id))
            ).first()
        if row is None or row.state != state:
            found = row.state if row is not None else "unknown"
            raise ModerationError(f"report {report_id} is {found}, not {state}")
        return dict(row._mapping)

    async def _set(self, report_id: int, **values: Any) -> None:
        values["updated_at"] = self.clock()

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                update(reports).where(reports.c.id == report_id).values(**values)
            )

        await self.node.writer.submit(save)
