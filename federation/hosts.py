"""What we know of each peer host: its signature scheme, and a circuit breaker.

Kept in memory for the hot path and written through to the ``hosts`` table
only when something changes, so a healthy fan-out writes nothing here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import hosts
from storage.writer import GroupCommitWriter

log = logging.getLogger("bocage.federation.hosts")

# The two ways we sign, cheapest first: Ed25519 over RFC 9421 costs about 15×
# less CPU than RSA here, but only peers that read assertionMethod keys for
# HTTP signatures (Bocage, Mastodon ≥ 4.7) accept it; everyone accepts
# draft-cavage with RSA.
RFC9421_ED25519 = "rfc9421-ed25519"
CAVAGE_RSA = "cavage-rsa"
SCHEMES = (RFC9421_ED25519, CAVAGE_RSA)

BREAKER_THRESHOLD = 10  # consecutive failures before a host is paused
BREAKER_BASE = 60.0
BREAKER_MAX = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class HostState:
    scheme: str | None = None
    failures: int = 0
    paused_until: float | None = None
    last_success_at: float | None = None


class HostBook:
    """Per-host memory, shared by every request this process makes."""

    def __init__(
        self,
        db: Database,
        writer: GroupCommitWriter,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.writer = writer
        self._clock = clock
        self._states: dict[str, HostState] = {}
        self._loaded = False

    async def load(self) -> None:
        """Read every known host at once (one query, instead of one per host)."""
        async with self.db.read() as conn:
            rows = (await conn.execute(select(hosts))).all()
        for row in rows:
            self._states.setdefault(
                row.host,
                HostState(
                    row.scheme, row.failures, row.paused_until, row.last_success_at
                ),
            )
        self._loaded = True

    async def get(self, host: str) -> HostState:
        state = self._states.get(host)
        if state is None and self._loaded:
            # Unknown when we loaded: new to us.  Another process may have
            # learnt its scheme since; at worst we find it out again.
            state = HostState()
            self._states[host] = state
        if state is None:
            async with self.db.read() as conn:
                row = (
                    await conn.execute(select(hosts).where(hosts.c.host == host))
                ).first()
            state = (
                HostState(
                    row.scheme, row.failures, row.paused_until, row.last_success_at
                )
                if row
                else HostState()
            )
            self._states[host] = state
        return state

    def schemes_for(self, state: HostState) -> tuple[str, ...]:
        """The schemes to try, the remembered one first."""
        if state.scheme in SCHEMES:
            return (state.scheme, *(s for s in SCHEMES if s != state.scheme))
        return SCHEMES

    def paused_for(self, state: HostState) -> float:
        """Seconds left before a paused host may be tried again (0 if not paused)."""
        if state.paused_until is None:
            return 0.0
        return max(0.0, state.paused_until - self._clock())

    async def succeeded(self, host: str, scheme: str | None = None) -> None:
        state = await self.get(host)
        changed = (
            state.failures
            or state.paused_until
            or (scheme is not None and scheme != state.scheme)
        )
        new = HostState(
            scheme if scheme is not None else state.scheme, 0, None, self._clock()
        )
        self._states[host] = new
        if changed:
            if state.failures >= BREAKER_THRESHOLD:
                log.info("host %s is back after %d failures", host, state.failures)
            await self._save(host, new)

    async def failed(self, host: str) -> HostState:
        """Count a failure; past the threshold, pause the host (backing off)."""
        state = await self.get(host)
        failures = state.failures + 1
        paused_until = state.paused_until
        if failures >= BREAKER_THRESHOLD:
            pause = min(BREAKER_MAX, BREAKER_BASE * 2 ** (failures - BREAKER_THRESHOLD))
            paused_until = self._clock() + pause
            log.warning(
                "host %s failed %d times in a row; pausing deliveries for %.0fs",
                host,
                failures,
                pause,
            )
        new = replace(state, failures=failures, paused_until=paused_until)
        self._states[host] = new
        await self._save(host, new)
        return new

    async def _save(self, host: str, state: HostState) -> None:
        values = {
            "scheme": state.scheme,
            "failures": state.failures,
            "paused_until": state.paused_until,
            "last_success_at": state.last_success_at,
            "updated_at": self._clock(),
        }

        async def upsert(conn: AsyncConnection) -> None:
            stmt = self.db.insert(hosts).values(host=host, **values)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["host"], set_=values)
            )

        # Nobody waits for this: it is what we learnt, kept for next time and
        # for other processes; delivering must not wait on a commit for it.
        self.writer.submit_later(upsert)
