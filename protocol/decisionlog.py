"""The decision log: signed, hash-chained entries under an RFC 9162 Merkle tree.

Everything a Bocage node decides (membership, charter, proposals, moderation,
federation policy) is appended to one log (DESIGN.md, "Governance").  This
module is the pure part: it builds and checks entry and checkpoint documents
and the Merkle proofs between them.  Storage and HTTP call it; it does no I/O.

Entry document (a JSON object with exactly these members)::

    index      integer, 0 for the first entry, then +1 each time
    kind       dotted lower-case name: "membership.admit", "charter.adopt" ...
    subject    IRI of what was decided about
    body       JSON object, the decision itself
    at         RFC 3339 UTC time, "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
    prev       hash of the previous entry; 64 zeros for index 0
    keyId      IRI of the Ed25519 key that signed the entry
    hash       64 lower-case hex digits, see below
    signature  multibase base58btc ("z...") of a 64-byte Ed25519 signature

What is hashed and signed.  Let U be the entry with only the first seven
members (``hash`` and ``signature`` removed) and JCS the RFC 8785
canonicalisation; then::

    entry_input = b"bocage-log-entry/1\\n" || JCS(U)
    hash        = SHA-256(entry_input)
    signature   = Ed25519-sign(entry_input)

Checkpoint document (in the role of RFC 9162's signed tree head)::

    origin, size, root, at, keyId, signature

with ``root`` the Merkle tree hash of the first ``size`` entries in 64
lower-case hex digits, and::

    checkpoint_input = b"bocage-log-checkpoint/1\\n" || JCS(checkpoint - signature)
    signature        = Ed25519-sign(checkpoint_input)

The two prefixes keep entry and checkpoint signatures apart from each other
and from every other signature a Bocage key makes (eddsa-jcs-2022 signs 64
bytes of hashes, HTTP signatures sign lines of header or component names).

The Merkle tree is RFC 9162 section 2.1.1 with d(i) = the i-th entry hash
(32 bytes): leaf = SHA-256(0x00 || d(i)), node = SHA-256(0x01 || left ||
right), the empty tree hashes to SHA-256("").  Proofs follow sections 2.1.3
(inclusion) and 2.1.4 (consistency).

Every failure raises :class:`LogError`, whose ``code`` (a :class:`Failure`)
says which check failed; :func:`verify_log` collects them into a
:class:`LogReport` instead of stopping at the first.  What this module does NOT
check, and the caller must: that a ``keyId`` belongs to the log's actor and was
valid at ``at`` (that is ``key_for``'s job), that ``at`` is near the real time,
what a ``kind`` or ``body`` means, and whether a mirror withholds newer entries
(only comparing checkpoints across mirrors reveals a split view).  An entry
does not name its log: it is tied to one by its ``prev`` chain and by the
checkpoints (which carry ``origin``), so one key should sign one log.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from protocol.errors import ProtocolError
from protocol.keys import KeyFormatError, multibase_decode, multibase_encode

__all__ = [
    "CHECKPOINT_DOMAIN",
    "CHECKPOINT_MEMBERS",
    "EMPTY_ROOT",
    "ENTRY_DOMAIN",
    "ENTRY_MEMBERS",
    "GENESIS",
    "Checkpoint",
    "Entry",
    "Failure",
    "LogError",
    "LogReport",
    "Problem",
    "check_link",
    "checkpoint_input",
    "compare_mirror",
    "consistency_proof",
    "content_hash",
    "entry_input",
    "inclusion_proof",
    "leaf_hash",
    "make_checkpoint",
    "make_entry",
    "node_hash",
    "parse_checkpoint",
    "parse_entry",
    "prefix_roots",
    "tree_root",
    "verify_checkpoint",
    "verify_consistency",
    "verify_entry",
    "verify_inclusion",
    "verify_log",
]

ENTRY_DOMAIN: Final = b"bocage-log-entry/1\n"
CHECKPOINT_DOMAIN: Final = b"bocage-log-checkpoint/1\n"

#: ``prev`` of the first entry.
GENESIS: Final = bytes(32)
#: MTH({}) of RFC 9162 section 2.1.1: the hash of an empty string.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

# The members an entry's hash and signature cover.
_HASHED_MEMBERS: Final = ("index", "kind", "subject", "body", "at", "prev", "keyId")
ENTRY_MEMBERS: Final = frozenset((*_HASHED_MEMBERS, "hash", "signature"))
CHECKPOINT_MEMBERS: Final = frozenset(
    ("origin", "size", "root", "at", "keyId", "signature")
)

# I-JSON (RFC 7493 section 2.2) integers, the range JCS accepts.
_MAX_INT: Final = 2**53 - 1
_MAX_KIND = 64
_MAX_IRI = 2048

_KIND_RE: Final = re.compile(r"[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+")
# A scheme (RFC 3986 section 3.1), a colon, then no spaces or controls.
_IRI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f]+")
_TIME_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")
_HEX32_RE: Final = re.compile(r"[0-9a-f]{64}")


class Failure(enum.StrEnum):
    """Which check failed; the ``code`` of a :class:`LogError` or :class:`Problem`."""

    MALFORMED = "malformed"
    HASH_MISMATCH = "hash-mismatch"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_KEY = "unknown-key"
    INDEX_MISMATCH = "index-mismatch"
    PREV_MISMATCH = "prev-mismatch"
    TIME_REGRESSION = "time-regression"
    ORIGIN_MISMATCH = "origin-mismatch"
    ROOT_MISMATCH = "root-mismatch"
    BEYOND_ENTRIES = "beyond-entries"
    UNVERIFIABLE = "unverifiable"
    OUT_OF_ORDER = "out-of-order"
    FORK = "fork"
    INCONSISTENT = "inconsistent"
    BAD_ARGUMENT = "bad-argument"


class LogError(ProtocolError):
    """A log entry, checkpoint or proof request is malformed or does not verify."""

    def __init__(self, reason: str, code: Failure = Failure.MALFORMED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class Entry:
    """A well-formed entry whose ``hash`` matches its content.

    ``body`` is the object from the document, not a copy.
    """

    index: int
    kind: str
    subject: str
    body: Mapping[str, Any]
    at: str
    prev: bytes
    key_id: str
    hash: bytes
    signature: bytes

    @property
    def leaf(self) -> bytes:
        """The Merkle leaf hash of this entry (RFC 9162 section 2.1.1)."""
        return leaf_hash(self.hash)

    @property
    def time(self) -> datetime:
        """``at`` as an aware datetime in UTC."""
        return _parse_time(self.at, "at")

    def to_document(self) -> dict[str, Any]:
        """The entry as its JSON document."""
        return {
            "index": self.index,
            "kind": self.kind,
            "subject": self.subject,
            "body": self.body,
            "at": self.at,
            "prev": self.prev.hex(),
            "keyId": self.key_id,
            "hash": self.hash.hex(),
            "signature": multibase_encode(self.signature),
        }


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A well-formed checkpoint (signed tree head)."""

    origin: str
    size: int
    root: bytes
    at: str
    key_id: str
    signature: bytes

    @property
    def time(self) -> datetime:
        """``at`` as an aware datetime in UTC."""
        return _parse_time(self.at, "at")


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed check found by :func:`verify_log`.

    ``position`` is the 0-based position in the sequence that was passed in,
    which for a sound log is also the entry's ``index``.
    """

    item: Literal["entry", "checkpoint"]
    position: int
    code: Failure
    reason: str

    def __str__(self) -> str:
        return f"{self.item} {self.position}: {self.code}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LogReport:
    """What :func:`verify_log` found.

    ``verified_size`` counts the leading entries that passed every check;
    ``latest`` is the largest checkpoint that verified and matched the entries.
    """

    entries: int
    checkpoints: int
    verified_size: int
    latest: Checkpoint | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise a :class:`LogError` for the first problem, if there is one."""
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1
            suffix = f" (and {more} more)" if more else ""
            raise LogError(f"{first}{suffix}", first.code)


