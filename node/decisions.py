"""The node's public decision log, and the mirrors it keeps of its peers' logs.

Each decision becomes an entry of :mod:`protocol.decisionlog` signed with the
node's Ed25519 key; after each append a signed checkpoint covers the whole
log.  Both are public (``/log``, ``/log/checkpoints``) so peers can mirror them
and anyone can run ``bocage verify-log``.  Appends are serialised (one writer
on SQLite, an advisory lock on PostgreSQL), so the chain never forks.

Logged today: agreement decisions (accept, reject, terminate), follow requests
decided by hand, membership, charter, proposals and moderation.

Mirrors (DESIGN.md, "Governance": checkpoints "that peers can mirror").  A
node mirrors the log of every node it follows: a periodic job fetches the
peer's ``/log/checkpoints`` and the entries it does not hold yet, checks every
signature against the peer actor's own keys and checks that the new
checkpoint extends what is held (RFC 9162 section 2.1.4: the held tree must be
a prefix of the new one).  A peer that presents a checkpoint contradicting one
already held — a rewritten or forked log — is recorded as evidence, both
signed documents kept, and the mirror stops advancing: nothing held is ever
overwritten.  A mirror is served at ``/log/mirrors/{host}`` in the same shape
as ``/log``, so ``bocage verify-log`` reads it unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urldefrag, urlsplit

import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Select, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.http import FetchError, HttpClient
from node.activitypub import as_response, collection
from node.appkeys import NODE
from node.services import Node
from protocol.actors import parse_actor
from protocol.decisionlog import (
    Checkpoint,
    Entry,
    Failure,
    LogError,
    check_link,
    compare_mirror,
    make_checkpoint,
    make_entry,
    parse_checkpoint,
    parse_entry,
    prefix_roots,
    tree_root,
    verify_checkpoint,
    verify_entry,
    verify_log,
)
from protocol.errors import BocageError, ProtocolError
from protocol.jsonld import as_list, first_id
from protocol.keys import public_key_from_multibase, public_key_to_multibase
from storage.jobs import Job
from storage.tables import (
    decision_checkpoints,
    decision_entries,
    follows,
    log_mirror_checkpoints,
    log_mirror_entries,
    log_mirror_forks,
    log_mirrors,
)

log = logging.getLogger("bocage.node.decisions")

PAGE = 100
# Any constant, the same in every Bocage process (as for migrations).
_PG_LOG_LOCK = 0x626F636C6F67

#: The job that brings one peer's mirror up to date.
MIRROR_QUEUE = "log.mirror"
#: The periodic job that queues one MIRROR_QUEUE job per followed node.
MIRROR_ROUND_QUEUE = "log.mirror.round"
MIRROR_EVERY = 3600.0
# How far apart two servers' clocks may be before times compared across them
# mean something (Mastodon allows about an hour; peers here are closer).
_CLOCK_SLACK = 60.0


class DecisionLog:
    """Appends decisions and checkpoints to the node's log."""

    def __init__(self, node: Node) -> None:
        self.node = node
        fed = node.federation.fed
        self.origin = f"{fed.origin}/log"
        self.key_id = fed.ed25519_key_id(node.config.node.username)
        self.mirrors = LogMirrors(node)

    async def append(
        self, kind: str, subject: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Record one decision; returns the signed entry."""
        entry = await self.append_if(kind, subject, body)
        assert entry is not None  # no guard: always appended
        return entry

    async def append_if(
        self,
        kind: str,
        subject: str,
        body: dict[str, Any],
        *,
        guard: Callable[[AsyncConnection], Awaitable[bool]] | None = None,
        apply: Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]
        | None = None,
    ) -> dict[str, Any] | None:
        """Record a decision only if ``guard`` still holds, with its effect.

        ``guard`` runs first and ``apply`` after the entry is written, in the
        same transaction, which the log's lock serialises across processes: a
        decision that may be taken once (closing a proposal) is then taken
        once, and its effect is never without its entry.  Returns None when
        the guard said no (nothing written).
        """
        db = self.node.db
        key = self.node.keys.ed25519

        async def write(conn: AsyncConnection) -> dict[str, Any] | None:
            if db.dialect == "postgresql":
                await conn.execute(
                    text(f"SELECT pg_advisory_xact_lock({_PG_LOG_LOCK})")
                )
            if guard is not None and not await guard(conn):
                return None
            last = (
                await conn.execute(
                    select(decision_entries.c.document)
                    .order_by(decision_entries.c.idx.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            prev = parse_entry(last) if last is not None else None
            now = datetime.fromtimestamp(time.time(), UTC)
            if prev is not None and now < prev.time:
                now = prev.time  # a clock that stepped back must not break the chain
            entry = make_entry(prev, kind, subject, body, now, key, self.key_id)
            await conn.execute(
                decision_entries.insert().values(
                    idx=entry["index"], hash=entry["hash"], document=entry
                )
            )
            hashes = [
                bytes.fromhex(h)
                for h in (
                    await conn.execute(
                        select(decision_entries.c.hash).order_by(decision_entries.c.idx)
                    )
                ).scalars()
            ]
            checkpoint = make_checkpoint(
                len(hashes), tree_root(hashes), now, key, self.key_id, self.origin
            )
            await conn.execute(
                decision_checkpoints.insert().values(
                    size=len(hashes), document=checkpoint
                )
            )
            if apply is not None:
                await apply(conn, entry)
            return entry

        entry: dict[str, Any] | None = await self.node.writer.submit(write)
        return entry


# --- mirrors of the logs of the nodes we follow ----------------------------------


class MirrorError(BocageError):
    """A peer's log could not be mirrored this time (it stays as it was)."""


@dataclass(frozen=True, slots=True)
class MirrorSync:
    """What one sync of a peer's log did."""

    origin: str
    entries: int = 0  # entries added
    checkpoints: int = 0  # checkpoints added
    evidence: int = 0  # contradictions newly recorded
    size: int = 0  # entries held afterwards


@dataclass(slots=True)
class _Held:
    """What the mirror holds of one log."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)
    checkpoints: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_entry: dict[str, Any] | None = None
    signers: dict[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> dict[str, Any] | None:
        # Entries are only ever held up to a checkpoint's size.
        return self.checkpoints.get(self.size)


@dataclass(frozen=True, slots=True)
class _Contradiction:
    """A document the origin presented against one the mirror holds."""

    kind: str  # fork, rollback, altered-entry
    held: dict[str, Any]
    presented: dict[str, Any]
    reason: str


def log_iri_of(actor: str) -> str:
    """The decision log of the node an actor lives on (Bocage serves ``/log``)."""
    parts = urlsplit(actor)
    return f"{parts.scheme}://{parts.netloc.lower()}/log"


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc.lower()) == (pb.scheme, pb.netloc.lower())


def _digest(*documents: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        orjson.dumps(list(documents), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


class LogMirrors:
    """Mirrors the decision logs of the nodes this node follows."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self.clock = time.time

    # --- which logs, and when ---------------------------------------------------

    async def followed_logs(self) -> dict[str, str]:
        """Log IRI → one actor we follow there, for every followed peer host."""
        ours = f"{self.fed.origin}/actors/%"
        stmt = (
            select(follows.c.followee)
            .where(follows.c.follower.like(ours), follows.c.state == "accepted")
            .order_by(follows.c.id)
        )
        async with self.node.db.read() as conn:
            followees = list((await conn.execute(stmt)).scalars())
        found: dict[str, str] = {}
        for actor in followees:
            if not self.fed.is_local(actor):
                found.setdefault(log_iri_of(actor), actor)
        return found

    async def round(self) -> int:
        """Queue one sync per followed node (the periodic job); returns how many."""
        slot = int(self.clock() // MIRROR_EVERY)
        queued = 0
        for origin, actor in (await self.followed_logs()).items():
            queued += await self._queue(origin, actor, f"{origin} {slot}")
        return queued

    async def on_accepted(self, follower: str, followee: str) -> None:
        """Processor hook: a node accepted our follow; mirror its log now."""
        if not self.fed.is_local(followee):
            origin = log_iri_of(followee)
            await self._queue(origin, followee, f"{origin} accepted {self.clock()}")

    async def _queue(self, origin: str, actor: str, dedupe: str) -> int:
        return await self.node.jobs.enqueue(
            MIRROR_QUEUE,
            {"origin": origin, "actor": actor},
            dedupe_key=dedupe,
            partition_key=urlsplit(origin).netloc.lower(),
        )

    async def job(self, job: Job) -> None:
        """The MIRROR_QUEUE handler."""
        origin, actor = job.payload.get("origin"), job.payload.get("actor")
        if isinstance(origin, str) and isinstance(actor, str):
            await self.sync(origin, actor)

    # --- one sync --------------------------------------------------------------

    async def sync(self, origin: str, actor: str) -> MirrorSync:
        """Bring the mirror of ``origin`` (a ``…/log`` IRI) up to date.

        A peer that cannot be read, or that serves documents that do not
        verify, leaves the mirror as it was (the reason is kept in
        ``last_error`` and the next round tries again); it raises nothing, as
        the next round is the retry.
        """
        try:
            return await self._sync(origin, actor)
        except FetchError as exc:
            if exc.status in (404, 410):
                # Not a Bocage node (a Mastodon account we follow): no log.
                log.debug("%s has no decision log: %s", origin, exc)
                return MirrorSync(origin)
            reason = f"cannot read the log: {exc}"
        except (ProtocolError, MirrorError) as exc:
            reason = str(exc)
        log.info("mirror of %s not updated: %s", origin, reason)
        await self._note_error(origin, actor, reason)
        return MirrorSync(origin)

    async def _sync(self, origin: str, actor: str) -> MirrorSync:
        fetch = self.node.federation.resolver.fetch
        held = await self._held(origin)
        keys: dict[str, ed25519.Ed25519PublicKey] = {}

        # 1. The checkpoints the origin signs now (the latest 100).
        listing = await fetch(f"{origin}/checkpoints")
        served = [
            d for d in as_list(listing.get("orderedItems")) if isinstance(d, dict)
        ]
        await self._add_keys(origin, {str(d.get("keyId")) for d in served}, keys)
        signed = self._signed_checkpoints(origin, served, keys)
        if not signed:
            if served:
                raise MirrorError(f"{origin} serves no checkpoint it signed")
            return MirrorSync(origin, size=held.size)  # an empty log
        newest, newest_doc = signed[-1]

        # 2. What they say of the entries held: the same trees, or evidence.
        found: list[_Contradiction] = []
        roots = prefix_roots(held.hashes, [c.size for c, _ in signed])
        for checkpoint, doc in signed:
            size = checkpoint.size
            if size <= held.size and roots[size] != checkpoint.root:
                mine = held.checkpoints.get(size) or held.latest
                assert mine is not None  # held.size > 0 here
                found.append(
                    _Contradiction(
                        "fork",
                        mine,
                        doc,
                        f"the checkpoint of size {size} is not the tree of the "
                        f"entries mirrored: the log was rewritten",
                    )
                )
        if held.latest is not None and newest.size < held.size:
            found.append(
                _Contradiction(
                    "rollback",
                    held.latest,
                    newest_doc,
                    f"the newest checkpoint covers {newest.size} entries, but "
                    f"the origin signed one covering {held.size} before",
                )
            )

        # 3. The entries past those held, signed and chained to them.
        entries: list[Entry] = []
        if not found and newest.size > held.size:
            docs, overlap = await self._fetch_entries(origin, held.size, newest.size)
            found += await self._altered(origin, overlap)
            await self._add_keys(origin, {str(d.get("keyId")) for d in docs}, keys)
            entries, forked = self._verified_entries(origin, held, docs, keys)
            if forked and held.latest is not None:
                found.append(
                    _Contradiction(
                        "fork",
                        held.latest,
                        newest_doc,
                        f"entry {held.size} follows another entry "
                        f"{held.size - 1} than the one mirrored: the log "
                        f"was rewritten",
                    )
                )

        # 4. The new checkpoints must be the trees of held + new entries: the
        # held tree is then a prefix of theirs (RFC 9162 section 2.1.4).
        hashes = held.hashes + [e.hash for e in entries]
        roots = prefix_roots(hashes, [c.size for c, _ in signed])
        chosen: list[tuple[Checkpoint, dict[str, Any]]] = []
        for checkpoint, doc in signed:
            size = checkpoint.size
            if found or size in held.checkpoints or size > len(hashes):
                continue
            if roots[size] == checkpoint.root:
                chosen.append((checkpoint, doc))
            elif held.latest is not None and size > held.size:
                found.append(
                    _Contradiction(
                        "fork",
                        held.latest,
                        doc,
                        f"the checkpoint of size {size} is not the tree of the "
                        f"entries mirrored and the entries it served after "
                        f"them",
                    )
                )
            else:
                log.info(
                    "%s: checkpoint of size %d does not match its entries", origin, size
                )

        if found:
            # Never build on a log that contradicts what is held.
            added = 0
            for item in found:
                added += await self._record(origin, item)
            if added:
                log.warning(
                    "%s contradicts its mirrored log (%d new pieces of evidence; "
                    "first: %s: %s); both signed documents are kept at "
                    "/log/mirrors/%s/forks and the mirror stops there: ask its "
                    "operators why",
                    origin,
                    added,
                    found[0].kind,
                    found[0].reason,
                    urlsplit(origin).netloc.lower(),
                )
            else:
                log.info("%s still contradicts its mirrored log", origin)
            await self._note_error(origin, actor, f"{found[0].kind}: {found[0].reason}")
            return MirrorSync(origin, evidence=added, size=held.size)

        # Keep entries only up to the largest checkpoint that matched them.
        top = max([held.size, *(c.size for c, _ in chosen)])
        entries = entries[: top - held.size]
        latest = next((d for c, d in chosen if c.size == top), held.latest)
        stored = await self._store(origin, actor, held, entries, chosen, latest, keys)
        if not stored:
            return MirrorSync(origin, size=held.size)  # another sync got there first
        if entries or chosen:
            log.info(
                "mirrored %d entries and %d checkpoints of %s (now %d entries)",
                len(entries),
                len(chosen),
                origin,
                top,
            )
        return MirrorSync(origin, len(entries), len(chosen), 0, top)

    async def _fetch_entries(
        self, origin: str, start: int, end: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Entries ``start`` to ``end - 1``, and the held ones served beside them.

        Bocage serves the log 100 entries a page, oldest first, so the first
        page to read is known; the pages' ``next`` links lead on.
        """
        fetch = self.node.federation.resolver.fetch
        wanted: list[dict[str, Any]] = []
        overlap: list[dict[str, Any]] = []
        url: str | None = f"{origin}?page={start // PAGE + 1}"
        while url is not None and len(wanted) < end - start:
            if not _same_origin(url, origin):
                raise MirrorError(f"{origin}: a page links to {url}, elsewhere")
            page = await fetch(url)
            for item in as_list(page.get("orderedItems")):
                index = item.get("index") if isinstance(item, dict) else None
                if not isinstance(item, dict) or not isinstance(index, int):
                    raise MirrorError(f"{url}: an item is not a log entry")
                if index < start:
                    overlap.append(item)
                elif index < end:
                    wanted.append(item)
            url = first_id(page.get("next"))
        if len(wanted) < end - start:
            raise MirrorError(
                f"{origin} serves {start + len(wanted)} entries, "
                f"but a checkpoint covers {end}"
            )
        return wanted, overlap

    async def _add_keys(
        self,
        origin: str,
        key_ids: set[str],
        keys: dict[str, ed25519.Ed25519PublicKey],
    ) -> None:
        """Add the Ed25519 keys named, each listed by its actor on the log's origin.

        A key counts only when the actor document it belongs to, fetched from
        the log's own origin, lists it (INTEROP.md, "Confirm a key both
        ways"): a log cannot be vouched for by a key from elsewhere.
        """
        resolver = self.node.federation.resolver
        for key_id in sorted(key_ids - keys.keys()):
            actor = urldefrag(key_id).url
            if not _same_origin(actor, origin):
                continue
            known = await resolver.get(actor)
            if key_id not in known.keys:
                known = await resolver.get(actor, refresh=True)  # rotated since
            key = known.keys.get(key_id)
            if isinstance(key, ed25519.Ed25519PublicKey):
                keys[key_id] = key

    def _signed_checkpoints(
        self,
        origin: str,
        served: Sequence[dict[str, Any]],
        keys: Mapping[str, ed25519.Ed25519PublicKey],
    ) -> list[tuple[Checkpoint, dict[str, Any]]]:
        """The served checkpoints signed by the origin, smallest first.

        One that does not verify proves nothing about the origin (anyone can
        write one), so it is left aside, not kept as evidence.
        """
        signed: list[tuple[Checkpoint, dict[str, Any]]] = []
        for doc in served:
            key = keys.get(str(doc.get("keyId")))
            try:
                if key is None:
                    raise LogError(
                        f"no key of {origin} is {doc.get('keyId')}",
                        Failure.UNKNOWN_KEY,
                    )
                checkpoint = verify_checkpoint(doc, key)
                if checkpoint.origin != origin:
                    raise LogError(
                        f"origin is {checkpoint.origin}", Failure.ORIGIN_MISMATCH
                    )
            except LogError as exc:
                log.info("%s: a checkpoint left aside: %s", origin, exc)
                continue
            signed.append((checkpoint, doc))
        signed.sort(key=lambda pair: pair[0].size)
        return signed

    def _verified_entries(
        self,
        origin: str,
        held: _Held,
        docs: Sequence[dict[str, Any]],
        keys: Mapping[str, ed25519.Ed25519PublicKey],
    ) -> tuple[list[Entry], bool]:
        """The new entries, each signed and chained to the one before.

        Returns them, and True when the first one, duly signed, does not
        follow the last entry held: the origin rewrote its log before it.
        Any other failure raises :class:`LogError`.
        """
        prev = parse_entry(held.last_entry) if held.last_entry is not None else None
        entries: list[Entry] = []
        for doc in docs:
            key = keys.get(str(doc.get("keyId")))
            if key is None:
                raise LogError(
                    f"{origin}: no key of the origin is {doc.get('keyId')}",
                    Failure.UNKNOWN_KEY,
                )
            entry = verify_entry(doc, key)
            try:
                check_link(prev, entry)
            except LogError as exc:
                if entries or prev is None or exc.code != Failure.PREV_MISMATCH:
                    raise
                return [], True
            entries.append(entry)
            prev = entry
        return entries, False

    async def _altered(
        self, origin: str, served: Sequence[dict[str, Any]]
    ) -> list[_Contradiction]:
        """Held entries the origin served again: any that changed is evidence."""
        if not served:
            return []
        async with self.node.db.read() as conn:
            rows = await conn.execute(
                select(log_mirror_entries.c.idx, log_mirror_entries.c.document).where(
                    log_mirror_entries.c.origin == origin,
                    log_mirror_entries.c.idx.in_([d["index"] for d in served]),
                )
            )
            mine = {int(r.idx): r.document for r in rows}
        return [
            _Contradiction(
                "altered-entry",
                mine[doc["index"]],
                doc,
                f"entry {doc['index']} is not the one mirrored before",
            )
            for doc in served
            if doc["index"] in mine and mine[doc["index"]] != doc
        ]

    # --- storage -----------------------------------------------------------------

    async def _held(self, origin: str) -> _Held:
        async with self.node.db.read() as conn:
            row = (
                await conn.execute(
                    select(log_mirrors.c.size, log_mirrors.c.signers).where(
                        log_mirrors.c.origin == origin
                    )
                )
            ).first()
            if row is None:
                return _Held()
            hashes = [
                bytes.fromhex(h)
                for h in (
                    await conn.execute(
                        select(log_mirror_entries.c.hash)
                        .where(log_mirror_entries.c.origin == origin)
                        .order_by(log_mirror_entries.c.idx)
                    )
                ).scalars()
            ]
            checkpoints = {
                int(r.size): r.document
                for r in await conn.execute(
                    select(
                        log_mirror_checkpoints.c.size, log_mirror_checkpoints.c.document
                    ).where(log_mirror_checkpoints.c.origin == origin)
                )
            }
            last = (
                await conn.execute(
                    select(log_mirror_entries.c.document).where(
                        log_mirror_entries.c.origin == origin,
                        log_mirror_entries.c.idx == row.size - 1,
                    )
                )
            ).scalar_one_or_none()
        return _Held(row.size, hashes, checkpoints, last, dict(row.signers))

    async def _store(
        self,
        origin: str,
        actor: str,
        held: _Held,
        entries: Sequence[Entry],
        checkpoints: Sequence[tuple[Checkpoint, dict[str, Any]]],
        latest: dict[str, Any] | None,
        keys: Mapping[str, ed25519.Ed25519PublicKey],
    ) -> bool:
        """Add what verified, unless another sync moved the mirror meanwhile."""
        now = self.clock()
        size = held.size + len(entries)
        # A copy of every key that signed something held, so the mirror can
        # be checked even when the origin's actor is gone (see verify-log).
        copies = dict(held.signers)
        used = {e.key_id for e in entries} | {c.key_id for c, _ in checkpoints}
        for key_id in used:
            copies[key_id] = public_key_to_multibase(keys[key_id])
        values = {
            "actor": actor,
            "size": size,
            "checkpoint": latest,
            "signers": copies,
            "synced_at": now,
            "last_error": None,
            "updated_at": now,
        }

        async def write(conn: AsyncConnection) -> bool:
            current = (
                await conn.execute(
                    select(func.count())
                    .select_from(log_mirror_entries)
                    .where(log_mirror_entries.c.origin == origin)
                )
            ).scalar_one()
            if current != held.size:
                return False
            if entries:
                await conn.execute(
                    log_mirror_entries.insert(),
                    [
                        {
                            "origin": origin,
                            "idx": e.index,
                            "hash": e.hash.hex(),
                            "document": e.to_document(),
                        }
                        for e in entries
                    ],
                )
            if checkpoints:
                await conn.execute(
                    self.node.db.insert(
                        log_mirror_checkpoints
                    ).on_conflict_do_nothing(),
                    [
                        {"origin": origin, "size": c.size, "document": d}
                        for c, d in checkpoints
                    ],
                )
            stmt = self.node.db.insert(log_mirrors).values(
                origin=origin, host=urlsplit(origin).netloc.lower(), **values
            )
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["origin"], set_=values)
            )
            return True

        stored: bool = await self.node.writer.submit(write)
        return stored

    async def _note_error(self, origin: str, actor: str, reason: str) -> None:
        """Remember why the last sync of a mirrored log did not advance it."""
        now = self.clock()

        async def write(conn: AsyncConnection) -> None:
            await conn.execute(
                update(log_mirrors)
                .where(log_mirrors.c.origin == origin)
                .values(last_error=reason[:2000], updated_at=now)
            )

        await self.node.writer.submit(write)

    async def _record(self, origin: str, found: _Contradiction) -> int:
        """Keep a contradiction as evidence, once; 1 if it is new."""
        digest = _digest(found.held, found.presented)
        now = self.clock()

        async def write(conn: AsyncConnection) -> int:
            stmt = (
                self.node.db.insert(log_mirror_forks)
                .values(
                    origin=origin,
                    kind=found.kind,
                    held=found.held,
                    presented=found.presented,
                    reason=found.reason,
                    digest=digest,
                    detected_at=now,
                )
                .on_conflict_do_nothing(index_elements=["origin", "digest"])
                .returning(log_mirror_forks.c.id)
            )
            return len((await conn.execute(stmt)).all())

        added: int = await self.node.writer.submit(write)
        return added


def signer_keys(keys: Mapping[str, str]) -> list[dict[str, Any]]:
    """A mirror's copy of the origin's keys, as FEP-521a Multikeys."""
    return [
        {
            "id": key_id,
            "type": "Multikey",
            "controller": urldefrag(key_id).url,
            "publicKeyMultibase": value,
        }
        for key_id, value in sorted(keys.items())
    ]


def read_signer_keys(document: Mapping[str, Any]) -> dict[str, Any]:
    """The keys a mirror's ``signers`` lists: key id → public key (bad ones skipped)."""
    found: dict[str, Any] = {}
    for item in as_list(document.get("signers")):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        try:
            found[item["id"]] = public_key_from_multibase(
                item.get("publicKeyMultibase")
            )
        except ProtocolError:
            continue
    return found


# --- the web views ------------------------------------------------------------------


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _entries_view(
    request: web.Request,
    iri: str,
    entries: Select[Any],
    count: Select[Any],
    idx: Any,
    **extra: Any,
) -> web.Response:
    """A log's entries, oldest first, 100 a page (``?page=1`` is the first)."""
    node = request.app[NODE]
    if "page" not in request.query:
        async with node.db.read() as conn:
            total = (await conn.execute(count)).scalar_one()
        return as_response(collection(iri, int(total), **extra))
    try:
        page = max(1, int(request.query["page"]))
    except ValueError:
        return web.json_response({"error": "page is an integer"}, status=400)
    async with node.db.read() as conn:
        rows = (
            (
                await conn.execute(
                    entries.where(idx >= (page - 1) * PAGE)
                    .order_by(idx)
                    .limit(PAGE + 1)
                )
            )
            .scalars()
            .all()
        )
    document: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{iri}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": iri,
        "orderedItems": list(rows[:PAGE]),
    }
    if len(rows) > PAGE:
        document["next"] = f"{iri}?page={page + 1}"
    return as_response(document)


async def _checkpoints_view(
    request: web.Request, stmt: Select[Any], size: Any
) -> web.Response:
    """Signed checkpoints, newest first, 100 of them (``?all=1`` for every one)."""
    node = request.app[NODE]
    stmt = stmt.order_by(size.desc())
    if request.query.get("all") != "1":
        stmt = stmt.limit(PAGE)
    async with node.db.read() as conn:
        items = list((await conn.execute(stmt)).scalars())
    return as_response(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": node.config.origin + request.path_qs,
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        }
    )


async def log_view(request: web.Request) -> web.Response:
    """The node's own log."""
    node = request.app[NODE]
    return await _entries_view(
        request,
        node.decisions.origin,
        select(decision_entries.c.document),
        select(func.count()).select_from(decision_entries),
        decision_entries.c.idx,
        name="Decision log",
    )


async def checkpoints_view(request: web.Request) -> web.Response:
    """The node's own checkpoints."""
    return await _checkpoints_view(
        request,
        select(decision_checkpoints.c.document),
        decision_checkpoints.c.size,
    )


async def _mirror_row(request: web.Request) -> Any:
    node = request.app[NODE]
    async with node.db.read() as conn:
        row = (
            await conn.execute(
                select(log_mirrors).where(
                    log_mirrors.c.host == request.match_info["host"].lower()
                )
            )
        ).first()
    if row is None:
        raise web.HTTPNotFound(
            text='{"error": "no mirror of that host"}', content_type="application/json"
        )
    return row


async def mirrors_view(request: web.Request) -> web.Response:
    """The logs this node mirrors, each with its latest checkpoint held."""
    node = request.app[NODE]
    base = f"{node.config.origin}/log/mirrors"
    async with node.db.read() as conn:
        rows = (
            await conn.execute(select(log_mirrors).order_by(log_mirrors.c.host))
        ).all()
    items = [
        {
            "id": f"{base}/{row.host}",
            "type": "OrderedCollection",
            "origin": row.origin,
            "totalItems": row.size,
            "latest": row.checkpoint,
            "syncedAt": _iso(row.synced_at),
            **({"lastError": row.last_error} if row.last_error else {}),
        }
        for row in rows
    ]
    return as_response(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": base,
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        }
    )


