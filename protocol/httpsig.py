"""HTTP message signatures: shared types, algorithms and a scheme-detecting front door.

Two schemes sign fediverse requests:

* draft-cavage-http-signatures-12 (``Signature: keyId=…,headers=…,signature=…``),
  which nearly every server still sends (:mod:`protocol.cavage`);
* RFC 9421 (``Signature-Input`` + ``Signature`` structured fields), which
  Mastodon verifies from 4.5 and Fedify sends first (:mod:`protocol.rfc9421`).

Both modules take the same inputs (method, URL, headers, body bytes and an
*async* key lookup) and return the same result types, defined here:
:class:`Verified` or :class:`Failure`.  Verification never raises for bad
input; it only lets exceptions from the caller's ``lookup`` propagate.

What verification does **not** check, for every scheme:

* that the key's owner is the actor of the activity in the body, and that the
  actor's own document lists the key ("Confirm a key both ways" in INTEROP.md);
* replay: a ``nonce`` is reported, not remembered;
* the key's strength (a 1024-bit RSA key verifies; refuse it when loading keys);
* whether the URL given is the one the peer meant (pass the public URL, not the
  one a reverse proxy rewrote).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_tz
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from protocol.digest import DigestError, make_digest
from protocol.errors import ProtocolError

__all__ = [
    "MASTODON_WINDOW",
    "ClockWindow",
    "Failure",
    "FailureCode",
    "HeaderView",
    "Headers",
    "KeyLookup",
    "PinnedKey",
    "PrivateKey",
    "PublicKey",
    "Scheme",
    "SignatureError",
    "Verified",
    "VerifyResult",
    "algorithm_for_key",
    "sign_bytes",
    "sign_request",
    "verify_bytes",
    "verify_request",
]

PublicKey = rsa.RSAPublicKey | Ed25519PublicKey | ec.EllipticCurvePublicKey | bytes
"""Key material a lookup returns; ``bytes`` is an HMAC shared secret."""

PrivateKey = rsa.RSAPrivateKey | Ed25519PrivateKey | ec.EllipticCurvePrivateKey | bytes
"""Key material to sign with; ``bytes`` is an HMAC shared secret."""

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
"""A plain dict, aiohttp's ``CIMultiDict`` or a list of ``(name, value)`` pairs."""


