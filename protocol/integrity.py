"""Object integrity proofs: FEP-8b32 with the ``eddsa-jcs-2022`` cryptosuite.

The algorithm is W3C "Data Integrity EdDSA Cryptosuites v1.0" (vc-di-eddsa),
section 3.3:

* the proof configuration is the proof without ``proofValue``, carrying a copy
  of the document's ``@context`` (3.3.1 step 2); it is canonicalised with JCS
  (RFC 8785) and hashed with SHA-256 (3.3.5, 3.3.4);
* the document without ``proof`` is canonicalised with JCS and hashed (3.3.3);
* hashData = proofConfigHash || documentHash, signed with Ed25519 (3.3.4, 3.3.6);
* ``proofValue`` is the signature in multibase base58btc (``z…``).

What verification does NOT check, and the caller must:

* that the verification method belongs to the object's ``actor`` or
  ``attributedTo`` (FEP-8b32, "Verifying the proof"; INTEROP.md, "Confirm a key
  both ways") -- compare :attr:`VerifiedProof.verification_method` with the
  keys listed by that actor's document;
* that the verification method's origin matches the object's (FEP-8b32);
* that ``created`` is not in the future, and how old it is;
* ``domain`` and ``challenge`` (not used by FEP-8b32);
* proof chains and sets beyond a single proof (a one-element list is accepted).

Every failure raises :class:`ProofError` with a reason; success returns a
:class:`VerifiedProof`.  No JSON-LD processing happens: JCS works on the JSON as
received, so no context is ever loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from protocol.errors import ProtocolError
from protocol.keys import KeyFormatError, PublicKey, multibase_decode, multibase_encode

__all__ = [
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "ParsedProof",
    "ProofError",
    "VerifiedProof",
    "canonicalize",
    "create_proof",
    "hash_data",
    "parse_proof",
    "proof_configuration",
    "verify_proof",
    "verify_proof_async",
    "verify_proof_with_key",
]

PROOF_TYPE: Final = "DataIntegrityProof"
CRYPTOSUITE: Final = "eddsa-jcs-2022"


class ProofError(ProtocolError):
    """An integrity proof is missing, malformed, or does not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """What a successfully verified proof asserts."""

    verification_method: str
    proof_purpose: str
    created: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedProof:
    """A proof object that is well formed for ``eddsa-jcs-2022``."""

    verification_method: str
    proof_purpose: str
    created: datetime | None
    expires: datetime | None
    signature: bytes
    options: dict[str, Any]  # the proof without proofValue


