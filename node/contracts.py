"""Service contracts: negotiation over ActivityPub, enforcement, metering.

Negotiation follows the Dataspace Protocol's contract negotiation, carried as
ActivityStreams activities:

- the consumer sends ``Offer`` (object: the policy it asks for — the provider's
  offer or a narrower one; target: the service record);
- the provider answers ``Accept`` (result: a signed ``odrl:Agreement`` naming
  target, assigner, assignee, the policy and the time) or ``Reject`` (with a
  reason) — at once when the offer's auto-acceptance rule admits the consumer,
  after an administrator decides otherwise;
- either side ends it with ``Delete`` of its own object (the provider its
  agreement, the consumer its request): terminated.

Both sides keep each negotiation as a row whose state is requested → agreed →
terminated (or rejected).  Enforcement (:class:`Enforcer`) checks every call
to an endpoint one of our offers covers; the :class:`Meter` counts calls in
memory and writes them in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.http import FetchError
from node.services import Node
from protocol.errors import BocageError, ProtocolError
from protocol.integrity import create_proof, verify_proof_with_key
from protocol.jsonld import first_id, get_dict, types
from protocol.odrl import (
    PolicyError,
    narrower_or_equal,
    offer_from_policy,
    period_window,
    quota_key,
)
from protocol.records import Offer
from storage.tables import (
    agreement_tokens,
    agreements,
    records,
    usage_daily,
    usage_windows,
)

log = logging.getLogger("bocage.node.contracts")

PROVIDER, CONSUMER = "provider", "consumer"
REQUESTED, AGREED, REJECTED, TERMINATED = (
    "requested",
    "agreed",
    "rejected",
    "terminated",
)
TOKEN_PREFIX = "bocage_agr_"  # noqa: S105 - a prefix, not a secret


class ContractError(BocageError):
    """A negotiation step was refused (no such offer, wrong state…)."""


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OwnOffer:
    """One of our service offers, ready for enforcement."""

    record_id: str
    endpoint: str
    offer: Offer
    auto_accept: str | list[str]


class Contracts:
    """Both sides of contract negotiation for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self.outbox = node.federation.outbox
        self.resolver = node.federation.resolver
        self.username = node.config.node.username
        self.actor = self.fed.actor_iri(self.username)
        self._offers: list[OwnOffer] | None = None

    # --- our offers --------------------------------------------------------------

    async def own_offers(self) -> list[OwnOffer]:
        """Our live service offers, longest endpoint first (cached)."""
        if self._offers is None:
            async with self.fed.db.read() as conn:
                rows = (
                    await conn.execute(
                        select(records.c.id, records.c.document).where(
                            records.c.kind == "DataService",
                            ~records.c.mirrored,
                            records.c.deleted_at.is_(None),
                        )
                    )
                ).all()
            offers = []
            for row in rows:
                document = row.document
                endpoint = first_id(document.get("dcat:endpointURL"))
                policy = get_dict(document, "odrl:hasPolicy")
                if endpoint is None or policy is None:
                    continue
                try:
                    offer = offer_from_policy(policy)
                except ProtocolError as exc:
                    log.warning("offer %s cannot be enforced: %s", row.id, exc)
                    continue
                offers.append(OwnOffer(row.id, endpoint, offer, offer.auto_accept))
            offers.sort(key=lambda o: len(o.endpoint), reverse=True)
            self._offers = offers
        return self._offers

    def invalidate(self) -> None:
        """Forget the cached offers (a record changed)."""
        self._offers = None

    async def offer_for(self, url: str) -> OwnOffer | None:
        for offer in await self.own_offers():
            if url == offer.endpoint or url.startswith(
                offer.endpoint.rstrip("/") + "/"
            ):
                return offer
            if url.startswith(offer.endpoint) and offer.endpoint.endswith("/"):
                return offer
        return None

    # --- consumer side --------------------------------------------------------------

    async def request(
        self, offer_iri: str, policy: dict[str, Any] | None = None
    ) -> int:
        """Ask a peer for an agreement on one of its service offers."""
        try:
            record = await self.resolver.fetch(offer_iri)
        except FetchError as exc:
            raise ContractError(f"cannot fetch the offer: {exc.reason}") from None
        if "dcat:DataService" not in types(record):
            raise ContractError(f"{offer_iri} is not a service offer")
        provider = first_id(record.get("attributedTo"))
        offered = get_dict(record, "odrl:hasPolicy")
        if provider is None or offered is None:
            raise ContractError(f"{offer_iri} has no publisher or no policy")
        asked = policy or offered
        activity, publish = await self.outbox.prepare_direct(
            self.username, "Offer", asked, provider
        )
        activity["target"] = offer_iri
        now = time.time()

        async def write(conn: AsyncConnection) -> tuple[int, int]:
            seq = (
                await conn.execute(
                    agreements.insert()
                    .values(
                        role=CONSUMER,
                        state=REQUESTED,
                        offer_id=offer_iri,
                        provider=provider,
                        consumer=self.actor,
                        request_id=activity["id"],
                        policy=asked,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(agreements.c.seq)
                )
            ).scalar_one()
            return int(seq), await publish(conn)

        seq, queued = await self.fed.writer.submit(write)
        self.outbox.published(activity, queued)
        return seq

    async def on_answer(self, kind: str, activity: dict[str, Any], actor: str) -> None:
        """Processor hook: a provider accepted or rejected one of our requests."""
        request_id = first_id(activity.get("object"))
        row = await self._row(CONSUMER, request_id=request_id)
        if row is None or row.provider != actor or row.state != REQUESTED:
            return
        now = time.time()
        if kind == "Reject":
            reason = str(activity.get("summary") or activity.get("content") or "")
            await self._set(
                row.seq, state=REJECTED, reason=reason[:2000], updated_at=now
            )
            return
        agreement = get_dict(activity, "result")
        problem = await self._check_agreement(agreement, row, actor)
        if problem is not None:
            log.warning("agreement from %s refused: %s", actor, problem)
            return
        assert agreement is not None
        await self._set(
            row.seq,
            state=AGREED,
            agreement=agreement,
            agreement_id=agreement["id"],
            updated_at=now,
        )

    async def _check_agreement(
        self, agreement: dict[str, Any] | None, row: Any, provider: str
    ) -> str | None:
        if agreement is None or "odrl:Agreement" not in types(agreement):
            return "no odrl:Agreement in the Accept"
        if first_id(agreement.get("odrl:assignee")) != self.actor:
            return "the agreement names another assignee"
        if first_id(agreement.get("odrl:assigner")) != provider:
            return "the agreement names another assigner"
        if first_id(agreement.get("odrl:target")) != row.offer_id:
            return "the agreement is for another offer"
        proof = agreement.get("proof")
        method = (
            first_id(proof.get("verificationMethod"))
            if isinstance(proof, dict)
            else None
        )
        known = await self.resolver.get(provider)
        key = known.keys.get(method or "")
        if key is None:
            return "the agreement is not signed by the provider"
        try:
            verify_proof_with_key(agreement, key)
        except ProtocolError as exc:
            return f"bad signature: {exc}"
        return None

    # --- provider side ---------------------------------------------------------------

    async def on_offer(self, activity: dict[str, Any], actor: str) -> None:
        """Processor handler for ``Offer``: a peer asks for an agreement."""
        target = first_id(activity.get("target"))
        request_id = str(activity["id"])
        if await self._row(PROVIDER, request_id=request_id) is not None:
            return  # a retry of a request already handled
        policy = activity.get("object")
        own = next((o for o in await self.own_offers() if o.record_id == target), None)
        now = time.time()
        reason = ""
        if own is None:
            reason = f"{target} is not a service offer of this node"
        elif not isinstance(policy, dict):
            reason = "the request carries no policy"
        else:
            try:
                problem = narrower_or_equal(offer_from_policy(policy), own.offer)
            except ProtocolError as exc:
                problem = f"unreadable policy: {exc}"
            if problem is not None:
                reason = f"the policy asked for is broader than the offer: {problem}"
        row = {
            "role": PROVIDER,
            "state": REQUESTED,
            "offer_id": target or "",
            "provider": self.actor,
            "consumer": actor,
            "request_id": request_id,
            "policy": policy if isinstance(policy, dict) else {},
            "created_at": now,
            "updated_at": now,
        }

        async def save(conn: AsyncConnection) -> int:
            stmt = self.fed.db.insert(agreements).values(**row)
            stmt = stmt.on_conflict_do_nothing(index_elements=["role", "request_id"])
            result = await conn.execute(stmt.returning(agreements.c.seq))
            seq = result.scalar_one_or_none()
            return int(seq) if seq is not None else 0

        seq = await self.fed.writer.submit(save)
        if not seq:
            return
        if reason:
            await self.decide(seq, accept=False, reason=reason)
        elif own is not None and await self._auto_accepts(own, actor):
            await self.decide(seq, accept=True)
        else:
            log.info("agreement request %d from %s awaits approval", seq, actor)

    async def _auto_accepts(self, own: OwnOffer, consumer: str) -> bool:
        rule = own.auto_accept
        if isinstance(rule, list):
            return consumer in rule
        if rule == "any":
            return True
        if rule == "members":
            return await self.node.membership.is_member(consumer)
        return False

    async def decide(self, seq: int, *, accept: bool, reason: str = "") -> None:
        """Accept (with a signed agreement) or reject a pending request."""
        row = await self._row(PROVIDER, seq=seq)
        if row is None or row.state != REQUESTED:
            raise ContractError(f"no pending request {seq}")
        now = time.time()
        if not accept:
            activity, publish = await self.outbox.prepare_direct(
                self.username, "Reject", row.request_id, row.consumer
            )
            activity["summary"] = reason or "refused by the provider"

            async def reject(conn: AsyncConnection) -> int:
                await self._update(
                    conn, seq, state=REJECTED, reason=reason, updated_at=now
                )
                return await publish(conn)

            self.outbox.published(activity, await self.fed.writer.submit(reject))
            await self.node.decisions.append(
                "contract.reject",
                row.request_id,
                {"offer": row.offer_id, "consumer": row.consumer, "reason": reason},
            )
            return
        agreement_id = self.fed.new_id("agreements")
        agreement = create_proof(
            {
                "@context": [
                    "https://w3id.org/security/data-integrity/v1",
                    {
                        "odrl": "http://www.w3.org/ns/odrl/2/",
                        "dct": "http://purl.org/dc/terms/",
                        "id": "@id",
                        "type": "@type",
                    },
                ],
                "id": agreement_id,
                "type": "odrl:Agreement",
                "odrl:uid": agreement_id,
                "odrl:target": row.offer_id,
                "odrl:assigner": self.actor,
                "odrl:assignee": row.consumer,
                "odrl:policy": row.policy,
                "dct:issued": _iso(now),
            },
            self.node.keys.ed25519,
            self.fed.ed25519_key_id(self.username),
        )
        activity, publish = await self.outbox.prepare_direct(
            self.username, "Accept", row.request_id, row.consumer
        )
        activity["result"] = agreement

        async def agree(conn: AsyncConnection) -> int:
            await self._update(
                conn,
                seq,
                state=AGREED,
                agreement=agreement,
                agreement_id=agreement_id,
                updated_at=now,
            )
            return await publish(conn)

        self.outbox.published(activity, await self.fed.writer.submit(agree))
        self.node.enforcer.forget()
        await self.node.decisions.append(
            "contract.accept",
            agreement_id,
            {"offer": row.offer_id, "consumer": row.consumer},
        )

    async def terminate(self, seq: int, *, reason: str = "") -> None:
        """End an agreement from either side; it stops working at once here."""
        async with self.fed.db.read() as conn:
            row = (
                await conn.execute(select(agreements).where(agreements.c.seq == seq))
            ).first()
        if row is None or row.state not in (AGREED, REQUESTED):
            raise ContractError(f"no live agreement {seq}")
        other = row.consumer if row.role == PROVIDER else row.provider
        # Each side deletes its own object (servers refuse a Delete of another
        # origin's): the provider its agreement, the consumer its request.
        if row.role == PROVIDER:
            target = row.agreement_id or row.request_id
        else:
            target = row.request_id
        activity, publish = await self.outbox.prepare_direct(
            self.username, "Delete", target, other
        )
        if reason:
            activity["summary"] = reason
        now = time.time()

        async def end(conn: AsyncConnection) -> int:
            await self._update(
                conn, seq, state=TERMINATED, reason=reason, updated_at=now
            )
            return await publish(conn)

        self.outbox.published(activity, await self.fed.writer.submit(end))
        self.node.enforcer.forget()
        await self.node.decisions.append(
            "contract.terminate",
            target,
            {"offer": row.offer_id, "role": row.role, "reason": reason},
        )

    async def on_delete(self, object_id: str, actor: str) -> None:
        """Processor hook: the other side terminated an agreement (or request)."""
        now = time.time()

        async def end(conn: AsyncConnection) -> int:
            result = await conn.execute(
                update(agreements)
                .where(
                    (agreements.c.agreement_id == object_id)
                    | (agreements.c.request_id == object_id),
                    (agreements.c.provider == actor) | (agreements.c.consumer == actor),
                    agreements.c.state.in_([AGREED, REQUESTED]),
                )
                .values(
                    state=TERMINATED,
                    reason="terminated by the other side",
                    updated_at=now,
                )
            )
            return int(result.rowcount or 0)

        if await self.fed.writer.submit(end):
            self.node.enforcer.forget()

    # --- tokens ----------------------------------------------------------------

    async def issue_token(self, seq: int) -> str:
        """A bearer token bound to one of our agreements (shown once, stored hashed)."""
        row = await self._row(PROVIDER, seq=seq)
        if row is None or row.state != AGREED:
            raise ContractError(f"no live agreement {seq} on our offers")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        async def save(conn: AsyncConnection) -> None:
            await conn.execute(
                agreement_tokens.insert().values(
                    token_hash=token_hash(token),
                    agreement_seq=seq,
                    created_at=time.time(),
                )
            )

        await self.fed.writer.submit(save)
        return token

    # --- reading ----------------------------------------------------------------

    async def list(self, role: str | None = None) -> list[dict[str, Any]]:
        stmt = select(agreements).order_by(agreements.c.seq)
        if role is not None:
            stmt = stmt.where(agreements.c.role == role)
        async with self.fed.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            {
                "id": r.seq,
                "role": r.role,
                "state": r.state,
                "offer": r.offer_id,
                "provider": r.provider,
                "consumer": r.consumer,
                "agreement": r.agreement_id,
                "reason": r.reason,
                "updated_at": r.updated_at,
            }
            for r in rows
        ]

    async def _row(
        self, role: str, *, seq: int | None = None, request_id: str | None = None
    ) -> Any:
        stmt = select(agreements).where(agreements.c.role == role)
        if seq is not None:
            stmt = stmt.where(agreements.c.seq == seq)
        if request_id is not None:
            stmt = stmt.where(agreements.c.request_id == request_id)
        async with self.fed.db.read() as conn:
            return (await conn.execute(stmt)).first()

    async def _set(self, seq: int, **values: Any) -> None:
        async def save(conn: AsyncConnection) -> None:
            await self._update(conn, seq, **values)

        await self.fed.writer.submit(save)

    @staticmethod
    async def _update(conn: AsyncConnection, seq: int, **values: Any) -> None:
        await conn.execute(
            update(agreements).where(agreements.c.seq == seq).values(**values)
        )


