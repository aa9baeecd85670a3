"""draft-cavage-http-signatures-12: the ``Signature`` header fediverse servers send.

A signer lists header names in ``headers=``, joins ``name: value`` lines into
a signing string (§2.3) and signs it.  Fediverse practice, which this module
follows (INTEROP.md, "HTTP signatures"):

* ``rsa-sha256`` = RSASSA-PKCS1-v1_5 with SHA-256; ``hs2019`` takes its
  algorithm from the key (RSA → the same, Ed25519 → Ed25519);
* POST covers ``(request-target) host date digest``, GET
  ``(request-target) host date``; a missing ``headers=`` means ``date``;
* ``(request-target)`` is tried with and without the query string, since
  some peers sign the path alone;
* ``(created)`` and ``(expires)`` are allowed only with ``hs2019`` (§2.3).

Besides what :mod:`protocol.httpsig` lists, :func:`verify` does not check that
headers outside the signed set are authentic: read only covered headers.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from protocol.digest import check_digest
from protocol.httpsig import (
    MASTODON_WINDOW,
    ClockWindow,
    Failure,
    FailureCode,
    Headers,
    HeaderView,
    KeyLookup,
    PinnedKey,
    PrivateKey,
    Scheme,
    SignatureError,
    Verified,
    VerifyResult,
    algorithm_for_key,
    check_body_digest,
    key_fits,
    now_timestamp,
    parse_http_date,
    sign_bytes,
    verify_bytes,
)

__all__ = [
    "SignatureParams",
    "authorization_signature",
    "default_headers",
    "parse_signature",
    "sign",
    "signing_string",
    "verify",
]

_ALGORITHMS = ("rsa-sha256", "hs2019")
_PSEUDO_TIME = ("(created)", "(expires)")


class SignatureParams:
    """The parameters of one cavage ``Signature`` header (§2.1)."""

    __slots__ = ("algorithm", "created", "expires", "headers", "key_id", "signature")

    def __init__(
        self,
        key_id: str,
        signature: bytes,
        headers: tuple[str, ...],
        algorithm: str | None = None,
        created: str | None = None,
        expires: str | None = None,
    ) -> None:
        self.key_id = key_id
        self.signature = signature
        self.headers = headers
        self.algorithm = algorithm
        # Kept as sent: the signing string repeats them verbatim (§2.3).
        self.created = created
        self.expires = expires

    def __repr__(self) -> str:
        return (
            f"SignatureParams(key_id={self.key_id!r}, algorithm={self.algorithm!r},"
            f" headers={self.headers!r})"
        )


# auth-param = token BWS "=" BWS ( token / quoted-string ), comma-separated
# (RFC 9110 §11.2); created/expires arrive unquoted, e.g. created=1402170695.
_PARAM = re.compile(
    r"[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*"
    r'(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([A-Za-z0-9!#$%&\'*+.^_`|~-]+))[ \t]*(,|\Z)',
    re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_INTEGER = re.compile(r"[0-9]{1,15}")
_NUMBER = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")


def parse_signature(value: str) -> SignatureParams:
    """Parse a ``Signature`` header value (or the part after ``Signature``).

    Raises :class:`~protocol.httpsig.SignatureError` when the value is not a
    comma-separated list of ``name=value`` pairs, repeats a parameter, lacks
    ``keyId`` or ``signature``, or has a badly formed ``signature``,
    ``created`` or ``expires``.  Unknown parameters are ignored (§2.1).
    """
    params: dict[str, str] = {}
    position, end = 0, len(value)
    while position < end:
        match = _PARAM.match(value, position)
        if match is None:
            raise SignatureError("malformed Signature header")
        name = match[1].lower()
        if name in params:
            raise SignatureError(f"Signature header repeats {name}")
        quoted = match[2]
        if quoted is None:
            params[name] = match[3]
        else:
            params[name] = _ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted
        position = match.end()
        if match[4] == "," and position == end:
            raise SignatureError("Signature header ends with a comma")

    key_id = params.get("keyid")
    encoded = params.get("signature")
    if not key_id or encoded is None:
        raise SignatureError("Signature header needs keyId and signature")
    try:
        signature = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not valid base64") from None
    created = params.get("created")
    if created is not None and not _INTEGER.fullmatch(created):
        raise SignatureError("created is not an integer")
    expires = params.get("expires")
    if expires is not None and not _NUMBER.fullmatch(expires):
        raise SignatureError("expires is not a number")
    listed = params.get("headers")
    # §2.1.6: without headers=, only the Date header is signed (as in the
    # draft's own C.1 and in Mastodon).
    names = tuple(listed.lower().split()) if listed is not None else ("date",)
    if not names:
        raise SignatureError("headers parameter is empty")
    return SignatureParams(
        key_id, signature, names, params.get("algorithm"), created, expires
    )


def authorization_signature(headers: HeaderView) -> str | None:
    """Return the parameters of ``Authorization: Signature …``, or None."""
    value = headers.get("authorization")
    if value is None or value[:10].lower() != "signature ":
        return None
    return value[10:]


def _request_target(method: str, url: str, with_query: bool) -> str:
    # §2.3: lower-cased method, a space, then the path and query as sent.
    parts = urlsplit(url)
    path = parts.path or "/"
    if with_query and parts.query:
        path = f"{path}?{parts.query}"
    return f"{method.lower()} {path}"


def signing_string(
    method: str,
    url: str,
    headers: Headers | HeaderView,
    covered: Iterable[str],
    *,
    created: str | None = None,
    expires: str | None = None,
    with_query: bool = True,
) -> bytes:
    """Build the signing string of §2.3 for the ``covered`` header names.

    ``url`` may be absolute or just the path and query.  Raises
    :class:`~protocol.httpsig.SignatureError` when a covered header (or the
    value of a covered ``(created)``/``(expires)``) is missing.
    """
    view = HeaderView.of(headers)
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = _request_target(method, url, with_query)
        elif name == "(created)":
            if created is None:
                raise SignatureError("(created) is covered but has no value")
            value = created
        elif name == "(expires)":
            if expires is None:
                raise SignatureError("(expires) is covered but has no value")
            value = expires
        else:
            found = view.get(name)
            if found is None:
                raise SignatureError(f"covered header {name} is missing")
            value = found
        lines.append(f"{name}: {value}")
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError("a covered header is not ASCII") from None


def _missing_minimum(method: str, covered: tuple[str, ...], body: bytes) -> str | None:
    # Mastodon's floor (INTEROP.md): a time, a binding to the target, the
    # host on GET and the body's digest on POST.
    if "date" not in covered and "(created)" not in covered:
        return "date or (created) must be signed"
    if "(request-target)" not in covered and "digest" not in covered:
        return "(request-target) or digest must be signed"
    upper = method.upper()
    if upper == "GET" and "host" not in covered:
        return "host must be signed on GET"
    if (upper == "POST" or body) and "digest" not in covered:
        return "digest must be signed on POST"
    return None


async def verify(
    method: str,
    url: str,
    headers: Headers | HeaderView,
    body: bytes,
    lookup: KeyLookup,
    *,
    now: datetime | None = None,
    window: ClockWindow = MASTODON_WINDOW,
    require_minimum_set: bool = True,
) -> VerifyResult:
    """Verify a draft-cavage-12 signature on a request.

    Reads ``Signature``, else ``Authorization: Signature …``.  Checks, in
    order: syntax (400), algorithm, the covered set Mastodon requires (unless
    ``require_minimum_set`` is False), the clock ``window`` against the
    ``(created)``/``(expires)`` parameters or the ``Date`` header, a covered
    ``Digest`` against ``body``, then the signature with the key ``lookup``
    returns (401 for each).  Never raises for bad input.
    """
    view = HeaderView.of(headers)
    raw = view.get("signature")
    if raw is None:
        raw = authorization_signature(view)
        if raw is None:
            return Failure.of(FailureCode.UNSIGNED, "request is not signed")
    try:
        params = parse_signature(raw)
    except SignatureError as error:
        return Failure.of(FailureCode.MALFORMED, error.reason)

    algorithm = params.algorithm
    if algorithm is not None and algorithm.lower() not in _ALGORITHMS:
        return Failure.of(
            FailureCode.UNSUPPORTED_ALGORITHM, f"unsupported algorithm {algorithm}"
        )
    hs2019 = algorithm is None or algorithm.lower() == "hs2019"
    covered = params.headers
    if not hs2019 and any(name in _PSEUDO_TIME for name in covered):
        # §2.3: (created)/(expires) with an rsa-*, hmac-* or ecdsa-* algorithm
        # is an error.
        return Failure.of(
            FailureCode.INVALID_PARAMETERS,
            f"(created) and (expires) are not allowed with {algorithm}",
        )
    if require_minimum_set:
        missing = _missing_minimum(method, covered, body)
        if missing is not None:
            return Failure.of(FailureCode.MISSING_COMPONENT, missing)

    timing = _check_time(params, view, now, window, hs2019)
    if isinstance(timing, Failure):
        return timing
    if "digest" in covered:
        failure = _check_body(view, body)
        if failure is not None:
            return failure

    # Peers differ on whether (request-target) has the query: try both.
    variants = (
        (True, False) if "(request-target)" in covered and "?" in url else (True,)
    )
    try:
        bases = [
            signing_string(
                method,
                url,
                view,
                covered,
                created=params.created,
                expires=params.expires,
                with_query=with_query,
            )
            for with_query in variants
        ]
    except SignatureError as error:
        return Failure.of(FailureCode.MISSING_COMPONENT, error.reason)

    found = await lookup(params.key_id)
    if found is None:
        return Failure.of(FailureCode.UNKNOWN_KEY, f"unknown key {params.key_id}")
    key = found.key if isinstance(found, PinnedKey) else found
    # rsa-sha256 names the RSA scheme; hs2019 leaves it to the key (§2.1.3),
    # or to the algorithm a pinned key is bound to.
    scheme = "rsa-v1_5-sha256" if not hs2019 else algorithm_for_key(found)
    pinned = not isinstance(found, PinnedKey) or found.algorithm == scheme
    if (
        scheme not in ("rsa-v1_5-sha256", "ed25519")
        or not key_fits(scheme, key)
        or not pinned
    ):
        return Failure.of(
            FailureCode.KEY_MISMATCH,
            f"key {params.key_id} cannot verify {algorithm or 'hs2019'}",
        )
    for base in bases:
        if verify_bytes(scheme, key, base, params.signature):
            return Verified(
                key_id=params.key_id,
                scheme=Scheme.CAVAGE,
                algorithm=(algorithm or "hs2019").lower(),
                created=timing,
                covered=covered,
            )
    return Failure.of(FailureCode.BAD_SIGNATURE, "signature does not verify")


def _check_time(
    params: SignatureParams,
    view: HeaderView,
    now: datetime | None,
    window: ClockWindow,
    hs2019: bool,
) -> Failure | datetime | None:
    """Return a failure, or the creation time (None when nothing dates it)."""
    created: float | None = None
    if hs2019 and params.created is not None:
        created = float(params.created)
    else:
        date = view.get("date")
        if date is not None:
            created = parse_http_date(date)
            if created is None:
                return Failure.of(FailureCode.MALFORMED, "unreadable Date header")
    expires = None
    if hs2019 and params.expires is not None:
        expires = float(params.expires)
    failure = window.check(created, expires, now_timestamp(now))
    if failure is not None:
        return failure
    return None if created is None else datetime.fromtimestamp(created, UTC)


def _check_body(view: HeaderView, body: bytes) -> Failure | None:
    return check_body_digest(view.get("digest"), body, "Digest", check_digest)


def default_headers(with_body: bool) -> tuple[str, ...]:
    """Return the headers Mastodon signs: with ``digest`` when there is a body."""
    if with_body:
        return ("(request-target)", "host", "date", "digest")
    return ("(request-target)", "host", "date")


def sign(
    method: str,
    url: str,
    headers: Headers | HeaderView,
    key: PrivateKey,
    key_id: str,
    *,
    covered: Iterable[str] | None = None,
    created: int | None = None,
    expires: int | None = None,
) -> str:
    """Return a ``Signature`` header value signing ``covered`` headers.

    The headers must already hold everything covered (``Host``, ``Date``,
    ``Digest``: see :func:`protocol.httpsig.sign_request`, which adds them).
    RSA keys sign as ``rsa-sha256``, Ed25519 keys as ``hs2019``; with
    ``created``/``expires`` RSA keys use ``hs2019`` too (§2.3).  Raises
    :class:`~protocol.httpsig.SignatureError` for another key type or a
    missing covered header.
    """
    view = HeaderView.of(headers)
    scheme = algorithm_for_key(key)
    if scheme not in ("rsa-v1_5-sha256", "ed25519"):
        raise SignatureError("draft-cavage signing needs an RSA or Ed25519 key")
    names = tuple(covered) if covered is not None else default_headers(False)
    timed = created is not None or expires is not None
    algorithm = "rsa-sha256" if scheme == "rsa-v1_5-sha256" and not timed else "hs2019"
    base = signing_string(
        method,
        url,
        view,
        names,
        created=None if created is None else str(created),
        expires=None if expires is None else str(expires),
    )
    signature = base64.b64encode(sign_bytes(scheme, key, base)).decode("ascii")
    parts = [f'keyId="{_quote(key_id)}"', f'algorithm="{algorithm}"']
    if created is not None:
        parts.append(f"created={created}")
    if expires is not None:
        parts.append(f"expires={expires}")
    parts.append(f'headers="{" ".join(names)}"')
    parts.append(f'signature="{signature}"')
    return ",".join(parts)


def _quote(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise SignatureError("keyId contains control characters")
    return value.replace("\\", "\\\\").replace('"', '\\"')
