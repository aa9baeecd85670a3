"""Reports and mediation: a ``Flag`` from any server, a decision, an appeal.

A report arrives as ``Flag`` (Mastodon sends it from its instance actor, with
the reported account and statuses as ``object`` and the comment as
``content``).  It is *open* until a moderator decides (dismiss, warn, hide,
suspend, exclude) — within :data:`DECIDE_WITHIN`; the decision is recorded in
the decision log and, for suspend and exclude, applied to the membership; a
"hide" takes the reported statuses out of the node's pages (:meth:`hidden`).
The reported party may appeal within :data:`APPEAL_WITHIN`; the appeal is
heard by someone other than the first decider, within :data:`HEAR_WITHIN`, and
that final decision is recorded too.

Everyone concerned is told over the fediverse, by a direct Note (addressed to
them only, with a Mention, so Mastodon shows it as a private mention):

- the reported actor (the Flag's first object) gets the decision, its reason
  and how to appeal: reply to that Note, starting with "appeal" or "appel".
  Only their reply counts (matched by ``inReplyTo`` and actor);
- the reporter gets the outcome (Mastodon's instance actor, harmlessly);
- the appellant gets the final outcome;
- moderators and administrators are told, once per report, when a decision
  or an appeal is overdue (:meth:`Moderation.remind`, a periodic job).

Each Note is sent by a job (:data:`NOTICE_QUEUE`): finding the recipient is a
fetch, which may fail and be retried, and the decision must not wait on it.
The Notes are not stored as public objects: a moderation notice is for its
recipient only.
"""

from __future__ import annotations

import builtins
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.http import FetchError
from federation.resolver import ActorError, KnownActor
from node.services import Node
from protocol.errors import BocageError
from protocol.jsonld import first_id, get_str, ids
from protocol.mastodon import mention
from storage.jobs import Job
from storage.tables import hidden_objects, members, report_notices, reports

log = logging.getLogger("bocage.node.moderation")

DECIDE_WITHIN = 7 * 86400.0
APPEAL_WITHIN = 14 * 86400.0
HEAR_WITHIN = 7 * 86400.0  # an appeal waits no longer than a report
DECISIONS = ("dismiss", "warn", "hide", "suspend", "exclude")
OPEN, DECIDED, APPEALED, FINAL = "open", "decided", "appealed", "final"

#: The job that sends one notice (a direct Note) about a report.
NOTICE_QUEUE = "moderation.notice"
#: The periodic job that tells moderators about overdue reports.
REMIND_QUEUE = "moderation.remind"
REMIND_EVERY = 3600.0

# What a notice is about; one of each per report and recipient.
DECISION, OUTCOME, FINAL_OUTCOME = "decision", "outcome", "final"
REFUSED = "appeal-refused"
OVERDUE = "overdue"  # + "." + the report's state: overdue.open, overdue.appealed
# Who the marker row of an overdue report is for: everyone told at once.
_MODERATORS = ""
MODERATOR_ROLES = ("moderator", "administrator")

# A reply is an appeal when its first word (after mentions) is one of these.
APPEAL_WORDS = frozenset({"appeal", "appel"})

NoteHandler = Callable[[str, dict[str, Any], str], Awaitable[None]]


class ModerationError(BocageError):
    """A moderation step does not fit the report's state."""


@dataclass(frozen=True, slots=True)
class _Notice:
    """A notice to queue: what about, for whom, with which reason and entry."""

    kind: str
    recipients: Sequence[str | None]
    detail: str = ""
    entry: int | None = None