# --- field checks ----------------------------------------------------------


def _canonical(value: object) -> bytes:
    try:
        return rfc8785.dumps(cast("Any", value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise LogError(f"cannot be canonicalised: {exc}") from exc
    except RecursionError as exc:
        raise LogError("nested too deeply to canonicalise") from exc


def _parse_time(value: object, member: str) -> datetime:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise LogError(f"{member} must be a UTC time like 2026-01-31T12:00:00Z")
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise LogError(f"{member} is not a valid time: {value!r}") from exc


def _format_time(at: datetime | str) -> str:
    if isinstance(at, str):
        _parse_time(at, "at")
        return at
    if at.tzinfo is None:
        raise LogError("at must be timezone-aware", Failure.BAD_ARGUMENT)
    moment = at.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _check_int(value: object, member: str) -> int:
    # bool is an int in Python, not in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise LogError(f"{member} must be an integer")
    if not 0 <= value <= _MAX_INT:
        raise LogError(f"{member} must be between 0 and 2^53-1")
    return value


def _check_kind(value: object) -> str:
    if (
        not isinstance(value, str)
        or len(value) > _MAX_KIND
        or not _KIND_RE.fullmatch(value)
    ):
        raise LogError("kind must be a dotted lower-case name like 'charter.adopt'")
    return value


def _check_iri(value: object, member: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) > _MAX_IRI
        or not _IRI_RE.fullmatch(value)
    ):
        raise LogError(f"{member} must be an absolute IRI")
    return value


def _check_body(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LogError("body must be a JSON object")
    return value


def _check_hex32(value: object, member: str) -> bytes:
    if not isinstance(value, str) or not _HEX32_RE.fullmatch(value):
        raise LogError(f"{member} must be 64 lower-case hex digits")
    return bytes.fromhex(value)


def _check_signature(value: object) -> bytes:
    try:
        signature = multibase_decode(value)
    except KeyFormatError as exc:
        raise LogError(f"signature: {exc.reason}") from exc
    if len(signature) != 64:
        raise LogError("signature is not a 64-byte Ed25519 signature")
    return signature


def _check_members(
    doc: object, expected: frozenset[str], what: str
) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise LogError(f"{what} is not a JSON object")
    present = set(doc.keys())
    missing = sorted(expected - present)
    if missing:
        raise LogError(f"{what} lacks {', '.join(missing)}")
    extra = present - expected
    if extra:
        # Unknown members would be neither hashed nor signed.
        names = sorted(repr(name) for name in extra)
        raise LogError(f"{what} has unexpected members {', '.join(names)}")
    return doc


def _verify_signature(
    public_key: object, signature: bytes, message: bytes, what: str
) -> None:
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise LogError(f"{what} key is not an Ed25519 key", Failure.BAD_SIGNATURE)
    try:
        public_key.verify(signature, message)
    except InvalidSignature as exc:
        raise LogError(
            f"{what} signature does not verify", Failure.BAD_SIGNATURE
        ) from exc


# --- entries ---------------------------------------------------------------


def entry_input(unsigned: Mapping[str, Any]) -> bytes:
    """Return the bytes an entry's hash and signature cover (see module doc).

    ``unsigned`` holds the entry members except ``hash`` and ``signature``.
    """
    return ENTRY_DOMAIN + _canonical(unsigned)


def make_entry(
    prev: Entry | None,
    kind: str,
    subject: str,
    body: Mapping[str, Any],
    at: datetime | str,
    key: ed25519.Ed25519PrivateKey,
    key_id: str,
) -> dict[str, Any]:
    """Build and sign the entry that follows ``prev`` (``None``: the first one).

    ``at`` is a timezone-aware datetime or an RFC 3339 UTC string in the form
    the module docstring gives; it may not be earlier than ``prev.at``.
    ``body`` is copied through its canonical form, so the document holds plain
    JSON.  Raises :class:`LogError` on bad arguments.
    """
    text_at = _format_time(at)
    if prev is not None and _parse_time(text_at, "at") < prev.time:
        raise LogError(
            f"at {text_at} is earlier than the previous entry's {prev.at}",
            Failure.TIME_REGRESSION,
        )
    unsigned: dict[str, Any] = {
        "index": 0 if prev is None else prev.index + 1,
        "kind": _check_kind(kind),
        "subject": _check_iri(subject, "subject"),
        "body": json.loads(_canonical(_check_body(body))),
        "at": text_at,
        "prev": (GENESIS if prev is None else prev.hash).hex(),
        "keyId": _check_iri(key_id, "keyId"),
    }
    message = entry_input(unsigned)
    return {
        **unsigned,
        "hash": hashlib.sha256(message).hexdigest(),
        "signature": multibase_encode(key.sign(message)),
    }


def _read_entry(doc: object) -> tuple[Entry, bytes, bytes]:
    """Parse an entry document.

    Returns the entry carrying its *computed* hash, the hash the document
    claims, and the signed bytes; comparing the two hashes is left to the
    caller, so a mirror can still place a tampered entry in the tree.
    """
    doc = _check_members(doc, ENTRY_MEMBERS, "entry")
    index = _check_int(doc["index"], "index")
    kind = _check_kind(doc["kind"])
    subject = _check_iri(doc["subject"], "subject")
    body = _check_body(doc["body"])
    _parse_time(doc["at"], "at")
    prev = _check_hex32(doc["prev"], "prev")
    key_id = _check_iri(doc["keyId"], "keyId")
    claimed = _check_hex32(doc["hash"], "hash")
    signature = _check_signature(doc["signature"])

    message = entry_input({name: doc[name] for name in _HASHED_MEMBERS})
    entry = Entry(
        index=index,
        kind=kind,
        subject=subject,
        body=body,
        at=doc["at"],
        prev=prev,
        key_id=key_id,
        hash=hashlib.sha256(message).digest(),
        signature=signature,
    )
    return entry, claimed, message


def parse_entry(doc: object) -> Entry:
    """Check an entry document is well formed and its ``hash`` matches.

    Does not verify the signature (see :func:`verify_entry`) nor the link to
    the previous entry (see :func:`check_link`).
    """
    entry, claimed, _ = _read_entry(doc)
    if claimed != entry.hash:
        raise LogError("hash does not match the entry's content", Failure.HASH_MISMATCH)
    return entry


def content_hash(doc: object) -> bytes:
    """The hash of an entry's content, whatever its ``hash`` member claims.

    What a Merkle tree over a log is built from (see :func:`verify_log`), so
    that an entry altered after it was signed changes the root.  Raises
    :class:`LogError` for a malformed entry; checks no signature.
    """
    return _read_entry(doc)[0].hash


def verify_entry(doc: object, public_key: ed25519.Ed25519PublicKey) -> Entry:
    """Parse an entry and verify its signature with ``public_key``.

    Does not check that ``public_key`` is the one ``keyId`` names, nor the
    link to the previous entry (see :func:`check_link`).
    """
    entry, claimed, message = _read_entry(doc)
    if claimed != entry.hash:
        raise LogError("hash does not match the entry's content", Failure.HASH_MISMATCH)
    _verify_signature(public_key, entry.signature, message, "entry")
    return entry


def _check_chain(prev: Entry, entry: Entry) -> None:
    if entry.prev != prev.hash:
        raise LogError(
            f"prev is not the hash of entry {prev.index}", Failure.PREV_MISMATCH
        )
    if entry.time < prev.time:
        raise LogError(
            f"at {entry.at} is earlier than entry {prev.index}'s {prev.at}",
            Failure.TIME_REGRESSION,
        )


def check_link(prev: Entry | None, entry: Entry) -> None:
    """Check ``entry`` directly follows ``prev`` (``None``: it is the first).

    The index must be one more, ``prev`` must be the previous hash (or
    :data:`GENESIS`) and time may not go backwards.
    """
    expected = 0 if prev is None else prev.index + 1
    if entry.index != expected:
        raise LogError(
            f"index is {entry.index}, expected {expected}", Failure.INDEX_MISMATCH
        )
    if prev is None:
        if entry.prev != GENESIS:
            raise LogError(
                "the first entry's prev is not the genesis value",
                Failure.PREV_MISMATCH,
            )
        return
    _check_chain(prev, entry)


# --- the Merkle tree (RFC 9162 section 2.1) --------------------------------


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d) (RFC 9162 section 2.1.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1), RFC 9162 2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


class _Peaks:
    """The roots of the perfect subtrees that make up a tree of any size.

    RFC 9162 splits a tree of n leaves at the largest power of two below n,
    so its left part is always the largest perfect subtree: the tree hash is
    the peaks folded from the right.  Appending costs O(1) amortised and a
    root O(log n), which lets :func:`verify_log` get every prefix root in
    one pass.
    """

    def __init__(self) -> None:
        self._peaks: list[tuple[int, bytes]] = []

    def append(self, leaf: bytes) -> None:
        size, digest = 1, leaf
        while self._peaks and self._peaks[-1][0] == size:
            left_size, left = self._peaks.pop()
            size, digest = left_size + size, node_hash(left, digest)
        self._peaks.append((size, digest))

    def root(self) -> bytes:
        if not self._peaks:
            return EMPTY_ROOT
        digest = self._peaks[-1][1]
        for _, left in reversed(self._peaks[:-1]):
            digest = node_hash(left, digest)
        return digest


def _subtree(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    # MTH(D[start:end]) over leaf hashes.
    peaks = _Peaks()
    for i in range(start, end):
        peaks.append(leaves[i])
    return peaks.root()


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1.

    ``leaves`` are the inputs d(i), here entry hashes; each is leaf-hashed.
    """
    peaks = _Peaks()
    for data in leaves:
        peaks.append(leaf_hash(data))
    return peaks.root()


def prefix_roots(leaves: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """MTH(D[n]) for each n in ``sizes``, in one pass over ``leaves``.

    ``leaves`` are entry hashes, as for :func:`tree_root`.  Costs
    O(len(leaves) + len(sizes) log n), where one :func:`tree_root` per size
    would cost O(len(leaves)) each.  Sizes beyond ``leaves`` are left out.
    """
    wanted = sorted({n for n in sizes if 0 <= n <= len(leaves)})
    roots: dict[int, bytes] = {}
    peaks = _Peaks()
    done = 0
    for n in wanted:
        for data in leaves[done:n]:
            peaks.append(leaf_hash(data))
        done = n
        roots[n] = peaks.root()
    return roots


def _check_sizes(leaves: Sequence[bytes], *sizes: int) -> None:
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int):
            raise LogError("sizes and indexes must be integers", Failure.BAD_ARGUMENT)
    if any(size < 0 for size in sizes) or sizes[-1] > len(leaves):
        raise LogError(
            f"sizes {sizes} do not fit {len(leaves)} leaves", Failure.BAD_ARGUMENT
        )


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1.

    ``leaves`` are entry hashes (only the first ``size`` are used).  The
    proof lists sibling hashes from the leaf up.
    """
    _check_sizes(leaves, index, size)
    if index >= size:
        raise LogError(
            f"index {index} is not in a tree of size {size}", Failure.BAD_ARGUMENT
        )
    hashed = [leaf_hash(d) for d in leaves[:size]]

    def path(m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, start, start + k), _subtree(hashed, start + k, end)]
        return [*path(m - k, start + k, end), _subtree(hashed, start, start + k)]

    return path(index, 0, size)


def consistency_proof(
    leaves: Sequence[bytes], old_size: int, new_size: int
) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1.

    The RFC defines it for 0 < old_size < new_size; for old_size 0 or equal
    sizes the proof is empty, which :func:`verify_consistency` expects.
    """
    _check_sizes(leaves, old_size, new_size)
    if old_size > new_size:
        raise LogError(
            f"old size {old_size} exceeds new size {new_size}", Failure.BAD_ARGUMENT
        )
    if old_size in (0, new_size):
        return []
    hashed = [leaf_hash(d) for d in leaves[:new_size]]

    def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            # The old tree is this very subtree: its root is known already
            # when it is the whole old tree (complete), else it is needed.
            return [] if complete else [_subtree(hashed, start, end)]
        k = _split(n)
        if m <= k:
            right = _subtree(hashed, start + k, end)
            return [*subproof(m, start, start + k, complete), right]
        left = _subtree(hashed, start, start + k)
        return [*subproof(m - k, start + k, end, False), left]

    return subproof(old_size, 0, new_size, True)


def _is_digest_list(proof: object) -> bool:
    return isinstance(proof, Sequence) and all(
        isinstance(p, bytes) and len(p) == 32 for p in proof
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof, following RFC 9162 section 2.1.3.2.

    ``leaf_hash`` is the leaf hash (SHA-256(0x00 || entry hash)).  Take
    ``size`` and ``root`` from one verified checkpoint: the proof does not pin
    the size by itself (PATH(0, D[3]) also passes for size 4 with the same
    root).  Returns False, never raises, on any bad input.
    """
    if not (
        isinstance(leaf_hash, bytes)
        and isinstance(root, bytes)
        and _is_count(index)
        and _is_count(size)
        and not isinstance(proof, bytes | str)
        and _is_digest_list(proof)
    ):
        return False
    # Step 1.
    if index >= size:
        return False
    # Steps 2 and 3.
    fn, sn = index, size - 1
    r = leaf_hash
    # Step 4.
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    return sn == 0 and r == root


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Check a consistency proof, following RFC 9162 section 2.1.4.2.

    The RFC covers 0 < old_size < new_size.  Outside it: equal sizes are
    consistent when the roots are equal and the proof is empty; every tree
    extends the empty one (old_root must then be :data:`EMPTY_ROOT`, proof
    empty).  Returns False, never raises, on any bad input.
    """
    if not (
        _is_count(old_size)
        and _is_count(new_size)
        and isinstance(old_root, bytes)
        and isinstance(new_root, bytes)
        and not isinstance(proof, bytes | str)
        and _is_digest_list(proof)
    ):
        return False
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT

    # Step 1.
    if not proof:
        return False
    path = list(proof)
    # Step 2: a power-of-two old tree is a complete subtree; its root is
    # not repeated in the proof.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    return fr == old_root and sr == new_root and sn == 0


# --- checkpoints -----------------------------------------------------------


def checkpoint_input(unsigned: Mapping[str, Any]) -> bytes:
    """Return the bytes a checkpoint signature covers (see module doc)."""
    return CHECKPOINT_DOMAIN + _canonical(unsigned)


def make_checkpoint(
    size: int,
    root: bytes,
    at: datetime | str,
    key: ed25519.Ed25519PrivateKey,
    key_id: str,
    origin: str,
) -> dict[str, Any]:
    """Sign a checkpoint stating that the log ``origin`` had ``size`` entries
    whose Merkle tree hash (:func:`tree_root`) is ``root``.

    Does not check ``root`` against anything: the caller computes it.
    """
    if not isinstance(root, bytes) or len(root) != 32:
        raise LogError("root must be 32 bytes", Failure.BAD_ARGUMENT)
    unsigned = {
        "origin": _check_iri(origin, "origin"),
        "size": _check_int(size, "size"),
        "root": root.hex(),
        "at": _format_time(at),
        "keyId": _check_iri(key_id, "keyId"),
    }
    signature = key.sign(checkpoint_input(unsigned))
    return {**unsigned, "signature": multibase_encode(signature)}


def _read_checkpoint(doc: object) -> tuple[Checkpoint, bytes]:
    doc = _check_members(doc, CHECKPOINT_MEMBERS, "checkpoint")
    checkpoint = Checkpoint(
        origin=_check_iri(doc["origin"], "origin"),
        size=_check_int(doc["size"], "size"),
        root=_check_hex32(doc["root"], "root"),
        at=doc["at"],
        key_id=_check_iri(doc["keyId"], "keyId"),
        signature=_check_signature(doc["signature"]),
    )
    _parse_time(checkpoint.at, "at")
    unsigned = {name: doc[name] for name in CHECKPOINT_MEMBERS - {"signature"}}
    return checkpoint, checkpoint_input(unsigned)


def parse_checkpoint(doc: object) -> Checkpoint:
    """Check a checkpoint document is well formed, without its signature."""
    return _read_checkpoint(doc)[0]


def verify_checkpoint(doc: object, public_key: ed25519.Ed25519PublicKey) -> Checkpoint:
    """Parse a checkpoint and verify its signature with ``public_key``.

    Does not check that ``public_key`` is the one ``keyId`` names, nor the
    root against any entries (see :func:`verify_log`).
    """
    checkpoint, message = _read_checkpoint(doc)
    _verify_signature(public_key, checkpoint.signature, message, "checkpoint")
    return checkpoint


# --- a whole log, as a mirror holds it -------------------------------------


KeyLookup = Callable[[str], ed25519.Ed25519PublicKey | None]


def _signed_by(
    key_for: KeyLookup, key_id: str, signature: bytes, message: bytes, what: str
) -> None:
    public_key = key_for(key_id)
    if public_key is None:
        raise LogError(f"no key known as {key_id}", Failure.UNKNOWN_KEY)
    _verify_signature(public_key, signature, message, what)


def verify_log(
    entries: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Mapping[str, Any]],
    key_for: KeyLookup,
    *,
    origin: str | None = None,
) -> LogReport:
    """Verify a whole log and its checkpoints, reporting every failure.

    For each entry: well formed, hash, signature (key from ``key_for``),
    ``index`` equal to its position, ``prev`` equal to the previous entry's
    hash and ``at`` not earlier than the previous entry's.  For each
    checkpoint, in the order given: well formed, one origin (``origin`` if
    given, else the first checkpoint's), signature, root equal to the tree
    hash of the first ``size`` entries, sizes never decreasing, no two
    different roots for one size, and consistency with the previous
    checkpoint.  When either root differs from the entries, the RFC 9162
    section 2.1.4 consistency proof between the two is built and checked, so
    a checkpoint that forks from an earlier one is reported as such.

    Never raises for bad documents; whatever ``key_for`` raises propagates.
    See the module docstring for what is not checked.
    """
    problems: list[Problem] = []
    hashes: list[bytes] = []  # computed entry hashes while all are readable
    roots = [EMPTY_ROOT]  # roots[n] = tree hash of the first n entries
    peaks = _Peaks()
    readable = True
    verified_size = 0
    prev: Entry | None = None

    for position, doc in enumerate(entries):
        found = len(problems)
        read = _verify_log_entry(position, doc, prev, key_for, problems)
        if len(problems) == found and verified_size == position:
            verified_size = position + 1
        if read is None:
            readable, prev = False, None
            continue
        entry, claimed = read
        if readable:
            # The tree is built from what the entries say, never from what
            # their "hash" members claim.
            hashes.append(entry.hash)
            peaks.append(entry.leaf)
            roots.append(peaks.root())
        # The next entry is chained to the claimed hash: an altered entry is
        # then reported once, where it is, and not again at its successor.
        prev = dataclasses.replace(entry, hash=claimed)

    latest = _verify_log_checkpoints(
        checkpoints, key_for, origin, len(entries), hashes, roots, problems
    )
    return LogReport(
        entries=len(entries),
        checkpoints=len(checkpoints),
        verified_size=verified_size,
        latest=latest,
        problems=tuple(problems),
    )


def _verify_log_entry(
    position: int,
    doc: object,
    prev: Entry | None,
    key_for: KeyLookup,
    problems: list[Problem],
) -> tuple[Entry, bytes] | None:
    def report(exc: LogError) -> None:
        problems.append(Problem("entry", position, exc.code, exc.reason))

    try:
        entry, claimed, message = _read_entry(doc)
    except LogError as exc:
        report(exc)
        return None

    # Content: one problem at most, the first that fails.
    try:
        if claimed != entry.hash:
            raise LogError(
                "hash does not match the entry's content", Failure.HASH_MISMATCH
            )
        _signed_by(key_for, entry.key_id, entry.signature, message, "entry")
    except LogError as exc:
        report(exc)

    # Place in the chain: judged by position, so a reordering or a gap is
    # reported where it happens.
    if entry.index != position:
        report(
            LogError(
                f"index is {entry.index} at position {position}",
                Failure.INDEX_MISMATCH,
            )
        )
    try:
        if position == 0 and entry.prev != GENESIS:
            raise LogError(
                "the first entry's prev is not the genesis value",
                Failure.PREV_MISMATCH,
            )
        if prev is not None:
            _check_chain(prev, entry)
    except LogError as exc:
        report(exc)
    return entry, claimed


def _verify_log_checkpoints(
    checkpoints: Sequence[Mapping[str, Any]],
    key_for: KeyLookup,
    origin: str | None,
    entry_count: int,
    hashes: list[bytes],
    roots: list[bytes],
    problems: list[Problem],
) -> Checkpoint | None:
    latest: Checkpoint | None = None
    last: Checkpoint | None = None  # the largest signed checkpoint so far

    for position, doc in enumerate(checkpoints):

        def report(code: Failure, reason: str, position: int = position) -> None:
            problems.append(Problem("checkpoint", position, code, reason))

        # Who says it: well formed, the right log, signed.
        try:
            checkpoint, message = _read_checkpoint(doc)
            if origin is None:
                origin = checkpoint.origin
            if checkpoint.origin != origin:
                raise LogError(
                    f"origin is {checkpoint.origin}, not {origin}",
                    Failure.ORIGIN_MISMATCH,
                )
            _signed_by(
                key_for,
                checkpoint.key_id,
                checkpoint.signature,
                message,
                "checkpoint",
            )
        except LogError as exc:
            report(exc.code, exc.reason)
            continue

        # What it says about the entries we hold.
        size = checkpoint.size
        matches = False
        if size > entry_count:
            report(
                Failure.BEYOND_ENTRIES,
                f"size {size} exceeds the {entry_count} entries held",
            )
        elif size >= len(roots):
            report(
                Failure.UNVERIFIABLE,
                f"entry {len(roots) - 1} is unreadable, so a root over "
                f"{size} entries cannot be computed",
            )
        elif roots[size] != checkpoint.root:
            report(
                Failure.ROOT_MISMATCH,
                f"root is not the tree hash of the first {size} entries",
            )
        else:
            matches = True

        # What it says about the previous checkpoints.
        consistent = last is None or _consistent_with(
            last, checkpoint, hashes, roots, report
        )
        if last is None or size >= last.size:
            last = checkpoint
        if matches and consistent and (latest is None or size >= latest.size):
            latest = checkpoint
    return latest


def _consistent_with(
    last: Checkpoint,
    checkpoint: Checkpoint,
    hashes: list[bytes],
    roots: list[bytes],
    report: Callable[[Failure, str], None],
) -> bool:
    size = checkpoint.size
    if size < last.size:
        report(
            Failure.OUT_OF_ORDER,
            f"size {size} is smaller than an earlier checkpoint's {last.size}",
        )
        return False
    if size == last.size:
        if checkpoint.root != last.root:
            report(Failure.FORK, f"another checkpoint of size {size} has another root")
            return False
        return True
    if checkpoint.time < last.time:
        report(
            Failure.TIME_REGRESSION,
            f"at {checkpoint.at} is earlier than the previous checkpoint's",
        )
        return False
    if size > len(hashes):
        return True  # already reported: nothing to build a proof from
    if roots[last.size] == last.root and roots[size] == checkpoint.root:
        # Both are prefix roots of the entries held, so the RFC 9162 proof
        # between them exists and verifies (the tests check every pair up to
        # 20 and random ones); building it costs O(size) per pair, too much
        # for a long log with many checkpoints.
        return True
    proof = consistency_proof(hashes, last.size, size)
    if not verify_consistency(last.size, size, last.root, checkpoint.root, proof):
        report(
            Failure.INCONSISTENT,
            f"the tree of size {size} does not extend the checkpoint of "
            f"size {last.size}: the log forked",
        )
        return False
    return True


# --- a mirror against its origin ---------------------------------------------


def compare_mirror(
    entries: Sequence[Mapping[str, Any]],
    mirrored: Sequence[Mapping[str, Any]],
    key_for: KeyLookup,
    *,
    origin: str,
) -> tuple[Problem, ...]:
    """Check the checkpoints a mirror holds against the log its origin serves.

    ``entries`` are the origin's entries as it serves them now; ``mirrored``
    the checkpoints a mirror holds.  Each mirrored checkpoint must be well
    formed, of ``origin``, signed (key from ``key_for``) and, when it covers
    no more than the entries served, the tree hash of the first ``size`` of
    them (from what they say, not what their ``hash`` members claim).

    That last test is the RFC 9162 section 2.1.4 consistency check done by a
    verifier who holds the entries: a proof from the checkpoint to the tree of
    ``entries`` verifies exactly when the checkpoint's root is that tree's
    prefix root; the prefix roots come in one pass (:func:`prefix_roots`)
    where a proof per checkpoint would cost a pass each.  A checkpoint
    larger than the entries served is reported as ``BEYOND_ENTRIES``: the
    origin signed entries it no longer shows.  Problems are numbered by
    position in ``mirrored``; the entries themselves are not judged here
    (see :func:`verify_log`).
    """
    hashes: list[bytes] = []
    for doc in entries:
        try:
            hashes.append(content_hash(doc))
        except LogError:
            break  # no tree can be built past an unreadable entry
    problems: list[Problem] = []
    signed: list[tuple[int, Checkpoint]] = []
    for position, doc in enumerate(mirrored):
        try:
            checkpoint, message = _read_checkpoint(doc)
            if checkpoint.origin != origin:
                raise LogError(
                    f"origin is {checkpoint.origin}, not {origin}",
                    Failure.ORIGIN_MISMATCH,
                )
            _signed_by(
                key_for, checkpoint.key_id, checkpoint.signature, message, "checkpoint"
            )
        except LogError as exc:
            problems.append(Problem("checkpoint", position, exc.code, exc.reason))
            continue
        signed.append((position, checkpoint))

    roots = prefix_roots(hashes, [c.size for _, c in signed])
    for position, checkpoint in signed:
        size = checkpoint.size
        if size > len(entries):
            problems.append(
                Problem(
                    "checkpoint",
                    position,
                    Failure.BEYOND_ENTRIES,
                    f"the origin signed {size} entries but serves {len(entries)}: "
                    f"it hides entries it showed this mirror",
                )
            )
        elif size not in roots:
            problems.append(
                Problem(
                    "checkpoint",
                    position,
                    Failure.UNVERIFIABLE,
                    f"the origin's entry {len(hashes)} is unreadable, so its "
                    f"tree of size {size} cannot be computed",
                )
            )
        elif roots[size] != checkpoint.root:
            problems.append(
                Problem(
                    "checkpoint",
                    position,
                    Failure.INCONSISTENT,
                    f"the mirrored checkpoint of size {size} is not consistent "
                    f"with the origin's log of {len(entries)} entries: the log "
                    f"was rewritten or forked",
                )
            )
    problems.sort(key=lambda p: p.position)
    return tuple(problems)