class SignatureError(ProtocolError):
    """A signature header cannot be parsed, or a message cannot be signed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Scheme(enum.StrEnum):
    """The signature scheme a request used."""

    CAVAGE = "draft-cavage-12"
    RFC9421 = "rfc9421"


class FailureCode(enum.StrEnum):
    """Why a signature was refused; :attr:`Failure.status` follows from it."""

    UNSIGNED = "unsigned"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    INVALID_PARAMETERS = "invalid_parameters"
    UNKNOWN_KEY = "unknown_key"
    KEY_MISMATCH = "key_mismatch"
    BAD_SIGNATURE = "bad_signature"
    MISSING_COMPONENT = "missing_component"
    FUTURE = "future"
    STALE = "stale"
    EXPIRED = "expired"
    DIGEST_MISMATCH = "digest_mismatch"
    DIGEST_UNSUPPORTED = "digest_unsupported"


# Only a header we could not parse is the client's syntax error; everything
# else is "not authenticated", which Fedify needs as 401 to fall back to the
# other scheme (INTEROP.md, "HTTP signatures").
_STATUS: dict[FailureCode, int] = {FailureCode.MALFORMED: 400}


@dataclass(frozen=True, slots=True)
class Verified:
    """A signature that verified with the key ``lookup`` returned for ``key_id``.

    ``algorithm`` is named as the scheme names it (``rsa-sha256`` or
    ``hs2019`` for cavage, §3.3 names for RFC 9421).  ``created`` is the
    signature's creation time: the ``created`` parameter when there is one,
    else the ``Date`` header (cavage).  ``covered`` lists the
    covered components as the signature named them (lower-case header names,
    cavage pseudo-headers, or RFC 9421 component identifiers).
    """

    key_id: str
    scheme: Scheme
    algorithm: str
    created: datetime | None
    covered: tuple[str, ...] = ()
    label: str | None = None
    tag: str | None = None
    nonce: str | None = None
    ok: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Failure:
    """A refused signature: a human-readable ``reason`` and the HTTP ``status``."""

    reason: str
    status: int
    code: FailureCode
    ok: ClassVar[bool] = False

    @classmethod
    def of(cls, code: FailureCode, reason: str) -> Failure:
        """Build a failure whose status follows from ``code`` (400 or 401)."""
        return cls(reason, _STATUS.get(code, 401), code)


VerifyResult = Verified | Failure


@dataclass(frozen=True, slots=True)
class PinnedKey:
    """A public key bound to one RFC 9421 algorithm name.

    Return this from a lookup when the key alone does not say how to use it,
    e.g. an RSA key meant for ``rsa-pss-sha512``; a bare RSA key is taken to
    mean ``rsa-v1_5-sha256``, as fediverse servers use.
    """

    key: PublicKey
    algorithm: str


KeyLookup = Callable[[str], Awaitable[PublicKey | PinnedKey | None]]
"""``async lookup(key_id)`` → key material, or ``None`` for an unknown key."""


# --- the clock window ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockWindow:
    """How far a signature's time may stray from ours.

    The defaults are Mastodon's: a creation time at most ``max_skew`` in the
    future; an expiry of ``created + default_lifetime`` unless the signature
    says otherwise, never beyond ``created + max_lifetime``; and a signature
    still accepted until ``max_skew`` after its expiry.
    """

    max_skew: timedelta = timedelta(hours=1)
    default_lifetime: timedelta = timedelta(minutes=5)
    max_lifetime: timedelta = timedelta(hours=12)

    def check(
        self, created: float | None, expires: float | None, now: float
    ) -> Failure | None:
        """Return a failure if the times fall outside the window, else None."""
        skew = self.max_skew.total_seconds()
        if created is not None and created > now + skew:
            return Failure.of(FailureCode.FUTURE, "signature created in the future")
        if created is not None:
            limit = created + self.max_lifetime.total_seconds()
            if expires is None:
                lifetime = self.default_lifetime.total_seconds()
                if now > min(created + lifetime, limit) + skew:
                    return Failure.of(FailureCode.STALE, "signature too old")
                return None
            expires = min(expires, limit)
        if expires is not None and now > expires + skew:
            return Failure.of(FailureCode.EXPIRED, "signature expired")
        return None


MASTODON_WINDOW = ClockWindow()


def now_timestamp(now: datetime | None) -> float:
    """Return ``now`` (or the current time) as POSIX seconds."""
    return time.time() if now is None else now.timestamp()


_MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES.split(), 1)}
# IMF-fixdate, the form RFC 9110 §5.6.7 says senders MUST use.
_IMF_FIXDATE = re.compile(
    r"[A-Z][a-z]{2}, (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT"
)


def parse_http_date(value: str) -> float | None:
    """Return an HTTP ``Date`` as POSIX seconds, or None if it does not parse."""
    match = _IMF_FIXDATE.fullmatch(value)
    if match is not None:
        day, month, year, hour, minute, second = match.groups()
        month_number = _MONTHS.get(month)
        if month_number is None:
            return None
        try:
            moment = datetime(
                int(year),
                month_number,
                int(day),
                int(hour),
                int(minute),
                int(second),
                tzinfo=UTC,
            )
        except ValueError:
            return None
        return moment.timestamp()
    # RFC 9110 §5.6.7: recipients also accept the obsolete RFC 850 and asctime
    # forms, which the e-mail date parser reads.
    parts = parsedate_tz(value)
    if parts is None:
        return None
    try:
        moment = datetime(*parts[:6], tzinfo=UTC)
    except ValueError:
        return None
    # asctime carries no zone: it is GMT.
    return moment.timestamp() - (parts[9] or 0)


def http_date(moment: float) -> str:
    """Format POSIX seconds as an IMF-fixdate (RFC 9110 §5.6.7)."""
    return formatdate(moment, usegmt=True)


# --- headers ---------------------------------------------------------------


class HeaderView:
    """Header fields by lower-case name, built once per message.

    Both schemes look fields up case-insensitively and combine repeated
    fields with ``", "`` (RFC 9421 §2.1, draft-cavage-12 §2.3).
    """

    __slots__ = ("_fields",)

    def __init__(self, headers: Headers) -> None:
        fields: dict[str, list[str]] = {}
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in pairs:
            key = name.lower()
            known = fields.get(key)
            if known is None:
                fields[key] = [value]
            else:
                known.append(value)
        self._fields = fields

    @classmethod
    def of(cls, headers: Headers | HeaderView) -> HeaderView:
        """Return ``headers`` as a view, building one only if needed."""
        return headers if isinstance(headers, HeaderView) else cls(headers)

    def __contains__(self, name: str) -> bool:
        return name in self._fields

    def pairs(self) -> list[tuple[str, str]]:
        """Return the fields as ``(name, value)`` pairs, repeats kept."""
        return [(k, v) for k, values in self._fields.items() for v in values]

    def values(self, name: str) -> list[str] | None:
        """Return every value of the (lower-case) field, or None if absent."""
        return self._fields.get(name)

    def get(self, name: str) -> str | None:
        """Return the field's values combined per RFC 9421 §2.1, or None."""
        values = self._fields.get(name)
        if values is None:
            return None
        if len(values) == 1:
            return _clean_value(values[0])
        return ", ".join(_clean_value(v) for v in values)


