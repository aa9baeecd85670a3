"""Proposals: what members decide together, voted from any fediverse account.

A yes/no or consent proposal is published as a ``Question`` (``oneOf`` yes /
no / abstain, or consent / object / abstain), so a Mastodon user votes as in
any poll: the vote arrives as ``Create(Note{name: <option>, inReplyTo:
<question>})``, or ``Create(Answer{…})`` from Pleroma and Akkoma (INTEROP.md,
"Polls"), and is identified by (voter, question, option), never by its id.

A poll cannot carry a reason nor a grade, so two kinds of ballot come as
replies to the proposal instead:

- a consent objection with its reason: a reply whose text begins with
  "object", "objection" or "j'objecte", the rest being the reason (a poll
  vote "object" without one is refused by the tally, but does not use up
  the voter's vote);
- a majority-judgment ballot: the proposal is then a ``Note`` (Mastodon shows
  its content in full) listing the options and grades, and a ballot is a
  reply with one "Option: grade" line per option, or, from software that
  knows it, a ``bocage:judgments`` member mapping options to grades.

Voters who reply get a direct reply saying how their ballot was read, or why
it does not count.  :meth:`Proposals.cast` is the one way in for ballots, from
the inbox and from the node's own pages.

The rule, options, grades, college weights and the electorate — the members
(of one college, or all) at the moment voting opens — are fixed when the
proposal opens, so an exclusion takes voting rights away from the next
proposal on.  At the end a job tallies (:mod:`protocol.tally`), publishes the
tally document (which ``bocage verify-tally`` recomputes), records the
outcome in the decision log, adopts the proposed charter text if there is one
and the proposal passed, and sends ``Update`` with the results.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from html.parser import HTMLParser
from typing import Any

import rfc8785
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from node.activitypub import as_response
from node.appkeys import NODE
from node.charter import MAX_TEXT as MAX_CHARTER
from node.services import Node
from protocol.errors import BocageError
from protocol.jsonld import first_id, get_str
from protocol.mastodon import mention
from protocol.tally import (
    ADOPTED,
    OBJECT,
    Ballot,
    Consent,
    Electorate,
    Majority,
    MajorityJudgment,
    Rule,
    Supermajority,
    Tally,
    TallyError,
    tally,
    tally_document,
)
from storage.jobs import Job
from storage.tables import ballots, proposals

log = logging.getLogger("bocage.node.proposals")

CLOSE_QUEUE = "proposal.close"
RESULTS_QUEUE = "proposal.results"
RESULTS_EVERY = 300.0  # seconds: Mastodon sends its own results "a few minutes" on
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
BOCAGE_NS = "https://w3id.org/bocage/ns#"

RULES = ("majority", "supermajority", "consent", "judgment")
# The options of the poll rules, offered as a Question's ``oneOf``.
CHOICES = {
    "majority": ("yes", "no", "abstain"),
    "supermajority": ("yes", "no", "abstain"),
    "consent": ("consent", "object", "abstain"),
}
# What a judgment proposal's Note, and a ballot replying to it, may carry
# (protocol/profile/bocage.ttl): judgments are one JSON value (JSON-LD 1.1
# "@json"), so options stay plain keys through expansion.
JUDGMENT_CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    {
        "bocage": BOCAGE_NS,
        "bocage:options": {"@container": "@list"},
        "bocage:grades": {"@container": "@list"},
        "bocage:judgments": {"@type": "@json"},
    },
]
# Best first, as voters read them; the tally takes them worst first.
DEFAULT_GRADES = ("excellent", "very good", "good", "fair", "poor", "reject")

MAX_OPTIONS = 20
MAX_OPTION = 100  # characters of an option of a judgment proposal
MAX_GRADE = 40
MAX_REASON = 5_000
MAX_CONTENT = 20_000  # characters of a reply read for a ballot
# Refused ballots are kept for the published tally, but a voter cannot make
# the tally grow without end.
MAX_BALLOTS_PER_VOTER = 20


class ProposalError(BocageError):
    """A proposal cannot be opened or closed, or a ballot cannot count.

    The message is meant for the voter or the operator, as it is.
    """


def make_rule(
    kind: str,
    quorum: Fraction = Fraction(0),
    threshold: Fraction = Fraction(2, 3),
    grades: Sequence[str] = DEFAULT_GRADES,
) -> Rule:
    """The tally rule for a proposal's settings; ``grades`` best first."""
    if kind == "majority":
        return Majority(quorum=quorum)
    if kind == "supermajority":
        return Supermajority(threshold=threshold, quorum=quorum)
    if kind == "consent":
        return Consent()
    if kind == "judgment":
        return MajorityJudgment(tuple(reversed(grades)))
    raise ProposalError(f"rule must be one of {', '.join(RULES)}")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _norm(text: str) -> str:
    """How replies are matched to options and grades: case and spaces aside."""
    return " ".join(text.casefold().split())


