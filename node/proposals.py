"""Proposals: ActivityStreams ``Question``s that members vote on from any account.

A proposal is published as a ``Question`` (``oneOf`` yes / no / abstain, or
consent / object / abstain), so a Mastodon user votes as in any poll: the vote
arrives as ``Create(Note{name: <option>, inReplyTo: <question>})``
(INTEROP.md, "Polls") and is identified by (voter, question, option), never by
its id.  The rule and the electorate — the members (of one college, or all)
at the moment voting opens — are fixed when the proposal opens, so an
exclusion takes voting rights away from the next proposal on.  At the end a
job tallies (:mod:`protocol.tally`), publishes the tally document (which
``bocage verify-tally`` recomputes), records the outcome in the decision log
and sends ``Update(Question)`` with the counts.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from node.activitypub import as_response
from node.appkeys import NODE
from node.services import Node
from protocol.errors import BocageError
from protocol.jsonld import first_id, get_str
from protocol.tally import (
    Ballot,
    Consent,
    Electorate,
    Majority,
    Rule,
    Supermajority,
    tally,
    tally_document,
)
from storage.jobs import Job
from storage.tables import ballots, proposals

log = logging.getLogger("bocage.node.proposals")

CLOSE_QUEUE = "proposal.close"
OPTIONS = {
    "majority": ("yes", "no", "abstain"),
    "supermajority": ("yes", "no", "abstain"),
    "consent": ("consent", "object", "abstain"),
}


class ProposalError(BocageError):
    """A proposal cannot be opened or closed as asked."""


def make_rule(kind: str, quorum: Fraction, threshold: Fraction) -> Rule:
    if kind == "majority":
        return Majority(quorum=quorum)
    if kind == "supermajority":
        return Supermajority(threshold=threshold, quorum=quorum)
    if kind == "consent":
        return Consent()
    raise ProposalError(f"rule must be one of {', '.join(OPTIONS)}")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Proposals:
    """Opens proposals, takes votes, closes and tallies them."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self.username = node.config.node.username
        self.actor = self.fed.actor_iri(self.username)

    def iri(self, seq: int) -> str:
        return f"{self.fed.origin}/proposals/{seq}"

    async def open(
        self,
        title: str,
        text: str,
        *,
        rule: str = "majority",
        quorum: Fraction = Fraction(0),
        threshold: Fraction = Fraction(2, 3),
        closes_in: float = 7 * 86400.0,
        college: str = "",
    ) -> int:
        """Open a proposal to the current members (of ``college``, if given)."""
        make_rule(rule, quorum, threshold)  # refuses unknown rules before storing
        if not title.strip():
            raise ProposalError("a proposal needs a title")
        members = await self.node.membership.list("member")
        electorate = {
            m["actor"]: m["college"]
            for m in members
            if not college or m["college"] == college
        }
        now = time.time()
        closes_at = now + closes_in
        settings = {
            "rule": rule,
            "quorum": str(quorum),
            "threshold": str(threshold),
            "college": college,
        }

        async def save(conn: AsyncConnection) -> int:
            result = await conn.execute(
                proposals.insert()
                .values(
                    title=title, text=text, settings=settings, electorate=electorate,
                    state="open", opens_at=now, closes_at=closes_at,
                )
                .returning(proposals.c.seq)
            )  # fmt: skip
            return int(result.scalar_one())

        seq = await self.node.writer.submit(save)
        await self.node.jobs.enqueue(
            CLOSE_QUEUE, {"proposal": seq}, run_at=closes_at, dedupe_key=f"close {seq}"
        )
        await self.node.federation.outbox.publish(
            self.username, "Create", await self.question(seq)
        )
        return seq

    async def _row(self, seq: int) -> Any:
        async with self.node.db.read() as conn:
            return (
                await conn.execute(select(proposals).where(proposals.c.seq == seq))
            ).first()

    async def question(self, seq: int) -> dict[str, Any]:
        """The proposal as a Question, with the current counts per option."""
        row = await self._row(seq)
        if row is None:
            raise ProposalError(f"no proposal {seq}")
        options = OPTIONS[row.settings["rule"]]
        async with self.node.db.read() as conn:
            rows = (
                await conn.execute(
                    select(ballots.c.voter, ballots.c.choice).where(
                        ballots.c.proposal_seq == seq
                    )
                )
            ).all()
        # Only eligible voters' ballots are shown; the tally says why others
        # did not count.
        cast = [(voter, choice) for voter, choice in rows if voter in row.electorate]
        counts = {option: 0 for option in options}
        for _, choice in cast:
            if choice in counts:
                counts[choice] += 1
        question: dict[str, Any] = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.iri(seq),
            "type": "Question",
            "attributedTo": self.actor,
            "name": row.title,
            "content": f"<p>{row.title}</p>",
            "oneOf": [
                {
                    "type": "Note",
                    "name": o,
                    "replies": {"type": "Collection", "totalItems": n},
                }
                for o, n in counts.items()
            ],
            "endTime": _iso(row.closes_at),
            "votersCount": len({voter for voter, _ in cast}),
            "published": _iso(row.opens_at),
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [f"{self.actor}/followers"],
        }
        if row.state == "closed":
            question["closed"] = _iso(row.closes_at)
        return question

    async def on_note(self, kind: str, note: dict[str, Any], actor: str) -> None:
        """Processor hook for Notes: a vote when it answers one of our proposals."""
        target = first_id(note.get("inReplyTo")) or ""
        prefix = f"{self.fed.origin}/proposals/"
        choice = get_str(note, "name")
        if kind != "Create" or not target.startswith(prefix) or choice is None:
            await self.node.federation.processor.keep_object(note, actor)
            return
        try:
            seq = int(target[len(prefix) :])
        except ValueError:
            return
        row = await self._row(seq)
        if row is None or row.state != "open":
            log.info("vote from %s on %s refused: not an open proposal", actor, target)
            return
        now = time.time()

        async def save(conn: AsyncConnection) -> None:
            stmt = self.node.db.insert(ballots).values(
                proposal_seq=seq, voter=actor, choice=choice[:64],
                note_id=get_str(note, "id") or "", cast_at=now,
            )  # fmt: skip
            # One row per (voter, option): a repeated delivery is the same vote.
            await conn.execute(
                stmt.on_conflict_do_nothing(
                    index_elements=["proposal_seq", "voter", "choice"]
                )
            )

        await self.node.writer.submit(save)

    async def close(self, seq: int) -> dict[str, Any]:
        """Tally, publish the tally, record the outcome, send Update(Question)."""
        row = await self._row(seq)
        if row is None or row.state != "open":
            raise ProposalError(f"no open proposal {seq}")
        settings = row.settings
        rule = make_rule(
            settings["rule"],
            Fraction(settings["quorum"]),
            Fraction(settings["threshold"]),
        )
        async with self.node.db.read() as conn:
            cast = (
                await conn.execute(
                    select(ballots)
                    .where(ballots.c.proposal_seq == seq)
                    .order_by(ballots.c.seq)
                )
            ).all()
        closes_at = datetime.fromtimestamp(min(row.closes_at, time.time()), UTC)
        received = [
            Ballot(
                id=b.note_id or f"{self.iri(seq)}/ballots/{b.seq}",
                voter=b.voter,
                college=row.electorate.get(b.voter, ""),
                cast_at=datetime.fromtimestamp(b.cast_at, UTC),
                choice=b.choice,
            )
            for b in cast
        ]
        result = tally(
            rule, OPTIONS[settings["rule"]], received, Electorate(dict(row.electorate)),
            closes_at,
        )  # fmt: skip
        document = tally_document(result)
        entry = await self.node.decisions.append(
            "proposal.close",
            self.iri(seq),
            {"outcome": result.outcome, "inputsHash": result.inputs_hash},
        )

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                update(proposals)
                .where(proposals.c.seq == seq)
                .values(state="closed", tally=document, decision=entry["index"],
                        closes_at=closes_at.timestamp())
            )  # fmt: skip

        await self.node.writer.submit(save)
        # Results go to followers and to the voters (Mastodon shows them there).
        voters = {b.voter for b in cast}
        inboxes = []
        for voter in voters:
            try:
                inboxes.append((await self.node.federation.resolver.get(voter)).inbox)
            except BocageError as exc:
                log.info("cannot tell %s the result: %s", voter, exc)
        await self.node.federation.outbox.publish(
            self.username, "Update", await self.question(seq), inboxes=inboxes
        )
        return document

    async def close_job(self, job: Job) -> None:
        """Job handler: close a proposal when its time has come."""
        row = await self._row(int(job.payload["proposal"]))
        if row is not None and row.state == "open":
            await self.close(row.seq)


async def question_view(request: web.Request) -> web.Response:
    node = request.app[NODE]
    try:
        return as_response(
            await node.proposals.question(int(request.match_info["seq"]))
        )
    except ProposalError:
        return web.json_response({"error": "no such proposal"}, status=404)


async def tally_view(request: web.Request) -> web.Response:
    node = request.app[NODE]
    row = await node.proposals._row(int(request.match_info["seq"]))
    if row is None or row.tally is None:
        return web.json_response(
            {"error": "no tally (yet) for this proposal"}, status=404
        )
    return web.json_response(row.tally)


def setup_proposal_routes(app: web.Application) -> None:
    app.router.add_get("/proposals/{seq:\\d+}", question_view)
    app.router.add_get("/proposals/{seq:\\d+}/tally", tally_view)
