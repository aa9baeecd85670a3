"""Body digests: ``Digest`` (RFC 3230, draft-cavage) and ``Content-Digest`` (RFC 9530).

``Digest: SHA-256=<base64>`` is what draft-cavage signers cover on POST;
``Content-Digest: sha-256=:<base64>:`` is the structured-field successor that
RFC 9421 signers cover.  Both carry SHA-256 or SHA-512 here.

The ``check_*`` functions answer "does the body match?" with a bool and raise
:class:`DigestError` only when the header cannot be read or names no algorithm
we support; they do not check that the digest header was signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable

from http_sfv.dictionary import Dictionary
from http_sfv.item import Item

from protocol.errors import ProtocolError

__all__ = [
    "DigestError",
    "check_content_digest",
    "check_digest",
    "make_content_digest",
    "make_digest",
    "parse_content_digest",
    "parse_digest",
]

_HASHES: dict[str, Callable[[bytes], bytes]] = {
    "sha-256": lambda body: hashlib.sha256(body).digest(),
    "sha-512": lambda body: hashlib.sha512(body).digest(),
}
_SIZES = {"sha-256": 32, "sha-512": 64}


class DigestError(ProtocolError):
    """A digest header that cannot be read, or that names no known algorithm.

    ``malformed`` is True for a syntax error (answer 400) and False when the
    header is well formed but uses only algorithms we do not support.
    """

    def __init__(self, reason: str, *, malformed: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.malformed = malformed


def _hash(algorithm: str, body: bytes) -> bytes:
    try:
        return _HASHES[algorithm.lower()](body)
    except KeyError:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}") from None


def _matches(digests: dict[str, bytes], body: bytes) -> bool:
    known = [name for name in digests if name in _HASHES]
    if not known:
        raise DigestError("no supported digest algorithm", malformed=False)
    # Every supported digest present must match, so a sender cannot pair a
    # correct SHA-256 with a wrong SHA-512 that another verifier would pick.
    return all(
        hmac.compare_digest(_HASHES[name](body), digests[name]) for name in known
    )


def _b64decode(value: str | bytes, what: str) -> bytes:
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise DigestError(f"{what} is not valid base64") from None


# --- Digest (RFC 3230 §4.3.2) ----------------------------------------------


def make_digest(body: bytes, algorithm: str = "SHA-256") -> str:
    """Return a ``Digest`` header value for ``body`` (``SHA-256`` or ``SHA-512``)."""
    value = base64.b64encode(_hash(algorithm, body)).decode("ascii")
    return f"{algorithm.upper()}={value}"


# instance-digest = digest-algorithm "=" <encoded digest>; algorithm names are
# case-insensitive (RFC 3230 §4.1.1) and peers send both SHA-256 and sha-256.
_DIGEST_ITEM = re.compile(r"[ \t]*([A-Za-z0-9-]+)=([A-Za-z0-9+/=]*)[ \t]*")


def parse_digest(value: str) -> dict[str, bytes]:
    """Parse a ``Digest`` header into ``{lower-case algorithm: digest bytes}``.

    Raises :class:`DigestError` on any syntax error, a repeated algorithm, or
    a SHA-256/SHA-512 digest of the wrong length.
    """
    digests: dict[str, bytes] = {}
    for item in value.split(","):
        match = _DIGEST_ITEM.fullmatch(item)
        if match is None:
            raise DigestError("malformed Digest header")
        name = match[1].lower()
        if name in digests:
            raise DigestError(f"Digest repeats {name}")
        digest = _b64decode(match[2], "Digest value")
        if name in _SIZES and len(digest) != _SIZES[name]:
            raise DigestError(f"{name} digest has the wrong length")
        digests[name] = digest
    return digests


def check_digest(value: str, body: bytes) -> bool:
    """Say whether a ``Digest`` header matches ``body``.

    Raises :class:`DigestError` if the header is malformed or carries only
    unsupported algorithms.
    """
    return _matches(parse_digest(value), body)


# --- Content-Digest (RFC 9530 §2) ------------------------------------------


def make_content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """Return a ``Content-Digest`` value for ``body`` (``sha-256`` or ``sha-512``)."""
    value = base64.b64encode(_hash(algorithm, body)).decode("ascii")
    return f"{algorithm.lower()}=:{value}:"


# The common single-member form; its parse is what http_sfv would return, and
# it skips the library's byte-at-a-time parser on every inbox POST.
_ONE_CONTENT_DIGEST = re.compile(r"(sha-256|sha-512)=:([A-Za-z0-9+/]*={0,2}):")


def parse_content_digest(value: str) -> dict[str, bytes]:
    """Parse a ``Content-Digest`` dictionary into ``{algorithm: digest bytes}``.

    Raises :class:`DigestError` if the value is not a structured-field
    dictionary of byte sequences (RFC 8941 §3.2, RFC 9530 §2), or if a
    SHA-256/SHA-512 digest has the wrong length.
    """
    match = _ONE_CONTENT_DIGEST.fullmatch(value)
    if match is not None:
        digests = {match[1]: _b64decode(match[2], "Content-Digest value")}
    else:
        digests = _parse_content_digest_sf(value)
    for name, digest in digests.items():
        if name in _SIZES and len(digest) != _SIZES[name]:
            raise DigestError(f"{name} digest has the wrong length")
    return digests


def _parse_content_digest_sf(value: str) -> dict[str, bytes]:
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise DigestError("Content-Digest is not ASCII") from None
    parsed = Dictionary()
    try:
        parsed.parse(data)
    except ValueError as error:
        raise DigestError("malformed Content-Digest") from error
    digests: dict[str, bytes] = {}
    for name, member in parsed.items():
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise DigestError(f"Content-Digest {name} is not a byte sequence")
        digests[name] = member.value
    return digests


def check_content_digest(value: str, body: bytes) -> bool:
    """Say whether a ``Content-Digest`` header matches ``body``.

    Raises :class:`DigestError` if the header is malformed or carries only
    unsupported algorithms.
    """
    return _matches(parse_content_digest(value), body)