class Meter:
    """Counts uses per agreement in memory; writes them in batches.

    A call is counted the moment it is allowed (so quotas hold within this
    process exactly); the counts reach the database at most ``interval``
    seconds later in one transaction.  A crash loses at most that interval's
    counts; several web processes each count their own calls, so a quota
    may be overrun by what the others served in the last interval.
    """

    def __init__(self, node: Node, *, interval: float = 1.0) -> None:
        self.node = node
        self.interval = interval
        self._windows: dict[tuple[int, str, float], int] = {}  # known totals
        self._totals: dict[int, int] = {}
        self._pending_windows: defaultdict[tuple[int, str, float], int] = defaultdict(
            int
        )
        self._pending_daily: defaultdict[tuple[int, str], int] = defaultdict(int)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="meter")

    async def close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            try:
                await self.flush()
            except BocageError as exc:
                log.warning("meter flush failed, retrying: %s", exc)

    async def uses(self, agreement: int, period: str, start: float) -> int:
        key = (agreement, period, start)
        if key not in self._windows:
            async with self.node.db.read() as conn:
                stored = (
                    await conn.execute(
                        select(usage_windows.c.uses).where(
                            usage_windows.c.agreement_seq == agreement,
                            usage_windows.c.period == period,
                            usage_windows.c.window_start == start,
                        )
                    )
                ).scalar_one_or_none()
            self._windows.setdefault(key, int(stored or 0))
        return self._windows[key]

    async def total(self, agreement: int) -> int:
        """Every use under an agreement so far (for odrl:count)."""
        if agreement not in self._totals:
            async with self.node.db.read() as conn:
                stored = (
                    await conn.execute(
                        select(func.coalesce(func.sum(usage_daily.c.calls), 0)).where(
                            usage_daily.c.agreement_seq == agreement
                        )
                    )
                ).scalar_one()
            self._totals.setdefault(agreement, int(stored))
        return self._totals[agreement]

    def record(
        self, agreement: int, windows: list[tuple[str, float]], at: float
    ) -> None:
        """Count one allowed call against each request quota window."""
        for key, start in windows:
            if not key.endswith("/byte"):
                self._add((agreement, key, start), 1)
        day = time.strftime("%Y-%m-%d", time.gmtime(at))
        self._pending_daily[(agreement, day)] += 1
        if agreement in self._totals:
            self._totals[agreement] += 1

    def record_bytes(
        self, agreement: int, windows: list[tuple[str, float]], size: int
    ) -> None:
        """Count what a call sent against each byte quota window (after it ran)."""
        for key, start in windows:
            if key.endswith("/byte"):
                self._add((agreement, key, start), size)

    def _add(self, key: tuple[int, str, float], amount: int) -> None:
        self._windows[key] = self._windows.get(key, 0) + amount
        self._pending_windows[key] += amount

    async def flush(self) -> None:
        if not self._pending_windows and not self._pending_daily:
            return
        windows, self._pending_windows = self._pending_windows, defaultdict(int)
        daily, self._pending_daily = self._pending_daily, defaultdict(int)
        db = self.node.db

        async def save(conn: AsyncConnection) -> None:
            for (agreement, period, start), n in windows.items():
                stmt = db.insert(usage_windows).values(
                    agreement_seq=agreement, period=period, window_start=start, uses=n
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["agreement_seq", "period", "window_start"],
                        set_={"uses": usage_windows.c.uses + n},
                    )
                )
            for (agreement, day), n in daily.items():
                stmt = db.insert(usage_daily).values(
                    agreement_seq=agreement, day=day, calls=n
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["agreement_seq", "day"],
                        set_={"calls": usage_daily.c.calls + n},
                    )
                )

        await self.node.writer.submit(save)


def quota_windows(offer: Offer, at: datetime) -> list[tuple[str, float]]:
    """(counter key, current window start) for each of the offer's quotas.

    Keys are :func:`protocol.odrl.quota_key`, so a request quota and a byte
    quota on one period count apart.  A period the evaluator cannot window
    is left out here; :func:`protocol.odrl.evaluate` refuses it with a reason.
    """
    windows = []
    now = at.timestamp()
    for quota in offer.quotas:
        # Windows are computed once and reused until they end: this runs on
        # every enforced call.
        cache_key = (quota.period, offer.timezone)
        cached = _WINDOWS.get(cache_key)
        if cached is None or not cached[0] <= now < cached[1]:
            try:
                start, end = period_window(quota.period, at, ZoneInfo(offer.timezone))
            except PolicyError:
                continue
            cached = (start.timestamp(), end.timestamp())
            _WINDOWS[cache_key] = cached
        windows.append((quota_key(quota), cached[0]))
    return windows


_WINDOWS: dict[tuple[str, str], tuple[float, float]] = {}