class Moderation:
    """The moderation queue of one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self.clock = time.time

    # --- what peers send ---------------------------------------------------------

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

    def replies_then(self, other: NoteHandler) -> NoteHandler:
        """A Note handler: replies to our notices here, other Notes to ``other``."""

        async def handle(kind: str, note: dict[str, Any], actor: str) -> None:
            if not await self.on_reply(kind, note, actor):
                await other(kind, note, actor)

        return handle

    async def on_reply(self, kind: str, note: dict[str, Any], actor: str) -> bool:
        """A Note answering one of our notices: the reported actor's appeal.

        Returns False when the Note answers no notice of ours (someone
        else's business); True when it was dealt with here, appeal or not.
        """
        target = first_id(note.get("inReplyTo"))
        if target is None or not self.fed.is_local(target):
            return False
        async with self.node.db.read() as conn:
            notice = (
                await conn.execute(
                    select(report_notices).where(report_notices.c.note_id == target)
                )
            ).first()
        if notice is None:
            return False
        if notice.kind != DECISION or notice.recipient != actor:
            # Only the reported actor may appeal, and only under the decision.
            log.info(
                "reply from %s to notice %s (report %d) ignored: not %s's decision",
                actor,
                target,
                notice.report_id,
                notice.recipient,
            )
            return True
        if kind != "Create":
            return True  # an edited reply: the appeal stands as first sent
        words = _plain_text(get_str(note, "content") or "")
        keyword, _, rest = words.partition(" ")
        if keyword.strip(".,:;!?-—").lower() not in APPEAL_WORDS:
            log.info(
                "reply from %s about report %d does not start with appeal/appel: "
                "not taken as an appeal",
                actor,
                notice.report_id,
            )
            return True
        report = await self._get(notice.report_id)
        if report is None or report["state"] != DECIDED:
            log.info("report %d is not open to appeal: reply ignored", notice.report_id)
            return True
        reason = rest.lstrip(" .,:;!?-—") or words
        try:
            await self.appeal(notice.report_id, reason=reason)
        except ModerationError as exc:
            log.info("appeal from %s refused: %s", actor, exc)
            await self._queue_notices(
                notice.report_id, _Notice(REFUSED, [actor], str(exc))
            )
            return True
        log.info("appeal on report %d received from %s", notice.report_id, actor)
        return True

    # --- what moderators decide ------------------------------------------------------

    async def decide(
        self, report_id: int, decision: str, *, by: str, reason: str
    ) -> None:
        """A moderator's first decision; recorded, applied, and told to both sides."""
        report = await self._expect(report_id, OPEN)
        await self._apply(report, decision, reason)
        entry = await self.node.decisions.append(
            "moderation.decide",
            self.iri(report_id),
            {
                "decision": decision,
                "by": by,
                "reason": reason,
                "targets": report["targets"],
            },
        )
        await self._set(
            report_id,
            {
                "state": DECIDED,
                "decision": decision,
                "decided_by": by,
                "log_entry": entry["index"],
                "appeal_until": self.clock() + APPEAL_WITHIN,
            },
            hide=_statuses(report) if decision == "hide" else None,
            notices=[
                _Notice(DECISION, [_reported(report)], reason, entry["index"]),
                _Notice(OUTCOME, [report["reporter"]], reason, entry["index"]),
            ],
        )

    async def appeal(self, report_id: int, *, reason: str) -> None:
        """The reported party contests the decision, before the deadline."""
        report = await self._expect(report_id, DECIDED)
        if report["appeal_until"] is not None and self.clock() > report["appeal_until"]:
            raise ModerationError(f"the appeal period of report {report_id} has ended")
        if not reason.strip():
            raise ModerationError("an appeal says why")
        # updated_at then says when the appeal came, for HEAR_WITHIN.
        await self._set(report_id, {"state": APPEALED, "appeal": reason[:5000]})

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
            self.iri(report_id),
            {
                "decision": decision,
                "by": by,
                "reason": reason,
                "was": report["decision"],
            },
        )
        await self._set(
            report_id,
            {
                "state": FINAL,
                "final_decision": decision,
                "final_by": by,
                "log_entry": entry["index"],
            },
            hide=_statuses(report) if decision == "hide" else [],
            notices=[
                _Notice(FINAL_OUTCOME, [_reported(report)], reason, entry["index"])
            ],
        )

    def iri(self, report_id: int) -> str:
        return f"{self.node.config.origin}/reports/{report_id}"

    # --- deadlines ---------------------------------------------------------------

    async def overdue(self) -> builtins.list[dict[str, Any]]:
        """Open reports past their deadline for a decision."""
        async with self.node.db.read() as conn:
            rows = await conn.execute(
                select(reports).where(
                    reports.c.state == OPEN, reports.c.decide_by < self.clock()
                )
            )
            return [dict(r._mapping) for r in rows]

    async def overdue_appeals(self) -> builtins.list[dict[str, Any]]:
        """Appeals waiting to be heard for longer than :data:`HEAR_WITHIN`."""
        async with self.node.db.read() as conn:
            rows = await conn.execute(
                select(reports).where(
                    reports.c.state == APPEALED,
                    reports.c.updated_at < self.clock() - HEAR_WITHIN,
                )
            )
            return [dict(r._mapping) for r in rows]

    async def remind(self) -> int:
        """Tell moderators of each overdue report, once; returns how many were new.

        The periodic job (:data:`REMIND_QUEUE`).  Moderators and
        administrators are the members with those roles; each overdue report
        is flagged once per state (a late decision, then a late hearing), with
        a marker row so that later runs stay quiet.
        """
        late = [*(await self.overdue()), *(await self.overdue_appeals())]
        if not late:
            return 0
        async with self.node.db.read() as conn:
            told = {
                (r.report_id, r.kind)
                for r in await conn.execute(
                    select(report_notices.c.report_id, report_notices.c.kind).where(
                        report_notices.c.report_id.in_([r["id"] for r in late]),
                        report_notices.c.recipient == _MODERATORS,
                    )
                )
            }
            moderators = list(
                (
                    await conn.execute(
                        select(members.c.actor).where(
                            members.c.state == "member",
                            members.c.role.in_(MODERATOR_ROLES),
                        )
                    )
                ).scalars()
            )
        new = 0
        for report in late:
            kind = f"{OVERDUE}.{report['state']}"
            if (report["id"], kind) in told:
                continue
            new += 1
            what = "a decision" if report["state"] == OPEN else "its appeal heard"
            log.warning(
                "report %d has waited too long for %s: %s; decide it with "
                "`bocage report decide %d …%s`",
                report["id"],
                what,
                f"{len(moderators)} moderators told"
                if moderators
                else "no member is a moderator or an administrator to tell",
                report["id"],
                " --appeal" if report["state"] == APPEALED else "",
            )
            await self._set(
                report["id"],
                {},
                notices=[_Notice(kind, moderators)],
                marker=kind,
                touch=False,
            )
        return new

    # --- reading ---------------------------------------------------------------------

    async def list(self, state: str | None = None) -> builtins.list[dict[str, Any]]:
        stmt = select(reports).order_by(reports.c.id)
        if state is not None:
            stmt = stmt.where(reports.c.state == state)
        async with self.node.db.read() as conn:
            return [dict(r._mapping) for r in await conn.execute(stmt)]

    async def hidden(self, iris: Iterable[str]) -> set[str]:
        """Which of ``iris`` a "hide" decision took out of the node's pages."""
        wanted = builtins.list(dict.fromkeys(iris))
        found: set[str] = set()
        async with self.node.db.read() as conn:
            # In slices: SQLite and asyncpg both cap the parameters of one query.
            for start in range(0, len(wanted), 500):
                found.update(
                    (
                        await conn.execute(
                            select(hidden_objects.c.iri).where(
                                hidden_objects.c.iri.in_(wanted[start : start + 500])
                            )
                        )
                    ).scalars()
                )
        return found

    async def notices(self, report_id: int) -> builtins.list[dict[str, Any]]:
        """The notices sent about a report (and overdue markers), oldest first."""
        async with self.node.db.read() as conn:
            rows = await conn.execute(
                select(report_notices)
                .where(report_notices.c.report_id == report_id)
                .order_by(report_notices.c.id)
            )
            return [dict(r._mapping) for r in rows]

    # --- telling people -----------------------------------------------------------

    async def notice_job(self, job: Job) -> None:
        """The NOTICE_QUEUE handler: send one direct Note, once."""
        report_id, kind = job.payload.get("report"), job.payload.get("kind")
        recipient = job.payload.get("to")
        if not (
            isinstance(report_id, int)
            and isinstance(kind, str)
            and isinstance(recipient, str)
        ):
            return
        report = await self._get(report_id)
        if report is None or await self._told(report_id, kind, recipient):
            return
        outbox = self.node.federation.outbox
        try:
            remote = await self.node.federation.resolver.get(recipient)
        except FetchError as exc:
            if isinstance(exc, ActorError) or exc.status in (404, 410):
                # A status rather than an account, or an account gone.
                log.info(
                    "cannot tell %s about report %d: %s", recipient, report_id, exc
                )
                return
            raise  # unreachable for now: the queue retries
        note = self._note(report, kind, remote, job.payload)
        activity, write = await outbox.prepare_direct(
            self.node.config.node.username, "Create", note, recipient
        )
        now = self.clock()

        async def save(conn: AsyncConnection) -> int | None:
            stmt = (
                self.node.db.insert(report_notices)
                .values(
                    report_id=report_id,
                    kind=kind,
                    recipient=recipient,
                    note_id=note["id"],
                    sent_at=now,
                )
                .on_conflict_do_nothing(
                    index_elements=["report_id", "kind", "recipient"]
                )
                .returning(report_notices.c.id)
            )
            if not (await conn.execute(stmt)).all():
                return None  # told meanwhile by another run of this job
            return await write(conn)

        queued = await self.node.writer.submit(save)
        if queued is not None:
            outbox.published(activity, queued)

    def _note(
        self,
        report: dict[str, Any],
        kind: str,
        to: KnownActor,
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        """The direct Note for one notice, in the node's language."""
        config = self.node.config.node
        language = "fr" if config.language.startswith("fr") else "en"
        text = _TEXTS[language]
        report_id = report["id"]
        detail = str(payload.get("detail") or "")
        reason = [text["reason"].format(reason=detail)] if detail else []
        logged = text["logged"].format(
            entry=payload.get("entry"), log=f"{self.node.config.origin}/log"
        )
        lines: builtins.list[str]
        if kind == DECISION:
            lines = [
                text["decision"].format(
                    name=config.name, id=report_id, what=text[report["decision"]]
                ),
                *reason,
                text["how"].format(deadline=_day(report["appeal_until"])),
                logged,
            ]
        elif kind == OUTCOME:
            lines = [
                text["outcome"].format(
                    name=config.name,
                    flag=report["activity_id"],
                    what=text[report["decision"]],
                ),
                *reason,
                logged,
            ]
        elif kind == FINAL_OUTCOME:
            final = report["final_decision"] or report["decision"]
            lines = [
                text["final"].format(id=report_id, what=text[final]),
                *reason,
                logged,
            ]
        elif kind == REFUSED:
            lines = [text["refused"].format(id=report_id, why=detail)]
        else:  # overdue.open, overdue.appealed
            # An appeal's row was last updated when the appeal came.
            since = report["received_at" if kind.endswith(OPEN) else "updated_at"]
            lines = [
                text[kind].format(
                    id=report_id, reporter=report["reporter"], since=_day(since)
                )
            ]
        return _direct_note(
            self.fed.new_id("objects"), self._actor(), to, lines, language
        )

    def _actor(self) -> str:
        return self.fed.actor_iri(self.node.config.node.username)

    # --- storage -----------------------------------------------------------------

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

    async def _get(self, report_id: int) -> dict[str, Any] | None:
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(select(reports).where(reports.c.id == report_id))
            ).first()
        return dict(row._mapping) if row is not None else None

    async def _expect(self, report_id: int, state: str) -> dict[str, Any]:
        report = await self._get(report_id)
        if report is None or report["state"] != state:
            found = report["state"] if report is not None else "unknown"
            raise ModerationError(f"report {report_id} is {found}, not {state}")
        return report

    async def _told(self, report_id: int, kind: str, recipient: str) -> bool:
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(
                    select(report_notices.c.id).where(
                        report_notices.c.report_id == report_id,
                        report_notices.c.kind == kind,
                        report_notices.c.recipient == recipient,
                    )
                )
            ).first()
        return row is not None

    async def _set(
        self,
        report_id: int,
        values: dict[str, Any],
        *,
        hide: builtins.list[str] | None = None,
        notices: Iterable[_Notice] = (),
        marker: str | None = None,
        touch: bool = True,
    ) -> None:
        """Update a report, what it hides and the notices it queues, in one commit.

        ``hide`` replaces the objects the report hides (None: unchanged);
        ``marker`` records that moderators were told of ``marker`` (overdue).
        """
        now = self.clock()
        if touch:
            values = {**values, "updated_at": now}
        notices = builtins.list(notices)

        async def save(conn: AsyncConnection) -> None:
            if values:
                await conn.execute(
                    update(reports).where(reports.c.id == report_id).values(**values)
                )
            if hide is not None:
                await conn.execute(
                    delete(hidden_objects).where(
                        hidden_objects.c.report_id == report_id
                    )
                )
                if hide:
                    await conn.execute(
                        self.node.db.insert(hidden_objects).on_conflict_do_nothing(),
                        [
                            {"iri": iri, "report_id": report_id, "hidden_at": now}
                            for iri in dict.fromkeys(hide)
                        ],
                    )
            if marker is not None:
                await conn.execute(
                    self.node.db.insert(report_notices)
                    .values(
                        report_id=report_id,
                        kind=marker,
                        recipient=_MODERATORS,
                        sent_at=now,
                    )
                    .on_conflict_do_nothing()
                )
            for notice in notices:
                await self._queue_notice(conn, report_id, notice)

        await self.node.writer.submit(save)
        if notices:
            self._wake()

    async def _queue_notices(self, report_id: int, notice: _Notice) -> None:
        async def save(conn: AsyncConnection) -> None:
            await self._queue_notice(conn, report_id, notice)

        await self.node.writer.submit(save)
        self._wake()

    async def _queue_notice(
        self, conn: AsyncConnection, report_id: int, notice: _Notice
    ) -> None:
        """Queue one NOTICE_QUEUE job per recipient, in the caller's commit."""
        for recipient in notice.recipients:
            # Our own actors read no direct Notes: delivery skips local inboxes.
            if not recipient or self.fed.is_local(recipient):
                continue
            payload: dict[str, Any] = {
                "report": report_id,
                "kind": notice.kind,
                "to": recipient,
                "detail": notice.detail[:2000],
                "entry": notice.entry,
            }
            await self.node.jobs.enqueue(
                NOTICE_QUEUE,
                payload,
                dedupe_key=f"{report_id} {notice.kind} {recipient}",
                conn=conn,
            )

    def _wake(self) -> None:
        # The local worker sends the notice at once rather than at its next poll.
        for wake in self.fed.wake_worker:
            if callable(wake):
                wake()


