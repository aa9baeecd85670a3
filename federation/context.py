"""What the federation code needs from the node, in one object.

``node`` builds a :class:`Federation` when it starts; the federation modules take
it as their first argument instead of importing ``node`` (imports point from
``node`` to ``federation``, never back).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.http import HttpClient
from protocol.actors import ed25519_key_id, rsa_key_id
from storage.database import Database
from storage.jobs import SqlJobQueue
from storage.writer import GroupCommitWriter

INSTANCE_USERNAME: Final = "instance"
DELIVER_QUEUE: Final = "deliver"
INBOX_QUEUE: Final = "inbox"


@dataclass(eq=False)
class Federation:
    """One node's federation services and identity."""

    origin: str  # scheme://host[:port], no slash
    domain: str  # host[:port], as in handles
    db: Database
    jobs: SqlJobQueue
    writer: GroupCommitWriter
    client: HttpClient
    rsa_key: rsa.RSAPrivateKey
    ed25519_key: ed25519.Ed25519PrivateKey
    node_username: str
    blocked_domains: frozenset[str] = frozenset()
    software_version: str = "0.1.0"
    # Set by the node once its worker runs in this process, to skip a poll.
    wake_worker: list[object] = field(default_factory=list)

    # --- our IRIs ------------------------------------------------------------

    def actor_iri(self, username: str) -> str:
        return f"{self.origin}/actors/{username}"

    @property
    def instance_actor(self) -> str:
        return self.actor_iri(INSTANCE_USERNAME)

    @property
    def shared_inbox(self) -> str:
        return f"{self.origin}/inbox"

    def new_id(self, kind: str) -> str:
        """A fresh IRI for an activity or an object, e.g. ``…/activities/…``."""
        return f"{self.origin}/{kind}/{uuid.uuid4()}"

    def local_username(self, iri: str) -> str | None:
        """The username of one of our actors' IRI, or None if it is not ours."""
        prefix = f"{self.origin}/actors/"
        if iri.startswith(prefix):
            rest = iri[len(prefix) :]
            if rest and "/" not in rest and "#" not in rest:
                return rest
        return None

    def is_local(self, iri: str) -> bool:
        return iri == self.origin or iri.startswith(self.origin + "/")

    def rsa_key_id(self, username: str) -> str:
        return rsa_key_id(self.actor_iri(username))

    def ed25519_key_id(self, username: str) -> str:
        return ed25519_key_id(self.actor_iri(username))
