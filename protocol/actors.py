"""Actor documents: building ours and reading a peer's.

Ours (DESIGN.md, "Protocols"): the node itself (``Organization`` or ``Group``),
its services (``Service``) and an instance actor (``Application``) that signs
fetches.  Each publishes an RSA key as ``publicKey`` (what Mastodon reads) and an
Ed25519 key as a FEP-521a ``Multikey`` in ``assertionMethod``.

A peer's: :func:`parse_actor` reads plain JSON (no JSON-LD processing), tolerant
of the string/object/list shapes compacted JSON-LD allows, and keeps only keys
whose ``owner``/``controller`` is the actor itself.  That is one half of
"Confirm a key both ways" (INTEROP.md); the other half -- that this document was
fetched from the actor's own origin and its ``id`` equals the URL -- is the
fetcher's job, as is comparing a signature's ``keyId`` with :meth:`RemoteActor.key`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from protocol.jsonld import (
    ACTIVITYSTREAMS,
    DocumentError,
    as_list,
    first_id,
    get_dict,
    get_str,
    has_type,
    types,
)
from protocol.keys import (
    KeyFormatError,
    PublicKey,
    check_rsa_strength,
    load_public_pem,
    public_key_from_multibase,
    public_key_to_multibase,
    public_key_to_pem,
)

__all__ = [
    "ACTOR_CONTEXT",
    "ACTOR_TYPES",
    "ActorKey",
    "ActorSpec",
    "RejectedKey",
    "RemoteActor",
    "build_actor",
    "ed25519_key_id",
    "parse_actor",
    "rsa_key_id",
    "validate_username",
]

ActorType = Literal["Organization", "Group", "Service", "Application", "Person"]
#: ActivityStreams 2.0 Vocabulary section 2.2 actor types.
ACTOR_TYPES: Final = frozenset(
    {"Application", "Group", "Organization", "Person", "Service"}
)

#: The @context of our actor documents.  security/v1 defines ``publicKey``,
#: ``owner`` and ``publicKeyPem``; multikey/v1 defines ``Multikey``; the inline
#: map adds what Mastodon expects (schema -> http://schema.org#, PropertyValue)
#: and ``assertionMethod``, which only security/v2 or the CID context define at
#: top level (vectors/jsonld-contexts/SOURCE.txt, "FINDING").
ACTOR_CONTEXT: Final[tuple[object, ...]] = (
    ACTIVITYSTREAMS,
    "https://w3id.org/security/v1",
    "https://w3id.org/security/multikey/v1",
    {
        "schema": "http://schema.org#",
        "toot": "http://joinmastodon.org/ns#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "discoverable": "toot:discoverable",
        "assertionMethod": {
            "@id": "https://w3id.org/security#assertionMethod",
            "@type": "@id",
            "@container": "@set",
        },
    },
)

# INTEROP.md, "Discovery": Mastodon accepts [a-z0-9_]+([.-]+[a-z0-9_]+)*
# (case-insensitively), Misskey ^\w([\w-.]*\w)?$ up to 128 characters.  The
# Mastodon pattern already starts and ends with a word character, so it is the
# stricter of the two; re.ASCII keeps \w-like classes to ASCII.
_USERNAME: Final = re.compile(r"[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*", re.ASCII | re.I)
_MAX_USERNAME: Final = 128
_MAX_KEYS: Final = 32


def validate_username(username: str, max_length: int = _MAX_USERNAME) -> str:
    """Return ``username`` if both Mastodon and Misskey accept it, else raise.

    Raises :class:`DocumentError`.  Case is kept; Mastodon compares
    usernames case-insensitively, so callers should store them lower-cased.
    """
    if len(username) > max_length:
        raise DocumentError(f"username is longer than {max_length} characters")
    if not _USERNAME.fullmatch(username):
        raise DocumentError(f"username {username!r} is not allowed")
    return username


def rsa_key_id(actor_id: str) -> str:
    """Return the id of an actor's RSA key (Mastodon's ``#main-key`` form)."""
    return f"{actor_id}#main-key"


def ed25519_key_id(actor_id: str) -> str:
    """Return the id of an actor's Ed25519 Multikey (FEP-521a, fragment form)."""
    return f"{actor_id}#ed25519-key"