async def mirror_view(request: web.Request) -> web.Response:
    """One mirrored log, in the shape of ``/log``, with a copy of its keys."""
    node = request.app[NODE]
    row = await _mirror_row(request)
    where = log_mirror_entries.c.origin == row.origin
    return await _entries_view(
        request,
        f"{node.config.origin}/log/mirrors/{row.host}",
        select(log_mirror_entries.c.document).where(where),
        select(func.count()).select_from(log_mirror_entries).where(where),
        log_mirror_entries.c.idx,
        name=f"Mirror of {row.origin}",
        origin=row.origin,
        syncedAt=_iso(row.synced_at),
        signers=signer_keys(row.signers),
    )


async def mirror_checkpoints_view(request: web.Request) -> web.Response:
    """One mirrored log's checkpoints, as its origin signed them."""
    row = await _mirror_row(request)
    return await _checkpoints_view(
        request,
        select(log_mirror_checkpoints.c.document).where(
            log_mirror_checkpoints.c.origin == row.origin
        ),
        log_mirror_checkpoints.c.size,
    )


async def mirror_forks_view(request: web.Request) -> web.Response:
    """Evidence: what the origin presented that contradicts what was held."""
    node = request.app[NODE]
    row = await _mirror_row(request)
    async with node.db.read() as conn:
        found = (
            await conn.execute(
                select(log_mirror_forks)
                .where(log_mirror_forks.c.origin == row.origin)
                .order_by(log_mirror_forks.c.id)
            )
        ).all()
    items = [
        {
            "kind": f.kind,
            "reason": f.reason,
            "detectedAt": _iso(f.detected_at),
            "held": f.held,
            "presented": f.presented,
        }
        for f in found
    ]
    return as_response(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": node.config.origin + request.path,
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        }
    )