# --- reading ballots from replies -------------------------------------------


class _Text(HTMLParser):
    """The text of a Note's HTML content, a line per paragraph or ``<br>``."""

    BLOCKS = frozenset({"p", "div", "li", "blockquote", "pre", "tr", "h1", "h2"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


# Mastodon starts a reply with the mentions it answers ("@node@host …").
_MENTIONS = re.compile(r"^(?:@[^\s@]+(?:@[^\s@]+)?(?:\s+|$))+")
_OBJECTION = re.compile(
    r"(?:objection|object|j\s*['’]\s*objecte)\b[\s:;,.!\-–—]*", re.IGNORECASE
)


def note_lines(content: str) -> list[str]:
    """The non-blank lines of a Note's content, HTML and leading mentions removed."""
    parser = _Text()
    parser.feed(content[:MAX_CONTENT])
    parser.close()
    lines = []
    for raw in "".join(parser.parts).splitlines():
        line = _MENTIONS.sub("", " ".join(raw.split()))
        if line:
            lines.append(line)
    return lines


def read_objection(lines: Sequence[str]) -> str | None:
    """The reason of an objection ("Objection: …", "J'objecte …"), or None.

    None when the text does not begin with an objection; "" when it gives no
    reason (such a ballot is refused by the tally).
    """
    text = "\n".join(lines)
    found = _OBJECTION.match(text)
    return None if found is None else text[found.end() :].strip()


def read_judgments(
    lines: Sequence[str], options: Sequence[str], grades: Sequence[str]
) -> dict[str, str]:
    """The judgments in a reply's lines, one "Option: grade" a line.

    Matching ignores case and spaces.  A line whose left part is not an
    option and whose right part is not a grade is prose, and skipped; one
    with only one of the two is kept as written, so that the ballot is
    refused with a reason rather than read wrongly.  Raises
    :class:`ProposalError` when an option is judged twice differently.
    """
    by_option = {_norm(o): o for o in options}
    by_grade = {_norm(g): g for g in grades}
    judgments: dict[str, str] = {}
    for line in lines:
        left, colon, right = line.rpartition(":")
        if not colon:
            continue
        option = by_option.get(_norm(left))
        grade = by_grade.get(_norm(right.strip(" .,;!")))
        if option is None and grade is None:
            continue
        key = option or left.strip()
        value = grade or right.strip()
        if judgments.get(key, value) != value:
            raise ProposalError(f"{key!r} is judged twice")
        judgments[key] = value
    return judgments


@dataclass(frozen=True, slots=True)
class _Read:
    """A ballot as read from a Note or Answer."""

    choice: str | None = None
    judgments: dict[str, str] | None = None
    reason: str = ""
    reply: bool = False  # written by hand (or a client), not a poll vote


def _content(obj: Mapping[str, Any]) -> str:
    content = get_str(obj, "content")
    if content is None and isinstance(obj.get("contentMap"), dict):
        content = next(
            (v for v in obj["contentMap"].values() if isinstance(v, str)), None
        )
    return content or ""


def read_ballot(settings: Mapping[str, Any], obj: Mapping[str, Any]) -> _Read | None:
    """What a Note (or Answer) replying to a proposal votes, or None if nothing.

    A ``name`` makes it a poll vote (INTEROP.md, "Polls"); otherwise only a
    reply to a judgment proposal (judgments) or to a consent proposal (an
    objection) is a ballot; other replies are comments.
    """
    name = get_str(obj, "name")
    if name is not None:
        return _Read(choice=name)
    rule = settings["rule"]
    if rule == "judgment":
        given = obj.get("bocage:judgments")
        if given is not None:
            if not isinstance(given, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in given.items()
            ):
                raise ProposalError("bocage:judgments must map options to grades")
            return _Read(judgments=dict(given), reply=True)
        found = read_judgments(
            note_lines(_content(obj)), _options(settings), _grades(settings)
        )
        return _Read(judgments=found, reply=True) if found else None
    if rule == "consent":
        reason = read_objection(note_lines(_content(obj)))
        if reason is not None:
            return _Read(choice=OBJECT, reason=reason, reply=True)
    return None


# --- settings -------------------------------------------------------------------


def _options(settings: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(settings.get("options") or CHOICES[settings["rule"]])


def _grades(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """Best first; empty for the poll rules."""
    return tuple(settings.get("grades") or ())


def _weights(settings: Mapping[str, Any]) -> dict[str, Fraction]:
    return {c: Fraction(w) for c, w in (settings.get("weights") or {}).items()}


def _rule(settings: Mapping[str, Any]) -> Rule:
    return make_rule(
        settings["rule"],
        Fraction(settings["quorum"]),
        Fraction(settings["threshold"]),
        _grades(settings),
    )


def _check_labels(
    labels: Sequence[str], what: str, *, longest: int, at_least: int
) -> list[str]:
    cleaned = [" ".join(label.split()) for label in labels]
    if len(cleaned) < at_least:
        raise ProposalError(f"a judgment proposal needs at least {at_least} {what}s")
    if len(cleaned) > MAX_OPTIONS:
        raise ProposalError(f"at most {MAX_OPTIONS} {what}s")
    for label in cleaned:
        # Replies name them at the start of a line, before a colon.
        if not label or len(label) > longest or label.startswith("@"):
            raise ProposalError(
                f"each {what} has 1 to {longest} characters, not starting with @"
            )
    if len({_norm(label) for label in cleaned}) != len(cleaned):
        raise ProposalError(f"the {what}s must differ (case aside)")
    return cleaned


def _dedupe_key(
    choice: str | None, judgments: Mapping[str, str] | None, reason: str, note_id: str
) -> str:
    """What makes two deliveries the same ballot (storage.tables.ballots)."""
    if judgments is None and not reason and choice is not None:
        return "vote:" + choice[:64]
    if note_id:
        return "note:" + hashlib.sha256(note_id.encode()).hexdigest()
    content = {"choice": choice, "judgments": judgments, "reason": reason}
    return "ballot:" + hashlib.sha256(rfc8785.dumps(content)).hexdigest()


# --- the service ---------------------------------------------------------------


class Proposals:
    """Opens proposals, takes ballots, closes and tallies them."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self.username = node.config.node.username
        self.actor = self.fed.actor_iri(self.username)

    def iri(self, seq: int) -> str:
        return f"{self.fed.origin}/proposals/{seq}"

    def seq_of(self, iri: str) -> int | None:
        """The number of one of our proposals from its IRI, else None."""
        prefix = f"{self.fed.origin}/proposals/"
        rest = iri[len(prefix) :] if iri.startswith(prefix) else ""
        return int(rest) if rest.isascii() and rest.isdigit() else None

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
        options: Sequence[str] = (),
        grades: Sequence[str] = (),
        weights: Mapping[str, Fraction] | None = None,
        charter_text: str = "",
        charter_title: str = "",
    ) -> int:
        """Open a proposal to the current members (of ``college``, if given).

        ``rule`` is majority, supermajority, consent or judgment; a judgment
        proposal needs ``options`` and takes ``grades`` best first (default
        :data:`DEFAULT_GRADES`).  ``weights`` gives a college's ballots
        another weight than 1.  With ``charter_text``, the text becomes the
        next version of the charter if the proposal is adopted.
        """
        if not title.strip():
            raise ProposalError("a proposal needs a title")
        if closes_in <= 0:
            raise ProposalError("voting must last some time")
        if rule not in RULES:
            raise ProposalError(f"rule must be one of {', '.join(RULES)}")
        if rule == "judgment":
            options = _check_labels(options, "option", longest=MAX_OPTION, at_least=1)
            grades = _check_labels(
                grades or DEFAULT_GRADES, "grade", longest=MAX_GRADE, at_least=2
            )
            if any(":" in g for g in grades):
                raise ProposalError("a grade cannot contain a colon")
        elif options or grades:
            raise ProposalError("options and grades are for the judgment rule")
        else:
            options = CHOICES[rule]
        weights = {str(c): Fraction(w) for c, w in (weights or {}).items()}
        if any(not c or w <= 0 for c, w in weights.items()):
            raise ProposalError("each weight names a college and is more than 0")
        if charter_text:
            if not charter_text.strip():
                raise ProposalError("the charter text is empty")
            if rule == "judgment":
                raise ProposalError("a charter is adopted by a yes/no or consent rule")
            if len(charter_text) > MAX_CHARTER:
                raise ProposalError(f"the charter is over {MAX_CHARTER} characters")
            charter_title = charter_title.strip() or title
        settings = {
            "rule": rule,
            "quorum": str(quorum),
            "threshold": str(threshold),
            "college": college,
            "options": list(options),
            "grades": list(grades),
            "weights": {c: _fraction(w) for c, w in weights.items()},
        }
        try:
            # The tally's own checks of the set-up (quorum, threshold…), now
            # rather than when the proposal closes.
            tally(_rule(settings), options, [], Electorate({}, weights), _moment(0))
        except TallyError as exc:
            raise ProposalError(exc.reason) from exc

        members = await self.node.membership.list("member")
        electorate = {
            m["actor"]: m["college"]
            for m in members
            if not college or m["college"] == college
        }
        now = time.time()
        closes_at = now + closes_in

        async def save(conn: AsyncConnection) -> int:
            result = await conn.execute(
                proposals.insert()
                .values(
                    title=title, text=text, settings=settings, electorate=electorate,
                    state="open", opens_at=now, closes_at=closes_at,
                    charter_title=charter_title if charter_text else None,
                    charter_text=charter_text or None,
                )
                .returning(proposals.c.seq)
            )  # fmt: skip
            return int(result.scalar_one())

        seq = await self.node.writer.submit(save)
        await self.node.jobs.enqueue(
            CLOSE_QUEUE, {"proposal": seq}, run_at=closes_at, dedupe_key=f"close {seq}"
        )
        await self.node.federation.outbox.publish(
            self.username, "Create", await self.document(seq)
        )
        log.info("proposal %d open (%s) to %d voters", seq, rule, len(electorate))
        return seq

    # --- reading -------------------------------------------------------------

    async def _row(self, seq: int) -> Any:
        async with self.node.db.read() as conn:
            return (
                await conn.execute(select(proposals).where(proposals.c.seq == seq))
            ).first()

    async def _load(self, seq: int) -> tuple[Any, list[Any]]:
        """The proposal and its ballots, oldest first (two queries)."""
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(select(proposals).where(proposals.c.seq == seq))
            ).first()
            if row is None:
                raise ProposalError(f"no proposal {seq}")
            cast = (
                await conn.execute(
                    select(ballots)
                    .where(ballots.c.proposal_seq == seq)
                    .order_by(ballots.c.seq)
                )
            ).all()
        return row, list(cast)

    def _ballot(self, row: Any, b: Any) -> Ballot:
        return Ballot(
            id=b.note_id or f"{self.iri(row.seq)}/ballots/{b.seq}",
            voter=b.voter,
            college=row.electorate.get(b.voter, ""),
            cast_at=datetime.fromtimestamp(b.cast_at, UTC),
            choice=b.choice,
            reason=b.reason or None,
            grades=b.grades,
        )

    def _tally(self, row: Any, cast: Sequence[Any], closes_at: float) -> Tally:
        settings = row.settings
        return tally(
            _rule(settings),
            _options(settings),
            [self._ballot(row, b) for b in cast],
            Electorate(dict(row.electorate), _weights(settings)),
            _moment(closes_at),
        )

    async def live(self, seq: int, *, voter: str | None = None) -> dict[str, Any]:
        """What a results page shows, now: counts, grades, who may vote, state.

        While the proposal is open the counts are those of a tally run now,
        by the same rules as the final one (a voter's first valid ballot
        counts); ``outcome`` is None until it closes.  Counts are numbers of
        ballots; ``weighted`` ones are ``"n/d"`` strings (the college weights
        applied).  Grades are listed best first.  With ``voter``, ``you``
        says whether that actor may vote and already has a counted ballot.
        """
        row, cast = await self._load(seq)
        t = self._tally(row, cast, row.closes_at)
        summary = self._summary(row, t)
        if voter is not None:
            summary["you"] = {
                "eligible": voter in row.electorate,
                "counted": any(b.voter == voter for b in t.counted),
            }
        return summary

    def _summary(self, row: Any, t: Tally) -> dict[str, Any]:
        settings = row.settings
        options, grades = _options(settings), _grades(settings)
        counts: dict[str, int] = {}
        distribution: dict[str, dict[str, int]] = {}
        if grades:
            distribution = {o: dict.fromkeys(grades, 0) for o in options}
            for ballot in t.counted:
                given = ballot.grades or {}
                for option in options:
                    distribution[option][given.get(option, grades[-1])] += 1
        else:
            counts = dict.fromkeys(options, 0)
            for ballot in t.counted:
                counts[str(ballot.choice)] += 1
        closed = row.state == "closed"
        return {
            "seq": row.seq,
            "iri": self.iri(row.seq),
            "title": row.title,
            "text": row.text,
            "rule": settings["rule"],
            "quorum": settings["quorum"],
            "threshold": settings["threshold"],
            "college": settings.get("college", ""),
            "options": list(options),
            "grades": list(grades),
            "weights": dict(settings.get("weights") or {}),
            "state": row.state,
            "opens_at": row.opens_at,
            "closes_at": row.closes_at,
            "electorate": len(row.electorate),
            "voters": len(t.counted),
            "counts": counts,
            "weighted": {o: _fraction(w) for o, w in t.counts.items()},
            "distribution": distribution,
            "weighted_distribution": {
                o: {g: _fraction(t.grade_counts[o][g]) for g in grades}
                for o in t.grade_counts
            },
            "majority_grades": dict(t.majority_grades),
            "leaders": list(t.winners),
            "objections": [
                {"voter": b.voter, "reason": b.reason} for b in t.objections
            ],
            "outcome": row.outcome if closed else None,
            "decision": row.decision,
            "tally": f"{self.iri(row.seq)}/tally" if closed else None,
            "charter": None
            if row.charter_text is None
            else {
                "title": row.charter_title,
                "sha256": hashlib.sha256(row.charter_text.encode()).hexdigest(),
                "url": f"{self.iri(row.seq)}/charter",
                "version": row.charter_version,
            },
        }

    async def document(self, seq: int) -> dict[str, Any]:
        """The proposal as published: a Question, or a Note for majority judgment.

        A Question carries the current number of counted ballots per option,
        as Mastodon shows them (ballots, not weights).
        """
        row, cast = await self._load(seq)
        summary = self._summary(row, self._tally(row, cast, row.closes_at))
        content = self._content(summary)
        doc: dict[str, Any] = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.iri(seq),
            "type": "Question",
            "attributedTo": self.actor,
            "name": row.title,
            "content": content,
            # INTEROP.md, "Activities": content and a one-entry contentMap,
            # in what is fetched as in what is sent.
            "contentMap": {self.node.config.node.language: content},
            "endTime": _iso(row.closes_at),
            "published": _iso(row.opens_at),
            "url": self.iri(seq),
            "to": [PUBLIC],
            "cc": [f"{self.actor}/followers"],
        }
        if summary["rule"] == "judgment":
            doc["@context"] = JUDGMENT_CONTEXT
            doc["type"] = "Note"
            doc["bocage:options"] = summary["options"]
            doc["bocage:grades"] = summary["grades"]
        else:
            doc["oneOf"] = [
                {
                    "type": "Note",
                    "name": option,
                    "replies": {"type": "Collection", "totalItems": count},
                }
                for option, count in summary["counts"].items()
            ]
            doc["votersCount"] = summary["voters"]
            if row.state == "closed":
                doc["closed"] = _iso(row.closes_at)
        return doc

    def _content(self, s: dict[str, Any]) -> str:
        """The HTML Mastodon shows: the text, how to vote, and the result."""
        e = html.escape
        parts = [f"<p><strong>{e(s['title'])}</strong></p>"]
        parts += [
            f"<p>{e(p.strip())}</p>" for p in s["text"].split("\n\n") if p.strip()
        ]
        until = _iso(s["closes_at"]).replace("T", " ").replace("Z", " UTC")
        rule = s["rule"]
        if rule == "judgment":
            grades = ", ".join(s["grades"])
            example = "<br>".join(
                f"{e(o)}: {e(s['grades'][min(i, len(s['grades']) - 1)])}"
                for i, o in enumerate(s["options"])
            )
            parts += [
                f"<p>Judge each option with one grade, best first: {e(grades)}.</p>",
                "<p>To vote, reply to this post with one line per option, "
                f"for example:<br>{example}</p>",
                f"<p>An option you leave out is graded {e(s['grades'][-1])}. "
                "The option with the best majority grade wins.</p>",
            ]
        elif rule == "consent":
            parts.append(
                "<p>Adopted unless a member objects, giving a reason. To object, "
                "reply to this post beginning with “objection:” and your reason; "
                "a vote “object” in the poll without such a reply does not count."
                "</p>"
            )
        else:
            needs = "a majority of yes over no"
            if rule == "supermajority":
                needs = f"at least {s['threshold']} of yes among yes and no"
            quorum = "" if s["quorum"] == "0" else f", with a quorum of {s['quorum']}"
            parts.append(f"<p>Adopted with {needs}{e(quorum)}.</p>")
        if s["weights"]:
            listed = ", ".join(
                f"{c} {Fraction(w)}" for c, w in sorted(s["weights"].items())
            )
            parts.append(
                f"<p>Ballots weigh by college: {e(listed)} (any other: 1).</p>"
            )
        if s["charter"] is not None:
            url = e(s["charter"]["url"])
            parts.append(
                f'<p>If adopted, <a href="{url}">this text</a> becomes the '
                f"charter “{e(s['charter']['title'])}” "
                f"(SHA-256 {s['charter']['sha256']}).</p>"
            )
        if s["state"] != "closed":
            parts.append(f"<p>Members of the community vote until {until}.</p>")
        else:
            result = e(str(s["outcome"]).replace("-", " "))
            if rule == "judgment" and s["majority_grades"]:
                grades_text = ", ".join(
                    f"{o}: {g}" for o, g in s["majority_grades"].items()
                )
                result += f" ({e(', '.join(s['leaders']))}; {e(grades_text)})"
            parts.append(
                f"<p>Closed on {until}: {result}. "
                f'<a href="{e(str(s["tally"]))}">The tally</a> can be verified.</p>'
            )
        return "".join(parts)

    # --- ballots ---------------------------------------------------------------

    async def cast(
        self,
        seq: int,
        voter: str,
        *,
        choice: str | None = None,
        judgments: dict[str, str] | None = None,
        reason: str = "",
        note_id: str = "",
    ) -> None:
        """Record a ballot of ``voter``; :class:`ProposalError` if it cannot count.

        ``choice`` for the poll rules (with ``reason`` for a consent
        objection), ``judgments`` (option → grade; a missing option gets the
        lowest grade) for majority judgment; options and grades match case
        aside.  ``note_id`` is the id of the Note or Answer that carried it.

        The first valid ballot of a voter counts, as in the tally: a refused
        ballot does not use up the vote, and a later one is refused with "you
        already voted" (the same ballot again is not an error).  A ballot
        from the electorate that does not count is still recorded, so that
        the published tally lists it with its reason, up to
        :data:`MAX_BALLOTS_PER_VOTER`; nothing is recorded for a closed
        proposal or a voter outside the electorate.  Does not check who
        ``voter`` is: the inbox or the web session did.
        """
        row = await self._row(seq)
        if row is None:
            raise ProposalError(f"no proposal {seq}")
        now = time.time()
        if row.state != "open" or now >= row.closes_at:
            raise ProposalError("this proposal is closed")
        if voter not in row.electorate:
            raise ProposalError("you are not in this proposal's electorate")
        if len(reason) > MAX_REASON:
            raise ProposalError(f"the reason is over {MAX_REASON} characters")
        settings = row.settings
        options, grades = _options(settings), _grades(settings)
        if choice is not None:
            choice = _canonical(choice, options)[:64]
        if judgments is not None:
            if len(judgments) > 2 * MAX_OPTIONS or any(
                len(k) > MAX_OPTION or len(v) > MAX_OPTION for k, v in judgments.items()
            ):
                raise ProposalError("the ballot is too large")
            judgments = {
                _canonical(k, options): _canonical(v, grades)
                for k, v in judgments.items()
            }
        reason = reason.strip()
        problem = _problem(settings, choice, judgments, reason)
        key = _dedupe_key(choice, judgments, reason, note_id)
        values = {
            "proposal_seq": seq, "voter": voter, "choice": choice,
            "reason": reason, "grades": judgments, "note_id": note_id[:2048],
            "cast_at": now, "dedupe_key": key,
        }  # fmt: skip
        try:
            # Refuse what JCS cannot write (a lone surrogate) before storing it.
            Ballot(
                id=key, voter=voter, college="", cast_at=_moment(now),
                choice=choice, reason=reason or None, grades=judgments,
            )  # fmt: skip
        except TallyError as exc:
            raise ProposalError(f"this ballot cannot be recorded: {exc}") from exc

        async def save(conn: AsyncConnection) -> str:
            state = (
                await conn.execute(
                    select(proposals.c.state).where(proposals.c.seq == seq)
                )
            ).scalar_one()
            if state != "open":
                return "this proposal is closed"
            previous = (
                await conn.execute(
                    select(ballots)
                    .where(ballots.c.proposal_seq == seq, ballots.c.voter == voter)
                    .order_by(ballots.c.seq)
                )
            ).all()
            counted = self._tally(row, previous, row.closes_at).counted
            same = [p for p in previous if p.dedupe_key == key]
            if same:
                # The same ballot again: it stands or falls as the first time.
                first = self._ballot(row, same[0])
                return "" if first in counted else problem or "you already voted"
            if len(previous) >= MAX_BALLOTS_PER_VOTER:
                return "you have sent too many ballots on this proposal"
            await conn.execute(ballots.insert().values(**values))
            if problem:
                return problem
            return "you already voted" if counted else ""

        refusal = await self.node.writer.submit(save)
        if refusal:
            raise ProposalError(refusal)
        if settings["rule"] != "judgment":
            await self._results_soon(seq, now)

    async def _results_soon(self, seq: int, now: float) -> None:
        """Send the counts a few minutes after votes (INTEROP.md, "Polls").

        One Update per proposal and RESULTS_EVERY window, however many votes
        arrive in it.  Only polls: a judgment Note has no counts for Mastodon
        to show, and each Update would mark the post as edited.
        """
        window = int(now // RESULTS_EVERY)
        await self.node.jobs.enqueue(
            RESULTS_QUEUE,
            {"proposal": seq},
            run_at=(window + 1) * RESULTS_EVERY,
            dedupe_key=f"results {seq} {window}",
        )

    async def results_job(self, job: Job) -> None:
        """Job handler: the current counts to followers and voters, while open."""
        seq = int(job.payload["proposal"])
        row, received = await self._load(seq)
        if row.state == "open":
            await self._publish_results(seq, {b.voter for b in received})

    async def on_note(self, kind: str, obj: dict[str, Any], actor: str) -> None:
        """Processor hook for Notes and Answers: a ballot when it answers a proposal.

        Other Notes (and replies that vote nothing) are kept as any object.
        """
        seq = self.seq_of(first_id(obj.get("inReplyTo")) or "")
        row = await self._row(seq) if kind == "Create" and seq is not None else None
        if seq is None or row is None:
            # Not about a proposal, or an Update: a vote cannot be changed
            # (Mastodon does not let a voter change a vote either).
            await self.node.federation.processor.keep_object(obj, actor)
            return
        try:
            read = read_ballot(row.settings, obj)
        except ProposalError as exc:
            await self._tell(actor, obj, row, f"your ballot was not read: {exc}")
            return
        if read is None:  # a comment on the proposal
            await self.node.federation.processor.keep_object(obj, actor)
            return
        try:
            await self.cast(
                seq, actor, choice=read.choice, judgments=read.judgments,
                reason=read.reason, note_id=get_str(obj, "id") or "",
            )  # fmt: skip
        except ProposalError as exc:
            log.info("ballot from %s on proposal %d refused: %s", actor, seq, exc)
            if read.reply:
                await self._tell(actor, obj, row, f"your ballot does not count: {exc}")
            return
        if read.reply:
            if read.judgments is not None:
                grades = _options_read(read.judgments, _options(row.settings))
                said = f"your ballot is recorded: {grades}"
            else:
                said = f"your objection is recorded, with the reason: {read.reason}"
            await self._tell(actor, obj, row, said)

    async def _tell(
        self, voter: str, obj: Mapping[str, Any], row: Any, text: str
    ) -> None:
        """Reply to a hand-written ballot, to the voter alone, with how it went.

        A ballot typed as text is easy to get wrong: the voter reads here what
        was understood, and may send a corrected one.
        """
        if self.fed.is_local(voter):
            return
        try:
            known = await self.node.federation.resolver.get(voter)
        except BocageError as exc:
            log.info("cannot tell %s how their ballot went: %s", voter, exc)
            return
        # A direct reply names its reader as Mastodon does: a Mention tag
        # "@user@host" and the content opening with the mention's link
        # (INTEROP.md, "Activities").
        link, tag = mention(voter, known.preferred_username)
        about = html.escape(f"“{row.title}” ({self.iri(row.seq)})")
        note = {
            "id": self.fed.new_id("objects"),
            "type": "Note",
            "attributedTo": self.actor,
            "inReplyTo": get_str(obj, "id") or self.iri(row.seq),
            "content": f"<p>{link} {about}: {html.escape(text)}.</p>",
            "to": [voter],
            "tag": [tag],
        }
        try:
            await self.node.federation.outbox.direct(
                self.username, "Create", note, voter
            )
        except BocageError as exc:
            log.info("cannot tell %s how their ballot went: %s", voter, exc)

    # --- closing ---------------------------------------------------------------

    async def close(self, seq: int) -> dict[str, Any]:
        """Tally, publish the tally, record the outcome, adopt, send Update."""
        row, received = await self._load(seq)
        if row.state != "open":
            raise ProposalError(f"no open proposal {seq}")
        closes_at = min(row.closes_at, time.time())
        result = self._tally(row, received, closes_at)
        document = tally_document(result)
        body: dict[str, Any] = {
            "outcome": result.outcome,
            "inputsHash": result.inputs_hash,
        }
        if row.charter_text is not None:
            # The log names the text the vote was about, as charter.adopt does.
            body["charterSha256"] = hashlib.sha256(
                row.charter_text.encode()
            ).hexdigest()

        async def still_open(conn: AsyncConnection) -> bool:
            state = await conn.scalar(
                select(proposals.c.state).where(proposals.c.seq == seq)
            )
            return bool(state == "open")

        async def save(conn: AsyncConnection, entry: dict[str, Any]) -> None:
            await conn.execute(
                update(proposals)
                .where(proposals.c.seq == seq)
                .values(state="closed", tally=document, outcome=result.outcome,
                        decision=entry["index"], closes_at=closes_at)
            )  # fmt: skip

        # The close job and `bocage proposal close` may race: the log's lock
        # lets one of them record the outcome, with the proposal's new state.
        entry = await self.node.decisions.append_if(
            "proposal.close", self.iri(seq), body, guard=still_open, apply=save
        )
        if entry is None:
            raise ProposalError(f"proposal {seq} was closed meanwhile")
        log.info("proposal %d closed: %s", seq, result.outcome)
        await self._adopt_charter(seq)
        await self._publish_results(seq, {b.voter for b in received})
        return document

    async def _adopt_charter(self, seq: int) -> None:
        """Adopt the proposed charter of an adopted proposal, once.

        Run after the close and again by the close job, so that a crash in
        between does not lose the adoption.
        """
        row = await self._row(seq)
        if (
            row is None
            or row.outcome != ADOPTED
            or row.charter_text is None
            or row.charter_version is not None
        ):
            return
        version = await self.node.charter.adopt(
            row.charter_title,
            row.charter_text,
            reason=f"adopted by proposal {seq}",
            proposal=self.iri(seq),
            proposal_decision=row.decision,
        )

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                update(proposals)
                .where(proposals.c.seq == seq)
                .values(charter_version=version)
            )

        await self.node.writer.submit(save)

    async def _publish_results(self, seq: int, voters: set[str]) -> None:
        # Results go to followers and to the voters (Mastodon shows them there).
        inboxes = []
        for voter in sorted(voters):
            if self.fed.is_local(voter):
                continue
            try:
                inboxes.append((await self.node.federation.resolver.get(voter)).inbox)
            except BocageError as exc:
                log.info("cannot tell %s the result: %s", voter, exc)
        await self.node.federation.outbox.publish(
            self.username, "Update", await self.document(seq), inboxes=inboxes
        )

    async def close_job(self, job: Job) -> None:
        """Job handler: close a proposal when its time has come."""
        seq = int(job.payload["proposal"])
        row = await self._row(seq)
        if row is not None and row.state == "open":
            await self.close(seq)
        else:
            await self._adopt_charter(seq)

    async def list(self) -> list[dict[str, Any]]:
        """Every proposal, newest first: seq, title, rule, state, closes_at…"""
        stmt = select(
            proposals.c.seq,
            proposals.c.title,
            proposals.c.settings,
            proposals.c.state,
            proposals.c.opens_at,
            proposals.c.closes_at,
            proposals.c.outcome,
        ).order_by(proposals.c.seq.desc())
        async with self.node.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            {
                "seq": r.seq,
                "iri": self.iri(r.seq),
                "title": r.title,
                "rule": r.settings["rule"],
                "state": r.state,
                "opens_at": r.opens_at,
                "closes_at": r.closes_at,
                "outcome": r.outcome,
            }
            for r in rows
        ]


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _canonical(text: str, known: Sequence[str]) -> str:
    """``text`` spelt as in ``known`` when it matches case aside, else as is."""
    wanted = _norm(text)
    return next((k for k in known if _norm(k) == wanted), text)


def _options_read(judgments: Mapping[str, str], options: Sequence[str]) -> str:
    """The judgments as understood, every option listed (missing: lowest)."""
    return "; ".join(f"{o}: {judgments.get(o, '(none)')}" for o in options)


def _problem(
    settings: Mapping[str, Any],
    choice: str | None,
    judgments: Mapping[str, str] | None,
    reason: str,
) -> str:
    """Why a ballot cannot count under the rule, for the voter ("" if it can).

    The same checks as the tally's (protocol.tally, "Counting a ballot"),
    in words.
    """
    options, grades = _options(settings), _grades(settings)
    if settings["rule"] == "judgment":
        if judgments is None or choice is not None:
            return "this proposal is voted by grading each option"
        for option, grade in judgments.items():
            if option not in options:
                return f"unknown option {option!r} (the options: {', '.join(options)})"
            if grade not in grades:
                return f"unknown grade {grade!r} (the grades: {', '.join(grades)})"
        return ""
    if judgments is not None or choice is None:
        return f"this proposal is voted by choosing one of {', '.join(options)}"
    if choice not in options:
        return f"unknown option {choice!r} (the options: {', '.join(options)})"
    if choice == OBJECT and not reason:
        return "an objection needs a reason"
    return ""


# --- web -----------------------------------------------------------------------


def _seq(request: web.Request) -> int:
    return int(request.match_info["seq"])


async def proposal_view(request: web.Request) -> web.Response:
    node = request.app[NODE]
    try:
        return as_response(await node.proposals.document(_seq(request)))
    except ProposalError:
        return web.json_response({"error": "no such proposal"}, status=404)


async def tally_view(request: web.Request) -> web.Response:
    node = request.app[NODE]
    row = await node.proposals._row(_seq(request))
    if row is None or row.tally is None:
        return web.json_response(
            {"error": "no tally (yet) for this proposal"}, status=404
        )
    return web.json_response(row.tally)


async def charter_view(request: web.Request) -> web.Response:
    """The charter text a proposal would adopt, exactly (its SHA-256 is logged)."""
    node = request.app[NODE]
    row = await node.proposals._row(_seq(request))
    if row is None or row.charter_text is None:
        return web.json_response({"error": "no charter in this proposal"}, status=404)
    return web.Response(text=row.charter_text, content_type="text/plain")


def setup_proposal_routes(app: web.Application) -> None:
    app.router.add_get("/proposals/{seq:\\d+}", proposal_view)
    app.router.add_get("/proposals/{seq:\\d+}/tally", tally_view)
    app.router.add_get("/proposals/{seq:\\d+}/charter", charter_view)