def _origin(url: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.scheme, parts.netloc.lower()


# --- building ours ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """Everything needed to publish one of our actors."""

    id: str
    type: ActorType
    username: str
    inbox: str
    outbox: str
    followers: str
    following: str
    shared_inbox: str
    rsa_public_key: rsa.RSAPublicKey
    ed25519_public_key: ed25519.Ed25519PublicKey | None = None
    name: str | None = None
    summary: str | None = None  # HTML
    url: str | None = None  # the HTML profile page
    manually_approves_followers: bool = False
    discoverable: bool = True
    #: Profile fields as (name, HTML value) pairs.
    fields: Sequence[tuple[str, str]] = field(default_factory=tuple)


def build_actor(spec: ActorSpec) -> dict[str, Any]:
    """Build the JSON-LD document for one of our actors.

    Checks the username rules, that the RSA key has at least 2048 bits, and
    that the inbox, shared inbox and collections live on the actor's origin
    (Misskey requires it: INTEROP.md, "Actors").  Raises :class:`DocumentError`
    or :class:`~protocol.keys.WeakKeyError`.
    """
    validate_username(spec.username)
    check_rsa_strength(spec.rsa_public_key)
    origin = _origin(spec.id)
    if origin is None:
        raise DocumentError("actor id must be an absolute http(s) URL")
    for name in ("inbox", "outbox", "followers", "following", "shared_inbox"):
        if _origin(getattr(spec, name)) != origin:
            raise DocumentError(f"actor {name} is not on the actor's origin")

    document: dict[str, Any] = {
        "@context": list(ACTOR_CONTEXT),
        "id": spec.id,
        "type": spec.type,
        "preferredUsername": spec.username,
        "name": spec.name if spec.name is not None else spec.username,
        "inbox": spec.inbox,
        "outbox": spec.outbox,
        "followers": spec.followers,
        "following": spec.following,
        "endpoints": {"sharedInbox": spec.shared_inbox},
        "manuallyApprovesFollowers": spec.manually_approves_followers,
        "discoverable": spec.discoverable,
        "publicKey": {
            "id": rsa_key_id(spec.id),
            "owner": spec.id,
            "publicKeyPem": public_key_to_pem(spec.rsa_public_key),
        },
    }
    if spec.summary is not None:
        document["summary"] = spec.summary
    if spec.url is not None:
        document["url"] = spec.url
    if spec.ed25519_public_key is not None:
        document["assertionMethod"] = [
            {
                "id": ed25519_key_id(spec.id),
                "type": "Multikey",
                "controller": spec.id,
                "publicKeyMultibase": public_key_to_multibase(spec.ed25519_public_key),
            }
        ]
    if spec.fields:
        document["attachment"] = [
            {"type": "PropertyValue", "name": name, "value": value}
            for name, value in spec.fields
        ]
    return document


# --- reading a peer's ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorKey:
    """A public key an actor document lists and claims as its own."""

    id: str
    owner: str  # publicKey.owner or Multikey.controller; equals the actor id
    public_key: PublicKey
    source: Literal["publicKey", "assertionMethod"]


@dataclass(frozen=True, slots=True)
class RejectedKey:
    """A key entry that was not accepted, and why."""

    id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RemoteActor:
    """What federation needs from a peer's actor document."""

    id: str
    types: tuple[str, ...]
    inbox: str
    shared_inbox: str | None
    outbox: str | None
    followers: str | None
    following: str | None
    preferred_username: str | None
    public_keys: tuple[ActorKey, ...]  # from publicKey (RSA, for HTTP signatures)
    assertion_methods: tuple[ActorKey, ...]  # FEP-521a Multikeys
    rejected_keys: tuple[RejectedKey, ...]

    def key(self, key_id: str) -> ActorKey:
        """Return the accepted key with this id, or raise :class:`DocumentError`.

        The error says why when the key was listed but rejected.
        """
        for key in (*self.public_keys, *self.assertion_methods):
            if key.id == key_id:
                return key
        for rejected in self.rejected_keys:
            if rejected.id == key_id:
                raise DocumentError(f"key {key_id!r} rejected: {rejected.reason}")
        raise DocumentError(f"actor {self.id!r} does not list key {key_id!r}")


def _read_public_key(
    entry: object, actor_id: str, min_rsa_bits: int | None
) -> ActorKey | RejectedKey:
    if not isinstance(entry, Mapping):
        # A bare URL names a key without giving it; resolving it would mean a
        # fetch, and the actor document itself must list the key anyway.
        return RejectedKey(first_id(entry), "publicKey given by reference only")
    key_id = get_str(entry, "id")
    if key_id is None:
        return RejectedKey(None, "publicKey has no id")
    owner = first_id(entry.get("owner"))
    if owner != actor_id:
        return RejectedKey(key_id, f"publicKey owner {owner!r} is not the actor")
    pem = entry.get("publicKeyPem")
    if not isinstance(pem, str):
        return RejectedKey(key_id, "publicKey has no publicKeyPem")
    try:
        public_key = load_public_pem(pem)
        if min_rsa_bits is not None:
            check_rsa_strength(public_key, min_rsa_bits)
    except KeyFormatError as exc:
        return RejectedKey(key_id, exc.reason)
    return ActorKey(key_id, owner, public_key, "publicKey")


def _read_multikey(entry: object, actor_id: str) -> ActorKey | RejectedKey:
    # FEP-521a: entries that are not conformant Multikeys SHOULD be ignored;
    # we keep the reason so a failed lookup can say why.
    if not isinstance(entry, Mapping):
        return RejectedKey(first_id(entry), "assertionMethod given by reference only")
    key_id = get_str(entry, "id")
    if key_id is None:
        return RejectedKey(None, "Multikey has no id")
    if not has_type(entry, "Multikey"):
        return RejectedKey(key_id, "assertionMethod entry is not a Multikey")
    controller = first_id(entry.get("controller"))
    if controller != actor_id:
        return RejectedKey(
            key_id, f"Multikey controller {controller!r} is not the actor"
        )
    try:
        public_key = public_key_from_multibase(entry.get("publicKeyMultibase"))
    except KeyFormatError as exc:
        return RejectedKey(key_id, exc.reason)
    return ActorKey(key_id, controller, public_key, "assertionMethod")


def parse_actor(document: object, *, min_rsa_bits: int | None = 2048) -> RemoteActor:
    """Read a peer's actor document (plain JSON).

    Requires an http(s) ``id``, a ``type`` and an ``inbox``; raises
    :class:`DocumentError` otherwise.  Keys whose owner/controller is not the
    actor, that do not decode, or (``publicKey`` only) RSA keys under
    ``min_rsa_bits`` are left out and listed in ``rejected_keys``.  Does not
    check that the inbox or keys are on the actor's host, nor fetch anything.
    """
    if not isinstance(document, Mapping):
        raise DocumentError("actor document is not a JSON object")
    actor_id = document.get("id")
    if not isinstance(actor_id, str) or _origin(actor_id) is None:
        raise DocumentError("actor id must be an absolute http(s) URL")
    actor_types = tuple(types(document))
    if not actor_types:
        raise DocumentError("actor document has no type")
    inbox = first_id(document.get("inbox"))
    if inbox is None:
        raise DocumentError("actor document has no inbox")

    accepted: dict[str, list[ActorKey]] = {"publicKey": [], "assertionMethod": []}
    rejected: list[RejectedKey] = []
    seen: set[str] = set()
    entries = [
        _read_public_key(entry, actor_id, min_rsa_bits)
        for entry in as_list(document.get("publicKey"))[:_MAX_KEYS]
    ] + [
        _read_multikey(entry, actor_id)
        for entry in as_list(document.get("assertionMethod"))[:_MAX_KEYS]
    ]
    for result in entries:
        if isinstance(result, RejectedKey):
            rejected.append(result)
        elif result.id in seen:
            rejected.append(RejectedKey(result.id, "key id listed twice"))
        else:
            seen.add(result.id)
            accepted[result.source].append(result)

    username = document.get("preferredUsername")
    endpoints = get_dict(document, "endpoints")
    return RemoteActor(
        id=actor_id,
        types=actor_types,
        inbox=inbox,
        shared_inbox=first_id(endpoints.get("sharedInbox")) if endpoints else None,
        outbox=first_id(document.get("outbox")),
        followers=first_id(document.get("followers")),
        following=first_id(document.get("following")),
        preferred_username=username if isinstance(username, str) else None,
        public_keys=tuple(accepted["publicKey"]),
        assertion_methods=tuple(accepted["assertionMethod"]),
        rejected_keys=tuple(rejected),
    )