def setup_log_routes(app: web.Application) -> None:
    app.router.add_get("/log", log_view)
    app.router.add_get("/log/checkpoints", checkpoints_view)
    app.router.add_get("/log/mirrors", mirrors_view)
    app.router.add_get("/log/mirrors/{host}", mirror_view)
    app.router.add_get("/log/mirrors/{host}/checkpoints", mirror_checkpoints_view)
    app.router.add_get("/log/mirrors/{host}/forks", mirror_forks_view)


# --- verifying a log, and its mirrors, from outside (bocage verify-log) -----------


@dataclass(slots=True)
class PublishedLog:
    """A log as one server publishes it: its own, or its mirror of another's."""

    url: str
    origin: str  # the log's IRI: url itself, or the origin a mirror names
    document: dict[str, Any]
    entries: list[Any]
    checkpoints: list[dict[str, Any]]  # smallest first
    forks: list[Any]  # a mirror's evidence (only when asked for)

    @property
    def synced_at(self) -> datetime | None:
        """When a mirror last brought its copy up to date, by its own account."""
        value = self.document.get("syncedAt")
        if not isinstance(value, str):
            return None
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None


def _size_of(checkpoint: Mapping[str, Any]) -> int:
    size = checkpoint.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) else -1


async def read_published_log(
    client: HttpClient, url: str, *, forks: bool = False
) -> PublishedLog:
    """Fetch a log's entries (every page) and all its checkpoints.

    ``forks`` also reads a mirror's evidence (``…/forks``; none when absent).
    Raises :class:`FetchError` when a document cannot be had.
    """
    document = await client.get_document(url)
    entries: list[Any] = []
    seen: set[str] = set()
    page_url = first_id(document.get("first"))
    while page_url is not None and page_url not in seen:
        seen.add(page_url)
        page = await client.get_document(page_url)
        entries += as_list(page.get("orderedItems"))
        page_url = first_id(page.get("next"))
    listing = await client.get_document(f"{url}/checkpoints?all=1")
    checkpoints = sorted(
        (c for c in as_list(listing.get("orderedItems")) if isinstance(c, dict)),
        key=_size_of,
    )
    evidence: list[Any] = []
    if forks:
        try:
            evidence = as_list(
                (await client.get_document(f"{url}/forks")).get("orderedItems")
            )
        except FetchError as exc:
            if exc.status != 404:
                raise
    origin = document.get("origin")
    return PublishedLog(
        url,
        origin if isinstance(origin, str) else url,
        document,
        entries,
        checkpoints,
        evidence,
    )