def canonicalize(value: object) -> bytes:
    """Serialise JSON with JCS (RFC 8785), raising :class:`ProofError` if it can't.

    JCS refuses integers outside the I-JSON range and non-finite floats.
    """
    try:
        return rfc8785.dumps(cast("Any", value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ProofError(f"document cannot be canonicalised: {exc}") from exc
    except RecursionError as exc:
        raise ProofError("document is nested too deeply to canonicalise") from exc


def _format_datetime(moment: datetime) -> str:
    # XML Schema dateTimeStamp in UTC with a Z, whole seconds, as in the
    # vc-di-eddsa vectors ("2023-02-24T23:36:38Z").
    if moment.tzinfo is None:
        raise ProofError("created must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_datetime(value: object, member: str) -> datetime:
    # vc-data-integrity 2.1: created/expires are XMLSCHEMA11 dateTimeStamp,
    # which requires a time zone.
    if not isinstance(value, str) or len(value) > 64:
        raise ProofError(f"proof {member} must be a date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProofError(f"proof {member} is not a date-time: {value!r}") from exc
    if moment.tzinfo is None:
        raise ProofError(f"proof {member} has no time zone")
    return moment


def proof_configuration(
    document: Mapping[str, Any],
    verification_method: str,
    *,
    created: datetime | None = None,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Build the proof options for ``document`` (3.3.1 steps 1-2), unsigned."""
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if created is not None:
        options["created"] = _format_datetime(created)
    # 3.3.1 step 2: the document's @context is copied into the proof, and so
    # becomes part of what is signed (FEP-8b32 test vectors depend on it).
    if "@context" in document:
        options["@context"] = document["@context"]
    return options


def hash_data(document: Mapping[str, Any], options: Mapping[str, Any]) -> bytes:
    """Return proofConfigHash || documentHash, the 64 bytes Ed25519 signs (3.3.4).

    ``document`` must not contain ``proof``; ``options`` must not contain
    ``proofValue``.
    """
    proof_hash = hashlib.sha256(canonicalize(options)).digest()
    document_hash = hashlib.sha256(canonicalize(document)).digest()
    return proof_hash + document_hash


def create_proof(
    document: Mapping[str, Any],
    private_key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    *,
    created: datetime | None = None,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Return a copy of ``document`` with an ``eddsa-jcs-2022`` ``proof`` added.

    ``created`` is written in whole UTC seconds when given; it is omitted when
    ``None`` (the spec makes it optional).  A document that already has a
    ``proof`` is refused: proof sets and chains are not supported.
    """
    if "proof" in document:
        raise ProofError("document already has a proof")
    options = proof_configuration(
        document,
        verification_method,
        created=created,
        proof_purpose=proof_purpose,
    )
    signature = private_key.sign(hash_data(document, options))
    secured = dict(document)
    secured["proof"] = {**options, "proofValue": multibase_encode(signature)}
    return secured


def _single_proof(document: object) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise ProofError("document is not a JSON object")
    proof = document.get("proof")
    if isinstance(proof, list):
        # A proof set (vc-data-integrity 2.1.2) of one is the same as one proof.
        if len(proof) != 1:
            raise ProofError("proof sets of several proofs are not supported")
        proof = proof[0]
    if proof is None:
        raise ProofError("document has no proof")
    if not isinstance(proof, Mapping):
        raise ProofError("proof is not a JSON object")
    return proof


def parse_proof(document: object) -> ParsedProof:
    """Check a document's proof is a well-formed ``eddsa-jcs-2022`` proof.

    Does not verify the signature; see :func:`verify_proof_with_key`.
    """
    proof = _single_proof(document)
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(f"proof type is not {PROOF_TYPE}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"proof cryptosuite is not {CRYPTOSUITE}")

    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise ProofError("proof verificationMethod must be a string")
    purpose = proof.get("proofPurpose")
    if not isinstance(purpose, str) or not purpose:
        raise ProofError("proof proofPurpose must be a string")

    created = proof.get("created")
    expires = proof.get("expires")
    try:
        signature = multibase_decode(proof.get("proofValue"))
    except KeyFormatError as exc:
        raise ProofError(f"proofValue: {exc.reason}") from exc
    if len(signature) != 64:
        raise ProofError("proofValue is not a 64-byte Ed25519 signature")

    return ParsedProof(
        verification_method=method,
        proof_purpose=purpose,
        created=None if created is None else _parse_datetime(created, "created"),
        expires=None if expires is None else _parse_datetime(expires, "expires"),
        signature=signature,
        options={k: v for k, v in proof.items() if k != "proofValue"},
    )


def _check_context_prefix(
    document: Mapping[str, Any], options: Mapping[str, Any]
) -> None:
    # vc-di-eddsa 3.3.2 step 4.1: the document's @context must start with the
    # proof's @context entries, in the same order.
    if "@context" not in options:
        return
    proof_context = options["@context"]
    doc_context = document.get("@context")
    expected = proof_context if isinstance(proof_context, list) else [proof_context]
    actual = doc_context if isinstance(doc_context, list) else [doc_context]
    if actual[: len(expected)] != expected:
        raise ProofError("document @context does not start with the proof @context")


def verify_proof_with_key(
    document: object,
    public_key: PublicKey,
    *,
    expected_purpose: str = "assertionMethod",
    now: datetime | None = None,
) -> VerifiedProof:
    """Verify a document's proof with an already-resolved key (the sync core).

    Raises :class:`ProofError` naming the first check that failed.  See the
    module docstring for what is not checked.
    """
    parsed = parse_proof(document)
    assert isinstance(document, Mapping)  # parse_proof checked it
    return _verify_parsed(document, parsed, public_key, expected_purpose, now)


def _verify_parsed(
    document: Mapping[str, Any],
    parsed: ParsedProof,
    public_key: PublicKey,
    expected_purpose: str,
    now: datetime | None,
) -> VerifiedProof:
    if parsed.proof_purpose != expected_purpose:
        raise ProofError(
            f"proof purpose is {parsed.proof_purpose!r}, not {expected_purpose!r}"
        )
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if parsed.expires is not None and parsed.expires <= moment:
        raise ProofError("proof has expired")
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise ProofError("verification method is not an Ed25519 key")

    _check_context_prefix(document, parsed.options)
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    # 3.3.2 step 4.2: the proof's @context stands for the document's.
    if "@context" in parsed.options:
        unsecured["@context"] = parsed.options["@context"]

    try:
        public_key.verify(parsed.signature, hash_data(unsecured, parsed.options))
    except InvalidSignature as exc:
        raise ProofError("proof signature does not verify") from exc
    return VerifiedProof(
        verification_method=parsed.verification_method,
        proof_purpose=parsed.proof_purpose,
        created=parsed.created,
    )


def verify_proof(
    document: object,
    lookup: Callable[[str], PublicKey],
    *,
    expected_purpose: str = "assertionMethod",
    now: datetime | None = None,
) -> VerifiedProof:
    """Verify a document's proof, resolving ``verificationMethod`` with ``lookup``.

    ``lookup`` is called once, only after the proof is well formed; whatever it
    raises propagates unchanged.
    """
    parsed = parse_proof(document)
    assert isinstance(document, Mapping)
    key = lookup(parsed.verification_method)
    return _verify_parsed(document, parsed, key, expected_purpose, now)


async def verify_proof_async(
    document: object,
    lookup: Callable[[str], Awaitable[PublicKey]],
    *,
    expected_purpose: str = "assertionMethod",
    now: datetime | None = None,
) -> VerifiedProof:
    """Like :func:`verify_proof`, with an async key lookup (e.g. an actor fetch)."""
    parsed = parse_proof(document)
    assert isinstance(document, Mapping)
    key = await lookup(parsed.verification_method)
    return _verify_parsed(document, parsed, key, expected_purpose, now)