def _clean_value(value: str) -> str:
    # RFC 9421 §2.1: strip leading and trailing whitespace, and replace
    # obsolete line folding with a single space.
    if "\n" in value:
        value = re.sub(r"\r?\n[ \t]+", " ", value)
    return value.strip(" \t")


def authority_of(url: str) -> str | None:
    """Return ``host[:port]`` of an absolute URL, without a default port."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return None
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return host
    return f"{host}:{port}"


# --- algorithms ------------------------------------------------------------
# Names are RFC 9421 §6.2.2's registry; cavage's rsa-sha256 and hs2019 map onto
# rsa-v1_5-sha256 and ed25519.

_PSS_SHA512 = padding.PSS(
    mgf=padding.MGF1(hashes.SHA512()), salt_length=64
)  # RFC 9421 §3.3.2: 64-byte salt
_KEY_KIND = {
    "rsa-v1_5-sha256": "rsa",
    "rsa-pss-sha512": "rsa",
    "ecdsa-p256-sha256": "p256",
    "ecdsa-p384-sha384": "p384",
    "ed25519": "ed25519",
    "hmac-sha256": "hmac",
}
ALGORITHMS = frozenset(_KEY_KIND)


# Key classes are ABCs, and isinstance on them costs about as much as the rest
# of parsing a header: remember the answer per concrete class.
_KIND_OF_TYPE: dict[type, str] = {}


def _kind(key: PublicKey | PrivateKey) -> str | None:
    kind = _KIND_OF_TYPE.get(type(key))
    if kind is not None:
        return kind
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        kind = "rsa"
    elif isinstance(key, Ed25519PublicKey | Ed25519PrivateKey):
        kind = "ed25519"
    elif isinstance(key, bytes):
        kind = "hmac"
    if kind is not None:
        _KIND_OF_TYPE[type(key)] = kind
        return kind
    # EC keys share a class across curves, so they are not remembered.
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "p256"
        if isinstance(key.curve, ec.SECP384R1):
            return "p384"
    return None


_DEFAULT_ALGORITHM = {
    "rsa": "rsa-v1_5-sha256",
    "ed25519": "ed25519",
    "p256": "ecdsa-p256-sha256",
    "p384": "ecdsa-p384-sha384",
    "hmac": "hmac-sha256",
}


def algorithm_for_key(key: PublicKey | PrivateKey | PinnedKey) -> str | None:
    """Return the RFC 9421 algorithm a key implies, or None for an unusable key."""
    if isinstance(key, PinnedKey):
        return key.algorithm
    kind = _kind(key)
    return None if kind is None else _DEFAULT_ALGORITHM[kind]


def key_fits(algorithm: str, key: PublicKey | PrivateKey) -> bool:
    """Say whether ``key`` is of the type ``algorithm`` needs."""
    return _KEY_KIND.get(algorithm) == _kind(key)


def verify_bytes(algorithm: str, key: PublicKey, data: bytes, signature: bytes) -> bool:
    """Check ``signature`` over ``data``; the key must fit (see :func:`key_fits`).

    Raises :class:`SignatureError` for an unknown algorithm or a key of the
    wrong type, so callers check :func:`key_fits` first.
    """
    if not key_fits(algorithm, key):
        raise SignatureError(f"key does not fit algorithm {algorithm}")
    try:
        if algorithm == "rsa-v1_5-sha256":
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == "ed25519":
            assert isinstance(key, Ed25519PublicKey)
            key.verify(signature, data)
        elif algorithm == "rsa-pss-sha512":
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, data, _PSS_SHA512, hashes.SHA512())
        elif algorithm == "hmac-sha256":
            assert isinstance(key, bytes)
            expected = hmac.new(key, data, hashlib.sha256).digest()
            return hmac.compare_digest(expected, signature)
        else:
            # RFC 9421 §3.3.4/§3.3.5: r and s as fixed-size big-endian integers.
            assert isinstance(key, ec.EllipticCurvePublicKey)
            size = 32 if algorithm == "ecdsa-p256-sha256" else 48
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            digest = hashes.SHA256() if size == 32 else hashes.SHA384()
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


def sign_bytes(algorithm: str, key: PrivateKey, data: bytes) -> bytes:
    """Sign ``data``; raises :class:`SignatureError` if the key does not fit."""
    if not key_fits(algorithm, key):
        raise SignatureError(f"key does not fit algorithm {algorithm}")
    if algorithm == "rsa-v1_5-sha256":
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if algorithm == "ed25519":
        assert isinstance(key, Ed25519PrivateKey)
        return key.sign(data)
    if algorithm == "rsa-pss-sha512":
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, _PSS_SHA512, hashes.SHA512())
    if algorithm == "hmac-sha256":
        assert isinstance(key, bytes)
        return hmac.new(key, data, hashlib.sha256).digest()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    size = 32 if algorithm == "ecdsa-p256-sha256" else 48
    digest = hashes.SHA256() if size == 32 else hashes.SHA384()
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def check_body_digest(
    value: str | None, body: bytes, header: str, check: Callable[[str, bytes], bool]
) -> Failure | None:
    """The failure, if any, of a body against its ``Digest`` or ``Content-Digest``.

    ``check`` is the digest module's checker for that header; a header we
    cannot parse is malformed (400), an algorithm we do not know is
    unsupported, a mismatch is a mismatch (both 401).
    """
    if value is None:
        return Failure.of(FailureCode.MISSING_COMPONENT, f"{header} header missing")
    try:
        matches = check(value, body)
    except DigestError as error:
        code = (
            FailureCode.MALFORMED if error.malformed else FailureCode.DIGEST_UNSUPPORTED
        )
        return Failure.of(code, error.reason)
    if not matches:
        return Failure.of(FailureCode.DIGEST_MISMATCH, f"{header} does not match body")
    return None


# --- the front door --------------------------------------------------------


async def verify_request(
    method: str,
    url: str,
    headers: Headers | HeaderView,
    body: bytes,
    lookup: KeyLookup,
    *,
    now: datetime | None = None,
    max_skew: timedelta | None = None,
    window: ClockWindow = MASTODON_WINDOW,
    label: str | None = None,
    require_minimum_set: bool = True,
) -> VerifyResult:
    """Verify a request signed with either scheme, whichever it carries.

    ``Signature-Input`` present → RFC 9421; else ``Signature`` or
    ``Authorization: Signature …`` → draft-cavage-12; else a 401 failure with
    code ``UNSIGNED``.  ``url`` must be the absolute URL the peer addressed
    (RFC 9421 covers it whole).  ``max_skew`` overrides ``window.max_skew``.
    ``require_minimum_set`` enforces the covered set Mastodon requires (see
    the scheme modules).  Never raises for bad input; exceptions raised by
    ``lookup`` propagate.  See the module docstring for what is not checked.
    """
    # Imported here: both scheme modules import this one for its types.
    from protocol import cavage, rfc9421  # noqa: PLC0415

    view = HeaderView.of(headers)
    if max_skew is not None:
        window = replace(window, max_skew=max_skew)
    if "signature-input" in view:
        return await rfc9421.verify(
            method,
            url,
            view,
            body,
            lookup,
            label=label,
            now=now,
            window=window,
            require_minimum_set=require_minimum_set,
        )
    if "signature" in view or cavage.authorization_signature(view) is not None:
        return await cavage.verify(
            method,
            url,
            view,
            body,
            lookup,
            now=now,
            window=window,
            require_minimum_set=require_minimum_set,
        )
    return Failure.of(FailureCode.UNSIGNED, "request is not signed")


def sign_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    key: PrivateKey,
    key_id: str,
    *,
    scheme: Scheme | Literal["draft-cavage-12", "rfc9421"] = Scheme.CAVAGE,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign an outgoing request and return the headers to add to it.

    Adds ``Date`` and ``Host`` when missing, then, for draft-cavage-12,
    ``Digest`` (on POST or with a body) and ``Signature`` over
    ``(request-target) host date [digest]``; for RFC 9421, ``Content-Digest``
    and ``Signature-Input``/``Signature`` covering ``@method``,
    ``@target-uri`` [and ``content-digest``] with ``created``, ``keyid`` and
    ``alg``, as Mastodon 4.5 requires.  RSA keys sign ``rsa-sha256`` /
    ``rsa-v1_5-sha256``; Ed25519 keys ``hs2019`` / ``ed25519``.

    Raises :class:`SignatureError` for a key that cannot sign or a URL
    without a host.
    """
    from protocol import cavage, rfc9421  # noqa: PLC0415

    moment = now_timestamp(now)
    view = HeaderView(headers)
    added: dict[str, str] = {}
    if "date" not in view:
        added["Date"] = http_date(moment)
    if "host" not in view:
        authority = authority_of(url)
        if authority is None:
            raise SignatureError("cannot sign: the URL has no host")
        added["Host"] = authority
    full = HeaderView([*view.pairs(), *added.items()])
    with_body = method.upper() == "POST" or bool(body)
    if Scheme(scheme) is Scheme.RFC9421:
        added.update(
            rfc9421.sign(
                method,
                url,
                full,
                body,
                key,
                key_id,
                created=int(moment),
                components=rfc9421.default_components(with_body),
            )
        )
        return added
    covered = cavage.default_headers(with_body)
    if with_body and "digest" not in view:
        added["Digest"] = make_digest(body)
        full = HeaderView([*full.pairs(), ("digest", added["Digest"])])
    added["Signature"] = cavage.sign(method, url, full, key, key_id, covered=covered)
    return added