async def fetch_log_keys(
    client: HttpClient, logs: Sequence[PublishedLog]
) -> tuple[dict[str, Any], list[str]]:
    """The keys that signed these logs, and notes on where they came from.

    Keys come from the origin's own actors, named by each ``keyId`` and only
    on the log's origin: a mirror is then trusted for nothing, as it cannot
    sign in the origin's name.  When an origin actor cannot be read (the
    origin is gone, which is what mirrors are for), the mirrors' copies of
    the keys (``signers``) stand in, and a note says so: the copy is then
    shown intact, as signed by the keys the mirror recorded.
    """
    origin = logs[0].origin
    wanted = {
        d.get("keyId")
        for log_ in logs
        for d in (*log_.entries, *log_.checkpoints)
        if isinstance(d, dict)
    }
    keys: dict[str, Any] = {}
    notes: list[str] = []
    by_actor: dict[str, list[str]] = {}
    for key_id in sorted(k for k in wanted if isinstance(k, str)):
        actor = urldefrag(key_id).url
        if _same_origin(actor, origin):
            by_actor.setdefault(actor, []).append(key_id)
    for actor, key_ids in by_actor.items():
        try:
            listed = parse_actor(await client.get_document(actor))
        except (FetchError, ProtocolError) as exc:
            copies: dict[str, Any] = {}
            for log_ in logs:
                copies.update(read_signer_keys(log_.document))
            found = {k: copies[k] for k in key_ids if k in copies}
            keys.update(found)
            notes.append(
                f"note: the origin's actor {actor} cannot be read ({exc}); "
                f"{len(found)} of its keys taken from the mirrors' copies"
            )
            continue
        for key in listed.assertion_methods:
            keys[key.id] = key.public_key
    return keys, notes


