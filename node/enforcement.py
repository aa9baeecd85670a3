"""Enforcement of our service offers on our own endpoints.

A request to an endpoint that one of our offers covers (its
``dcat:endpointURL`` is a prefix of the URL) is checked before the handler
runs: who calls (an HTTP signature of its actor, or a bearer token bound to an
agreement), under which agreement, and whether the agreement's policy permits
this action now (validity, hours in the offer's time zone, quotas per period,
audience).  Refusals are precise: 401 or 403 with a machine-readable
``constraint``, 429 with ``Retry-After`` when a quota is spent.  Endpoints no
offer covers are not touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy import select

from federation.http import FetchError
from node.appkeys import NODE
from node.contracts import (
    AGREED,
    PROVIDER,
    Contracts,
    Meter,
    OwnOffer,
    quota_windows,
    token_hash,
)
from node.services import Node
from protocol.httpsig import Failure, verify_request
from protocol.keys import PublicKey
from protocol.odrl import AccessRequest, evaluate, offer_from_policy
from protocol.records import Offer
from storage.tables import agreement_tokens, agreements

log = logging.getLogger("bocage.node.enforcement")

CACHE_TTL = 2.0
_UNKNOWN_TOKEN = "the token is unknown or its agreement has ended"  # noqa: S105

_ACTIONS = {"GET": "read", "HEAD": "read", "POST": "modify", "PUT": "modify",
            "PATCH": "modify", "DELETE": "delete"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Caller:
    actor: str | None
    authentication: str  # none, http-signature, agreement-token
    agreement: int | None = None  # set when a token named it


@dataclass(frozen=True, slots=True)
class Agreement:
    seq: int
    consumer: str
    policy: Offer


class Enforcer:
    """Decides, per request, whether a covered endpoint may be used."""

    def __init__(self, node: Node, contracts: Contracts, meter: Meter) -> None:
        self.node = node
        self.contracts = contracts
        self.meter = meter
        # Cached lookups, dropped by forget() when this process changes an
        # agreement, and after CACHE_TTL seconds in any case: another process
        # (the CLI, a second web process) may have terminated it.
        self._agreements: dict[tuple[str, str], tuple[float, Agreement | None]] = {}
        self._tokens: dict[str, tuple[float, Caller | None]] = {}
        self.clock: Callable[[], float] = time.time

    def forget(self) -> None:
        """Drop cached agreements (one was made, ended or changed)."""
        self._agreements.clear()
        self._tokens.clear()
        self.contracts.invalidate()

    async def _agreement(self, offer_id: str, consumer: str) -> Agreement | None:
        key = (offer_id, consumer)
        cached = self._agreements.get(key)
        if cached is None or cached[0] < time.monotonic():
            async with self.node.db.read() as conn:
                row = (
                    await conn.execute(
                        select(agreements.c.seq, agreements.c.policy)
                        .where(
                            agreements.c.role == PROVIDER,
                            agreements.c.offer_id == offer_id,
                            agreements.c.consumer == consumer,
                            agreements.c.state == AGREED,
                        )
                        .order_by(agreements.c.seq.desc())
                    )
                ).first()
            found = None
            if row is not None:
                found = Agreement(row.seq, consumer, offer_from_policy(row.policy))
            cached = (time.monotonic() + CACHE_TTL, found)
            self._agreements[key] = cached
        return cached[1]

    async def identify(self, request: web.Request) -> Caller | web.Response:
        """Who calls: a token's agreement, a signature's actor, or nobody."""
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and credential.startswith("bocage_agr_"):
            digest = token_hash(credential)
            cached = self._tokens.get(digest)
            if cached is not None and cached[0] >= time.monotonic():
                if cached[1] is None:
                    return refuse(401, _UNKNOWN_TOKEN, "authentication")
                return cached[1]
            async with self.node.db.read() as conn:
                row = (
                    await conn.execute(
                        select(
                            agreements.c.seq, agreements.c.consumer, agreements.c.state
                        )
                        .join(
                            agreement_tokens,
                            agreement_tokens.c.agreement_seq == agreements.c.seq,
                        )
                        .where(agreement_tokens.c.token_hash == digest)
                    )
                ).first()
            expires = time.monotonic() + CACHE_TTL
            if row is None or row.state != AGREED:
                self._tokens[digest] = (expires, None)
                return refuse(401, _UNKNOWN_TOKEN, "authentication")
            caller = Caller(row.consumer, "agreement-token", row.seq)
            self._tokens[digest] = (expires, caller)
            return caller
        if "Signature" in request.headers or "Signature-Input" in request.headers:
            return await self._signed(request)
        return Caller(None, "none")

    async def _signed(self, request: web.Request) -> Caller | web.Response:
        resolver = self.node.federation.resolver
        signer: list[str] = []

        async def lookup(key_id: str) -> PublicKey | None:
            actor = key_id.split("#", 1)[0]
            try:
                known = await resolver.get(actor)
            except FetchError:
                return None
            key = known.keys.get(key_id)
            if key is not None:
                signer.append(actor)
            return key

        body = await request.read()
        url = self.node.config.origin + request.path_qs
        result = await verify_request(
            request.method, url, request.headers, body, lookup
        )
        if isinstance(result, Failure) or not signer:
            reason = result.reason if isinstance(result, Failure) else "unknown key"
            return refuse(401, f"signature: {reason}", "authentication")
        return Caller(signer[0], "http-signature")

    async def check(
        self, request: web.Request, own: OwnOffer
    ) -> web.Response | Callable[[int], None]:
        """The refusal, or a function to call with the bytes the answer sent.

        An allowed call is counted against request quotas at once; byte quotas
        admit a call while they are not spent, and count its bytes after.
        """
        caller = await self.identify(request)
        if isinstance(caller, web.Response):
            return caller
        offer = own.offer
        agreement: Agreement | None = None
        if caller.actor is not None:
            agreement = await self._agreement(own.record_id, caller.actor)
            if caller.agreement is not None and (
                agreement is None or agreement.seq != caller.agreement
            ):
                return refuse(
                    403, "the token's agreement is not for this offer", "agreement"
                )
        if offer.audience != "public":
            if caller.actor is None:
                return refuse(401, "sign the request or present an agreement token",
                              "authentication")  # fmt: skip
            if agreement is None:
                return refuse(403, f"no agreement with {caller.actor} on this offer; "
                              "negotiate one first", "agreement")  # fmt: skip
        policy = agreement.policy if agreement is not None else offer
        # Hours, quotas, time zone and authentication are the provider's terms
        # even when the agreement narrowed the permissions.
        policy = _with_terms(policy, offer)
        now = self.clock()
        at = datetime.fromtimestamp(now, UTC)
        seq = agreement.seq if agreement is not None else 0
        windows = quota_windows(policy, at)
        period_uses = {p: await self.meter.uses(seq, p, start) for p, start in windows}
        decision = evaluate(
            policy,
            AccessRequest(
                action=_ACTIONS.get(request.method, "read"),
                at=at,
                caller=caller.actor,
                authentication=caller.authentication,
                secure=_secure(request, self.node),
                purpose=request.headers.get("X-Bocage-Purpose"),
                spatial=None,
                recipient_groups=frozenset({caller.actor} if caller.actor else set()),
                total_uses=await self.meter.total(seq),
                period_uses=period_uses,
            ),
        )
        if not decision.permitted:
            headers = {}
            if decision.retry_after is not None:
                headers["Retry-After"] = str(max(1, int(decision.retry_after + 0.999)))
            return refuse(
                decision.status, decision.reason, decision.constraint, headers
            )
        self.meter.record(seq, windows, now)
        return lambda size: self.meter.record_bytes(seq, windows, size)


def _with_terms(policy: Offer, offer: Offer) -> Offer:
    if policy is offer:
        return offer
    return msgspec.structs.replace(
        policy,
        timezone=offer.timezone,
        hours=policy.hours or offer.hours,
        quotas=policy.quotas or offer.quotas,
        authentication=offer.authentication,
        transport=offer.transport,
        audience=offer.audience,
    )


def _secure(request: web.Request, node: Node) -> bool:
    # Behind a TLS-terminating proxy the origin is https; loopback never
    # leaves the machine.
    return (
        request.secure
        or node.config.origin.startswith("https://")
        or request.remote in ("127.0.0.1", "::1")
    )


def refuse(
    status: int,
    reason: str,
    constraint: str | None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": reason, "constraint": constraint}
    return web.json_response(body, status=status, headers=headers)


ByteCounter = Callable[[int], None]
_BYTES: web.RequestKey[ByteCounter] = web.RequestKey("count_bytes")


@web.middleware
async def enforce(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Check calls to endpoints covered by our offers; leave the rest alone."""
    node = request.app[NODE]
    path = request.path
    if path.startswith(("/api/admin/", "/actors/", "/inbox", "/.well-known/")):
        return await handler(request)
    own = await node.contracts.offer_for(node.config.origin + path)
    if own is None:
        return await handler(request)
    verdict = await node.enforcer.check(request, own)
    if isinstance(verdict, web.Response):
        log.info("refused %s %s: %s", request.method, path, verdict.text)
        return verdict
    # Bytes are known when the headers go out (a file's size included):
    # count them then (see count_bytes).
    request[_BYTES] = verdict
    return await handler(request)


async def count_bytes(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare``: charge an enforced call's bytes to byte quotas."""
    count = request.get(_BYTES)
    if count is not None:
        count(response.content_length or 0)