# --- helpers --------------------------------------------------------------------


def _reported(report: dict[str, Any]) -> str | None:
    """The reported account: the Flag's first object (Mastodon puts it first)."""
    targets = report["targets"]
    return str(targets[0]) if targets else None


def _statuses(report: dict[str, Any]) -> builtins.list[str]:
    """What "hide" hides: the statuses after the account, or a lone status."""
    targets = [str(t) for t in report["targets"]]
    return targets[1:] if len(targets) > 1 else targets


_BLOCK_END = re.compile(r"<(?:br|/p|/li|/blockquote)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def _plain_text(content: str) -> str:
    """A Note's HTML as plain words, leading mentions (``@node``…) removed."""
    text = html.unescape(_TAG.sub("", _BLOCK_END.sub(" ", content)))
    words = text.split()
    while words and words[0].startswith("@"):
        words.pop(0)
    return " ".join(words)


def _day(moment: float | None) -> str:
    if moment is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


def _direct_note(
    note_id: str, actor: str, to: KnownActor, lines: Iterable[str], language: str
) -> dict[str, Any]:
    """A Note to one actor only, with the Mention Mastodon needs to show it as
    a private mention (INTEROP.md, "Mentions"); ``lines`` are plain text."""
    link, tag = mention(to.id, to.preferred_username)
    paragraphs = [html.escape(line) for line in lines]
    content = f"<p>{link} {paragraphs[0]}</p>" + "".join(
        f"<p>{p}</p>" for p in paragraphs[1:]
    )
    return {
        "id": note_id,
        "type": "Note",
        "attributedTo": actor,
        "content": content,
        "contentMap": {language: content},
        "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "to": [to.id],
        "cc": [],
        "tag": [tag],
    }


_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "dismiss": "dismissed, no action",
        "warn": "a warning",
        "hide": "the reported posts are hidden on this node",
        "suspend": "membership suspended",
        "exclude": "exclusion from the community",
        "decision": "The moderators of {name} decided on report {id}, about "
        "your account: {what}.",
        "reason": "Reason: {reason}",
        "how": "To appeal, reply to this message before {deadline}, starting "
        "with “appeal” and saying why. Someone other than the first moderator "
        "will hear it.",
        "logged": "The decision is entry {entry} of the public decision log: {log}",
        "outcome": "Your report {flag} to {name} was decided: {what}.",
        "final": "Your appeal on report {id} was heard; the final decision is: {what}.",
        "refused": "Your appeal on report {id} could not be recorded: {why}.",
        "overdue.open": "Report {id} from {reporter} has waited since {since} "
        "for a decision, past its deadline.",
        "overdue.appealed": "The appeal on report {id} has waited since {since} "
        "to be heard, past its deadline.",
    },
    "fr": {
        "dismiss": "classé sans suite",
        "warn": "un avertissement",
        "hide": "les publications signalées sont masquées sur ce nœud",
        "suspend": "adhésion suspendue",
        "exclude": "exclusion de la communauté",
        "decision": "Les modérateurs de {name} ont statué sur le signalement "
        "{id}, qui concerne votre compte : {what}.",
        "reason": "Motif : {reason}",
        "how": "Pour faire appel, répondez à ce message avant le {deadline} "
        "en commençant par « appel » et en disant pourquoi. Une autre personne "
        "que le premier modérateur l’examinera.",
        "logged": "La décision est l’entrée {entry} du journal public des "
        "décisions : {log}",
        "outcome": "Votre signalement {flag} à {name} a été traité : {what}.",
        "final": "Votre appel sur le signalement {id} a été examiné ; la "
        "décision finale est : {what}.",
        "refused": "Votre appel sur le signalement {id} n’a pas pu être "
        "enregistré : {why}.",
        "overdue.open": "Le signalement {id} de {reporter} attend une décision "
        "depuis le {since}, au-delà du délai.",
        "overdue.appealed": "L’appel sur le signalement {id} attend d’être "
        "examiné depuis le {since}, au-delà du délai.",
    },
}