@dataclass(slots=True)
class LogVerdict:
    """What ``bocage verify-log`` found: problems, and lines that are not."""

    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def judge_logs(
    main: PublishedLog,
    mirrors: Sequence[PublishedLog | FetchError],
    keys: Mapping[str, Any],
    *,
    now: datetime,
    max_lag: float,
) -> LogVerdict:
    """Verify a log and compare each mirror of it with it.

    For each mirror: it mirrors the same log; its copy verifies on its own;
    every checkpoint it holds is consistent with the log ``main`` serves
    (:func:`protocol.decisionlog.compare_mirror`: a larger one means the
    origin hides entries it showed the mirror); it does not trail ``main``
    by entries signed before its last sync or longer than ``max_lag``
    seconds ago (else it withholds them, or the origin showed it an older
    log); and the evidence it recorded, when signed by the origin, is shown.
    """
    verdict = LogVerdict()
    report = verify_log(main.entries, main.checkpoints, keys.get, origin=main.origin)
    verdict.problems += [
        f"PROBLEM {p.item} {p.position}: {p.code}: {p.reason}" for p in report.problems
    ]
    size = report.latest.size if report.latest is not None else 0
    verdict.lines.append(
        f"OK: {_plural(len(main.entries), 'entry', 'entries')} chained and signed; "
        f"{_plural(len(main.checkpoints), 'checkpoint', 'checkpoints')} consistent "
        f"(the latest covers {size})."
        if report.ok
        else f"{main.url}: {_plural(len(report.problems), 'problem', 'problems')}."
    )
    for mirror in mirrors:
        if isinstance(mirror, FetchError):
            verdict.problems.append(
                f"PROBLEM mirror {mirror.url}: cannot read it: {mirror.reason}"
            )
            continue
        found = _judge_mirror(main, mirror, keys, now=now, max_lag=max_lag)
        verdict.problems += found.problems
        verdict.lines += found.lines
    return verdict


