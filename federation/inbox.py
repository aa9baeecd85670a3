"""The inbox pipeline: verify, deduplicate, store durably, answer; process later.

Everything here runs on every inbox POST, so it stays cheap: no JSON-LD
processing (plain-JSON accessors only), keys cached in memory, and one shared
commit for concurrent requests (group commit).  The activity is processed
afterwards by the ``inbox`` job (:mod:`federation.processing`).

Status codes (DESIGN.md, "Security"; INTEROP.md, "HTTP signatures"): 415 for
another content type, 413 over the size cap, 400 for malformed input, 401 when
the signature cannot be verified (so Fedify retries with the other scheme),
403 for a blocked domain, 404 for an inbox nobody owns, 202 once stored.  A
replayed activity (an id already received) is answered 202 again and stored
nothing new: senders retry after time-outs and must not see an error for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from federation.context import INBOX_QUEUE, Federation
from federation.http import FetchError
from federation.resolver import ActorResolver, KnownActor
from protocol.errors import ProtocolError
from protocol.httpsig import Failure, FailureCode, verify_request
from protocol.jsonld import check_raw_depth, first_id, get_str, types
from protocol.keys import PublicKey
from storage.tables import jobs
from storage.writer import RowBatcher

log = logging.getLogger("bocage.federation.inbox")

MAX_DEPTH = 32
_AS_TYPES = ("application/activity+json", "application/ld+json")
# Activities whose object, when embedded, must come from the actor's own origin.
_AUTHORED = frozenset({"Create", "Update"})


@dataclass(frozen=True, slots=True)
class InboxAnswer:
    status: int
    reason: str

    @property
    def accepted(self) -> bool:
        return self.status == 202


def _origin(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.scheme, parts.netloc.lower()


def content_type_ok(value: str | None) -> bool:
    """ActivityStreams JSON, as Mastodon ≥ 4.2.5 requires of what it accepts."""
    if not value:
        return False
    main = value.split(";", 1)[0].strip().lower()
    if main == "application/activity+json":
        return True
    return main == "application/ld+json" and "activitystreams" in value


class Inbox:
    """Receives activities for our actors (personal and shared inboxes)."""

    def __init__(
        self, fed: Federation, resolver: ActorResolver, *, local_users: set[str]
    ) -> None:
        self.fed = fed
        self.resolver = resolver
        self.local_users = local_users
        self.received = 0
        # A failed signature refetches the actor (its key may have rotated),
        # but not more often than this: forged requests must not make us
        # hammer the actor's server with fetches.
        self.refetch_after = 30.0
        self._batcher = RowBatcher(fed.writer, jobs, "dedupe_key")

    async def receive(
        self,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        recipient: str | None,
        max_body: int,
    ) -> InboxAnswer:
        """Check and store one POSTed activity; say what to answer."""
        if not content_type_ok(headers.get("Content-Type")):
            return InboxAnswer(415, "expected application/activity+json")
        if len(body) > max_body:
            return InboxAnswer(413, f"body over {max_body} bytes")
        if recipient is not None and recipient not in self.local_users:
            return InboxAnswer(404, f"no actor {recipient!r} here")

        try:
            check_raw_depth(body, MAX_DEPTH)
            activity = orjson.loads(body)
        except ProtocolError as exc:
            return InboxAnswer(400, str(exc))
        except orjson.JSONDecodeError:
            return InboxAnswer(400, "body is not valid JSON")
        checked = self._check_shape(activity)
        if isinstance(checked, InboxAnswer):
            return checked
        activity_id, actor_id, activity_type = checked

        host = urlsplit(actor_id).hostname or ""
        if self._blocked(host):
            return InboxAnswer(403, f"domain {host} is blocked here")

        verdict = await self._verify(method, url, headers, body, actor_id)
        if verdict is not None:
            return verdict

        # Embedded objects from another origin are not trusted (Fedify does the
        # same): their author could be anyone. Ours are fetched by id instead.
        obj = activity.get("object")
        if activity_type in _AUTHORED and isinstance(obj, dict):
            object_id = obj.get("id")
            if not isinstance(object_id, str) or _origin(object_id) != _origin(
                actor_id
            ):
                return InboxAnswer(400, "embedded object from another origin")
            author = first_id(obj.get("attributedTo"))
            if author is not None and author != actor_id:
                return InboxAnswer(400, "object attributed to another actor")

        stored = await self._batcher.add(
            self._job_row(activity, activity_id, actor_id, activity_type, recipient)
        )
        if stored:
            self.received += 1
            for wake in self.fed.wake_worker:
                if callable(wake):
                    wake()
        return InboxAnswer(202, "accepted" if stored else "already received")

    def _check_shape(self, activity: Any) -> tuple[str, str, str] | InboxAnswer:
        if not isinstance(activity, dict):
            return InboxAnswer(400, "an activity must be a JSON object")
        activity_id = get_str(activity, "id")
        if activity_id is None or _origin(activity_id) is None:
            return InboxAnswer(400, "activity has no http(s) id")
        actor_id = first_id(activity.get("actor"))
        if actor_id is None or _origin(actor_id) is None:
            return InboxAnswer(400, "activity has no actor")
        if _origin(activity_id) != _origin(actor_id):
            return InboxAnswer(400, "activity id is not on its actor's host")
        kinds = types(activity)
        if not kinds:
            return InboxAnswer(400, "activity has no type")
        if self.fed.is_local(actor_id):
            return InboxAnswer(400, "activity claims to come from this node")
        return activity_id, actor_id, kinds[0]

    def _blocked(self, host: str) -> bool:
        host = host.lower()
        return any(
            host == domain or host.endswith("." + domain)
            for domain in self.fed.blocked_domains
        )

    async def _verify(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        actor_id: str,
    ) -> InboxAnswer | None:
        """None when the request is signed by a key the activity's actor lists."""
        refreshed = False
        actor: KnownActor | None = None

        async def lookup(key_id: str) -> PublicKey | None:
            nonlocal actor, refreshed
            try:
                actor = await self.resolver.get(actor_id)
                key = actor.keys.get(key_id)
                if key is None and not refreshed:
                    # A key we have not seen: the actor may have rotated it.
                    refreshed = True
                    actor = await self.resolver.get(actor_id, refresh=True)
                    key = actor.keys.get(key_id)
            except FetchError as exc:
                log.info("cannot fetch actor %s: %s", actor_id, exc.reason)
                return None
            # Only keys listed by the activity's own actor count: the signer
            # must be the actor (or we would accept forged activities).
            return key

        result = await verify_request(method, url, headers, body, lookup)
        if (
            isinstance(result, Failure)
            and result.code in (FailureCode.BAD_SIGNATURE, FailureCode.KEY_MISMATCH)
            and not refreshed
            and actor is not None
            and actor.fetched_at < time.time() - self.refetch_after
        ):
            # Mastodon refetches the key once when a signature fails.
            refreshed = True
            try:
                await self.resolver.get(actor_id, refresh=True)
            except FetchError:
                pass
            else:
                result = await verify_request(method, url, headers, body, lookup)
        if isinstance(result, Failure):
            log.info("refused activity from %s: %s", actor_id, result.reason)
            return InboxAnswer(result.status, f"signature: {result.reason}")
        return None

    def _job_row(
        self,
        activity: dict[str, Any],
        activity_id: str,
        actor_id: str,
        activity_type: str,
        recipient: str | None,
    ) -> dict[str, Any]:
        """The inbox job: the activity itself, deduplicated by its id.

        The job row is the durable copy; one INSERT per batch of requests
        stores them all (see :class:`storage.writer.RowBatcher`).
        """
        now = time.time()
        return {
            "queue": INBOX_QUEUE,
            "state": "pending",
            "payload": {
                "activity": activity,
                "actor": actor_id,
                "type": activity_type,
                "recipient": recipient,
            },
            "attempts": 0,
            "next_attempt_at": now,
            "dedupe_key": activity_id,
            "partition_key": None,
            "created_at": now,
            "updated_at": now,
        }
