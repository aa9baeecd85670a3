"""Delivery: the job handler that POSTs one activity to one inbox.

What each answer means (INTEROP.md, "Delivery"):

- 2xx: delivered;
- 401/403 from a host whose scheme we do not know yet: signed again with the
  other scheme at once, and whichever works is remembered for the host;
- 404/410: permanent, the inbox is gone;
- 429/503: try again after ``Retry-After`` (or a minute);
- any other 4xx: permanent (the peer refuses this activity; resending is futile);
- 5xx and network failures: retried by the job queue's back-off, and counted
  against the host's circuit breaker, which pauses a host that keeps failing.

Concurrency is bounded per host (a slow server cannot hold every worker slot)
and overall by the job runner.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import OrderedDict
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit

import orjson
from sqlalchemy import select

from federation.context import Federation
from federation.hosts import HostBook
from federation.http import AS_CONTENT_TYPE, FederationError, FetchError
from federation.signing import signer_for
from storage.jobs import Job
from storage.tables import activities
from storage.worker import PermanentFailure, RetryLater

log = logging.getLogger("bocage.federation.delivery")

PER_HOST: Final = 4
DEFAULT_RETRY_AFTER: Final = 60.0
_BODY_CACHE: Final = 256


class DeliveryFailed(FederationError):
    """A delivery attempt failed in a way worth retrying."""


def retry_after(value: str | None, default: float = DEFAULT_RETRY_AFTER) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, moment.timestamp() - time.time())


class Deliverer:
    """Sends activities from the outbox; one instance per process."""

    def __init__(self, fed: Federation, hosts: HostBook) -> None:
        self.fed = fed
        self.hosts = hosts
        # Held weakly: a host's semaphore lives while deliveries to it are in
        # flight, then goes, so a worker that met 100,000 hosts keeps none.
        self._per_host: weakref.WeakValueDictionary[str, asyncio.Semaphore] = (
            weakref.WeakValueDictionary()
        )
        # The same activity goes to many inboxes: serialise it once.
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self.sent = 0

    async def _body(self, activity_id: str) -> bytes:
        body = self._bodies.get(activity_id)
        if body is None:
            async with self.fed.db.read() as conn:
                document = (
                    await conn.execute(
                        select(activities.c.document).where(
                            activities.c.id == activity_id
                        )
                    )
                ).scalar_one_or_none()
            if document is None:
                raise PermanentFailure(f"activity {activity_id} is not in the outbox")
            body = orjson.dumps(document)
            self._bodies[activity_id] = body
            while len(self._bodies) > _BODY_CACHE:
                self._bodies.popitem(last=False)
        return body

    async def handle(self, job: Job) -> None:
        """The ``deliver`` job handler."""
        inbox = str(job.payload["inbox"])
        username = str(job.payload["actor"])
        host = urlsplit(inbox).netloc.lower()
        state = await self.hosts.get(host)
        paused = self.hosts.paused_for(state)
        if paused > 0:
            raise RetryLater(f"host {host} is paused", paused)
        body = await self._body(str(job.payload["activity"]))

        limit = self._per_host.get(host)
        if limit is None:
            limit = self._per_host[host] = asyncio.Semaphore(PER_HOST)
        async with limit:
            schemes = self.hosts.schemes_for(state)
            for index, scheme in enumerate(schemes):
                try:
                    response = await self.fed.client.request(
                        "POST",
                        inbox,
                        headers={
                            "Content-Type": AS_CONTENT_TYPE,
                            "Accept": AS_CONTENT_TYPE,
                        },
                        body=body,
                        signer=signer_for(self.fed, username, scheme),
                    )
                except FetchError as exc:
                    await self.hosts.failed(host)
                    raise DeliveryFailed(f"{inbox}: {exc.reason}") from None
                status = response.status
                if 200 <= status < 300:
                    await self.hosts.succeeded(host, scheme)
                    self.sent += 1
                    return
                # Refused: maybe the host never took this scheme, or stopped
                # taking it (a remembered choice can go stale). Try the other
                # once; whichever works is remembered.
                if status in (401, 403) and index + 1 < len(schemes):
                    continue
                break
        reason = f"{inbox} answered {status}"
        if status in (404, 410):
            raise PermanentFailure(reason)
        if status in (429, 503):
            raise RetryLater(reason, retry_after(response.headers.get("Retry-After")))
        if 400 <= status < 500 and status not in (401, 408):
            raise PermanentFailure(reason)
        await self.hosts.failed(host)
        raise DeliveryFailed(reason)