def _judge_mirror(
    main: PublishedLog,
    mirror: PublishedLog,
    keys: Mapping[str, Any],
    *,
    now: datetime,
    max_lag: float,
) -> LogVerdict:
    verdict = LogVerdict()
    name = f"mirror {mirror.url}"

    def problem(reason: str) -> None:
        verdict.problems.append(f"PROBLEM {name}: {reason}")

    if mirror.origin != main.origin:
        problem(f"it mirrors {mirror.origin}, not {main.origin}")
        return verdict

    # Its copy, on its own.
    own = verify_log(mirror.entries, mirror.checkpoints, keys.get, origin=main.origin)
    for p in own.problems:
        problem(f"{p.item} {p.position}: {p.code}: {p.reason}")

    # Its checkpoints against the origin's log as served now.
    compared = [
        p
        for p in compare_mirror(
            main.entries, mirror.checkpoints, keys.get, origin=main.origin
        )
        # Signatures and form were judged with its copy, just above.
        if p.code in _DIVERGENCES
    ]
    for p in compared:
        size = _size_of(mirror.checkpoints[p.position])
        problem(f"checkpoint of size {size}: {p.code}: {p.reason}")

    # Does it trail the origin by more than its sync period explains?  (Moot
    # when the two logs diverge.)
    held = own.latest.size if own.latest is not None else 0
    missing = [
        c
        for c in (_parsed_checkpoint(d) for d in main.checkpoints)
        if c is not None and c.size > held
    ]
    if missing and not compared:
        first = min(missing, key=lambda c: c.size)
        newest = max(c.size for c in missing)
        synced = mirror.synced_at
        waited = (now - first.time).total_seconds()
        slack = timedelta(seconds=_CLOCK_SLACK)
        if (synced is not None and synced > first.time + slack) or waited > max_lag:
            after = (
                f", though it synced at {_iso(synced.timestamp())}" if synced else ""
            )
            problem(
                f"withholding: it holds {held} entries, not the {newest} the origin "
                f"signed from {first.at}{after}: the mirror withholds them, or the "
                f"origin showed it an older log"
            )
        else:
            trail = _plural(newest - held, "entry", "entries")
            verdict.lines.append(
                f"note: {name} trails the origin by {trail} signed at {first.at}, "
                f"after its last sync (within --max-lag)"
            )

    # The evidence it kept: shown when the origin signed both documents.
    for item in mirror.forks:
        if not isinstance(item, dict):
            continue
        if _signed_document(item.get("held"), keys) and _signed_document(
            item.get("presented"), keys
        ):
            problem(
                f"it recorded at {item.get('detectedAt')} a {item.get('kind')} of "
                f"the origin, both documents signed by it: {item.get('reason')}"
            )

    if not verdict.problems:
        verdict.lines.append(
            f"OK: {name} holds {_plural(held, 'entry', 'entries')}, "
            f"consistent with the origin."
        )
    return verdict


_DIVERGENCES = (Failure.BEYOND_ENTRIES, Failure.INCONSISTENT, Failure.UNVERIFIABLE)


def _parsed_checkpoint(doc: object) -> Checkpoint | None:
    try:
        return parse_checkpoint(doc)
    except LogError:
        return None


def _signed_document(doc: object, keys: Mapping[str, Any]) -> bool:
    """Whether a checkpoint or an entry verifies with one of ``keys``."""
    if not isinstance(doc, dict):
        return False
    key = keys.get(str(doc.get("keyId")))
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return False
    try:
        if "root" in doc:
            verify_checkpoint(doc, key)
        else:
            verify_entry(doc, key)
    except LogError:
        return False
    return True


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
