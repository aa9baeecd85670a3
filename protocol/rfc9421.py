"""RFC 9421 HTTP Message Signatures: ``Signature-Input`` and ``Signature``.

Both fields are structured-field dictionaries (RFC 8941) keyed by a signature
label.  ``Signature-Input`` holds, per label, the inner list of covered
component identifiers and the signature parameters; ``Signature`` holds the
signature bytes.  The signed bytes are the signature base of §2.5: one
``"<identifier>": <value>`` line per covered component, then the
``"@signature-params"`` line.

Supported here: the derived components ``@method``, ``@target-uri``,
``@authority``, ``@scheme``, ``@request-target``, ``@path``, ``@query``,
``@query-param`` and ``@status`` (§2.2); the component parameters ``sf``,
``key``, ``bs`` and ``req`` (§2.1); the signature parameters ``created``,
``expires``, ``keyid``, ``alg``, ``nonce`` and ``tag`` (§2.3); the algorithms
of §3.3 (``rsa-v1_5-sha256``, ``rsa-pss-sha512``, ``ecdsa-p256-sha256``,
``ecdsa-p384-sha384``, ``ed25519``, ``hmac-sha256``).  Trailers (``tr``) are not.

Besides what :mod:`protocol.httpsig` lists, :func:`verify` checks one
signature (the labelled one, or the first) and does not check the others, nor
any ``Accept-Signature`` negotiation.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from urllib.parse import parse_qsl, quote, urlsplit

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item
from http_sfv.list import List as SfList
from http_sfv.types import DisplayString, Token

from protocol.digest import check_content_digest, make_content_digest
from protocol.httpsig import (
    ALGORITHMS,
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
    authority_of,
    check_body_digest,
    key_fits,
    now_timestamp,
    sign_bytes,
    verify_bytes,
)

__all__ = [
    "Component",
    "RelatedRequest",
    "SignatureInput",
    "default_components",
    "parse_signature_input",
    "parse_signatures",
    "sign",
    "sign_response",
    "signature_base",
    "verify",
    "verify_response",
]

ParamValue = int | str | bool | bytes
"""A structured-field bare item as a parameter value (decimals are refused)."""


@dataclass(frozen=True, slots=True)
class Component:
    """One covered component: its name, parameters and serialised identifier."""

    name: str
    params: Mapping[str, ParamValue]
    identifier: str


@dataclass(frozen=True, slots=True)
class SignatureInput:
    """One member of ``Signature-Input``: what a labelled signature covers.

    ``serialized`` is the value of the ``"@signature-params"`` line (§2.3).
    """

    label: str
    components: tuple[Component, ...]
    params: Mapping[str, ParamValue]
    serialized: str

    def _int(self, name: str) -> int | None:
        value = self.params.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _str(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if isinstance(value, str) else None

    @property
    def created(self) -> int | None:
        """The ``created`` parameter, POSIX seconds."""
        return self._int("created")

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter, POSIX seconds."""
        return self._int("expires")

    @property
    def keyid(self) -> str | None:
        """The ``keyid`` parameter."""
        return self._str("keyid")

    @property
    def alg(self) -> str | None:
        """The ``alg`` parameter."""
        return self._str("alg")

    @property
    def nonce(self) -> str | None:
        """The ``nonce`` parameter."""
        return self._str("nonce")

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter."""
        return self._str("tag")


# Types of the signature parameters of §2.3; others pass through unchecked.
_PARAM_TYPES: dict[str, type] = {
    "created": int,
    "expires": int,
    "keyid": str,
    "alg": str,
    "nonce": str,
    "tag": str,
}
_NO_PARAMS: Mapping[str, ParamValue] = MappingProxyType({})


# --- parsing -----------------------------------------------------------------
# Fast paths: canonical serialisations (RFC 8941 §4.1) recognised by regular
# expressions, so that the usual one-signature request skips http_sfv's
# byte-at-a-time parser and re-serialiser.  Anything else goes to http_sfv;
# tests check that both paths agree.

_KEY = r"[a-z*][a-z0-9_.*-]*"
_STRING = r'"[ !#-\[\]-~]*"'  # printable ASCII without '"' or '\'
_INTEGER = r"(?:0|-?[1-9][0-9]{0,14})"
_PARAM = rf";{_KEY}(?:=(?:{_INTEGER}|{_STRING}))?"
_ITEM = rf"{_STRING}(?:{_PARAM})*"
_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")
_FAST_INPUT = re.compile(rf"({_KEY})=(\(((?:{_ITEM}(?: {_ITEM})*)?)\)((?:{_PARAM})*))")
_FAST_ITEM = re.compile(rf"({_STRING})((?:{_PARAM})*)")
_FAST_PARAM = re.compile(rf";({_KEY})(?:=({_INTEGER}|{_STRING}))?")
_FAST_SIGNATURE = re.compile(rf"({_KEY})=:([A-Za-z0-9+/]*={{0,2}}):")


def _members(value: str, pattern: re.Pattern[str]) -> list[re.Match[str]] | None:
    """Match ``value`` as canonical dictionary members, or return None."""
    found = []
    position, end = 0, len(value)
    while True:
        match = pattern.match(value, position)
        if match is None:
            return None
        found.append(match)
        position = match.end()
        if position == end:
            return found
        separator = _SEPARATOR.match(value, position)
        if separator is None or separator.end() == end:
            return None
        position = separator.end()


def _fast_params(text: str) -> Mapping[str, ParamValue] | None:
    """Read canonical parameters; None if a key repeats (http_sfv must decide)."""
    if not text:
        return _NO_PARAMS
    found = _FAST_PARAM.findall(text)
    params: dict[str, ParamValue] = {}
    for key, raw in found:
        if not raw:
            params[key] = True
        elif raw[0] == '"':
            params[key] = raw[1:-1]
        else:
            params[key] = int(raw)
    # A repeated key keeps its last value but drops out of the re-serialised
    # line, so the raw text would no longer be the canonical form.
    return params if len(params) == len(found) else None


def _fast_components(items: str) -> tuple[Component, ...] | None:
    if ";" not in items:  # no parameters: split between the quoted names
        names = items[1:-1].split('" "') if items else []
        return tuple(Component(name, _NO_PARAMS, f'"{name}"') for name in names)
    components = []
    for match in _FAST_ITEM.finditer(items):
        params = _fast_params(match[2])
        if params is None:
            return None
        components.append(Component(match[1][1:-1], params, match[0]))
    return tuple(components)


def _parse_dictionary(value: str, field: str) -> Dictionary:
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError(f"{field} is not ASCII") from None
    parsed = Dictionary()
    try:
        parsed.parse(data)
    except ValueError as error:
        raise SignatureError(f"{field} is not a structured dictionary") from error
    return parsed


def _checked_params(
    params: Mapping[str, object], where: str, *, typed: bool = True
) -> dict[str, ParamValue]:
    checked: dict[str, ParamValue] = {}
    for name, value in params.items():
        if not isinstance(value, int | str | bytes):  # bool is an int
            raise SignatureError(f"{where}: parameter {name} has an unusable type")
        expected = _PARAM_TYPES.get(name) if typed else None
        if expected is not None and (
            not isinstance(value, expected) or isinstance(value, bool)
        ):
            raise SignatureError(f"{where}: {name} must be {expected.__name__}")
        checked[name] = value
    return checked


def parse_signature_input(value: str) -> dict[str, SignatureInput]:
    """Parse ``Signature-Input`` into ``{label: SignatureInput}``, in field order.

    Raises :class:`~protocol.httpsig.SignatureError` when the field is not a
    dictionary of inner lists of strings (§4.1), or ``created``/``expires``
    are not integers, or ``keyid``/``alg``/``nonce``/``tag`` not strings.
    """
    members = _members(value, _FAST_INPUT)
    if members is None:
        return _parse_signature_input_sf(value)
    result: dict[str, SignatureInput] = {}
    for member in members:
        label, inner, items, trailer = member.groups()
        components = _fast_components(items)
        params = _fast_params(trailer)
        if components is None or params is None:
            return _parse_signature_input_sf(value)
        params = _checked_params(params, label)
        result[label] = SignatureInput(label, components, params, inner)
    return result


def _parse_signature_input_sf(value: str) -> dict[str, SignatureInput]:
    parsed = _parse_dictionary(value, "Signature-Input")
    result: dict[str, SignatureInput] = {}
    for label, member in parsed.items():
        if not isinstance(member, InnerList):
            raise SignatureError(f"Signature-Input {label} is not an inner list")
        components = []
        for item in member:
            name = item.value
            if not isinstance(name, str) or isinstance(name, Token | DisplayString):
                raise SignatureError(f"Signature-Input {label}: bad component")
            params = _checked_params(item.params, label, typed=False)
            components.append(Component(name, params, str(item)))
        params = _checked_params(member.params, label)
        try:
            serialized = str(member)
        except ValueError as error:  # e.g. a parameter it cannot re-serialise
            raise SignatureError(f"Signature-Input {label} unusable") from error
        result[label] = SignatureInput(label, tuple(components), params, serialized)
    return result


def parse_signatures(value: str) -> dict[str, bytes]:
    """Parse ``Signature`` into ``{label: signature bytes}``, in field order.

    Raises :class:`~protocol.httpsig.SignatureError` when the field is not a
    dictionary of byte sequences (§4.2).
    """
    members = _members(value, _FAST_SIGNATURE)
    if members is not None:
        try:
            return {m[1]: base64.b64decode(m[2]) for m in members}
        except ValueError:
            raise SignatureError("Signature holds invalid base64") from None
    parsed = _parse_dictionary(value, "Signature")
    result: dict[str, bytes] = {}
    for label, member in parsed.items():
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise SignatureError(f"Signature {label} is not a byte sequence")
        result[label] = member.value
    return result


# --- the signature base (§2.5) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class RelatedRequest:
    """The request a response answers, for components with ``req`` (§2.4)."""

    method: str
    url: str
    headers: HeaderView


@dataclass(frozen=True, slots=True)
class _Message:
    method: str | None
    url: str | None
    status: int | None
    headers: HeaderView
    request: _Message | None = None


# Structured fields whose type is known, for the sf and key parameters
# (§2.1.1, §2.1.2): RFC 8941 cannot be parsed without knowing the type.
_SF_TYPES: dict[str, type] = {
    "signature-input": Dictionary,
    "signature": Dictionary,
    "accept-signature": Dictionary,
    "content-digest": Dictionary,
    "repr-digest": Dictionary,
    "want-content-digest": Dictionary,
    "want-repr-digest": Dictionary,
    "priority": Dictionary,
    "example-dict": Dictionary,
    "cache-status": SfList,
    "proxy-status": SfList,
    "example-list": SfList,
}


def _field_value(component: Component, message: _Message) -> str:
    params = component.params
    if "tr" in params:
        raise SignatureError("trailer components are not supported")
    view = message.headers
    if "bs" in params:
        raw_values = view.values(component.name)
        if raw_values is None:
            raise SignatureError(f"covered field {component.name} is missing")
        # §2.1.3: each value's bytes, wrapped one by one as byte sequences.
        encoded = (
            base64.b64encode(v.strip(" \t").encode("latin-1")) for v in raw_values
        )
        return ", ".join(f":{e.decode('ascii')}:" for e in encoded)
    value = view.get(component.name)
    if value is None:
        raise SignatureError(f"covered field {component.name} is missing")
    if "sf" not in params and "key" not in params:
        return value
    kind = _SF_TYPES.get(component.name)
    if kind is None or ("key" in params and kind is not Dictionary):
        raise SignatureError(f"{component.name} is not a known structured field")
    parsed = kind()
    try:
        parsed.parse(value.encode("ascii"))
        if "key" not in params:
            return str(parsed)
        member = parsed[params["key"]]
        return str(member)
    except (ValueError, UnicodeEncodeError, KeyError) as error:
        raise SignatureError(f"{component.name} cannot be re-serialised") from error


def _form_encode(text: str) -> str:
    # The application/x-www-form-urlencoded percent-encode set (WHATWG URL
    # §5.2): everything but ASCII alphanumerics and *-._ is encoded.
    return quote(text, safe="*").replace("~", "%7E")


def _query_param(component: Component, query: str) -> str:
    # §2.2.8: the name parameter holds the encoded name; parameters are
    # decoded as application/x-www-form-urlencoded and their value re-encoded.
    wanted = component.params.get("name")
    if not isinstance(wanted, str):
        raise SignatureError("@query-param needs a name parameter")
    pairs = parse_qsl(query, keep_blank_values=True)
    values = [v for k, v in pairs if _form_encode(k) == wanted]
    if len(values) != 1:
        raise SignatureError(f"query parameter {wanted} is not there exactly once")
    return _form_encode(values[0])


def _derived_value(component: Component, message: _Message) -> str:
    name = component.name
    if any(p in component.params for p in ("sf", "key", "bs", "tr")):
        raise SignatureError(f"{name} does not take field parameters")
    if name == "@status":
        if message.status is None:
            raise SignatureError("@status only applies to responses")
        return f"{message.status:03d}"
    if message.method is None or message.url is None:
        raise SignatureError(f"{name} needs a request")
    if name == "@method":
        return message.method
    if name == "@target-uri":
        scheme, separator, rest = message.url.partition("://")
        if not separator or not scheme or not rest or rest[0] == "/":
            raise SignatureError("@target-uri needs an absolute URL")
        return message.url
    parts = urlsplit(message.url)
    if name == "@authority":
        authority = authority_of(message.url)
        if authority is None:
            raise SignatureError("@authority needs an absolute URL")
        return authority.lower()
    if name == "@scheme":
        if not parts.scheme:
            raise SignatureError("@scheme needs an absolute URL")
        return parts.scheme.lower()
    path = parts.path or "/"
    if name == "@path":
        return path
    if name == "@query":
        return f"?{parts.query}"
    if name == "@request-target":
        return f"{path}?{parts.query}" if parts.query else path
    if name == "@query-param":
        return _query_param(component, parts.query)
    raise SignatureError(f"unknown derived component {name}")


def _base(message: _Message, signature_input: SignatureInput) -> bytes:
    """Build the signature base of §2.5 (raises SignatureError)."""
    lines = []
    seen = set()
    for component in signature_input.components:
        if component.identifier in seen:
            raise SignatureError(f"component {component.identifier} repeated")
        seen.add(component.identifier)
        name = component.name
        source = message
        if "req" in component.params:
            if message.request is None:
                raise SignatureError(f"{name};req needs the related request")
            source = message.request
        if name.startswith("@"):
            if name == "@signature-params":
                raise SignatureError("@signature-params cannot be covered")
            value = _derived_value(component, source)
        elif name != name.lower() or not name:
            raise SignatureError(f"field name {name!r} is not lower-case")
        else:
            value = _field_value(component, source)
        lines.append(f"{component.identifier}: {value}")
    lines.append(f'"@signature-params": {signature_input.serialized}')
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError("a covered component is not ASCII") from None


def signature_base(
    method: str | None,
    url: str | None,
    headers: Headers | HeaderView,
    *,
    label: str | None = None,
    status: int | None = None,
    request: RelatedRequest | None = None,
) -> bytes:
    """Rebuild the signature base of a signed message (the labelled or first).

    For a response give ``status`` and leave ``method`` and ``url`` None.
    Raises :class:`~protocol.httpsig.SignatureError` on any problem.
    """
    view = HeaderView.of(headers)
    raw = view.get("signature-input")
    if raw is None:
        raise SignatureError("no Signature-Input")
    inputs = parse_signature_input(raw)
    chosen = inputs.get(label) if label is not None else next(iter(inputs.values()))
    if chosen is None:
        raise SignatureError(f"no signature labelled {label}")
    return _base(_message(method, url, status, view, request), chosen)


def _message(
    method: str | None,
    url: str | None,
    status: int | None,
    view: HeaderView,
    request: RelatedRequest | None,
) -> _Message:
    related = None
    if request is not None:
        related = _Message(request.method, request.url, None, request.headers)
    return _Message(method, url, status, view, related)


# --- verification ------------------------------------------------------------


def _missing_minimum(
    method: str, signature_input: SignatureInput, body: bytes
) -> str | None:
    # What Mastodon 4.5 requires (INTEROP.md): created, @method, the target,
    # and the body's digest on POST.  @authority with @path binds the target
    # as well as @target-uri does for an inbox.
    names = {c.name for c in signature_input.components if not c.params}
    if signature_input.created is None:
        return "the created parameter is required"
    if "@method" not in names:
        return "@method must be covered"
    if "@target-uri" not in names and not {"@authority", "@path"} <= names:
        return "@target-uri must be covered"
    if (method.upper() == "POST" or body) and "content-digest" not in names:
        return "content-digest must be covered on POST"
    return None


async def verify(
    method: str,
    url: str,
    headers: Headers | HeaderView,
    body: bytes,
    lookup: KeyLookup,
    *,
    label: str | None = None,
    now: datetime | None = None,
    window: ClockWindow = MASTODON_WINDOW,
    require_minimum_set: bool = True,
) -> VerifyResult:
    """Verify the RFC 9421 signature of a request (``label``'s, or the first).

    ``url`` is the absolute target URI.  Checks, in order: syntax (400), the
    algorithm, the covered set Mastodon requires (unless
    ``require_minimum_set`` is False), ``created``/``expires`` against the
    clock ``window``, a covered ``Content-Digest`` against ``body``, the
    covered components, then the signature with the key ``lookup`` returns
    for ``keyid`` (401 for each).  An RSA key without ``alg`` or a
    :class:`~protocol.httpsig.PinnedKey` means ``rsa-v1_5-sha256``.
    Never raises for bad input.
    """
    message = _Message(method, url, None, HeaderView.of(headers))
    return await _verify(
        message,
        body,
        lookup,
        label,
        now,
        window,
        method if require_minimum_set else None,
    )


async def verify_response(
    status: int,
    headers: Headers | HeaderView,
    body: bytes,
    lookup: KeyLookup,
    *,
    request: RelatedRequest | None = None,
    label: str | None = None,
    now: datetime | None = None,
    window: ClockWindow = MASTODON_WINDOW,
) -> VerifyResult:
    """Verify the RFC 9421 signature of a response; see :func:`verify`.

    ``request`` supplies the components marked ``req``.  No minimum covered
    set is enforced on responses.
    """
    message = _message(None, None, status, HeaderView.of(headers), request)
    return await _verify(message, body, lookup, label, now, window, None)


def _choose(
    view: HeaderView, label: str | None
) -> tuple[SignatureInput, bytes] | Failure:
    raw_input = view.get("signature-input")
    raw_signature = view.get("signature")
    if raw_input is None:
        return Failure.of(FailureCode.UNSIGNED, "no Signature-Input")
    if raw_signature is None:
        return Failure.of(FailureCode.MALFORMED, "Signature-Input without Signature")
    try:
        inputs = parse_signature_input(raw_input)
        signatures = parse_signatures(raw_signature)
    except SignatureError as error:
        return Failure.of(FailureCode.MALFORMED, error.reason)
    if label is None:
        label = next(iter(inputs), None)
        if label is None:
            return Failure.of(FailureCode.MALFORMED, "empty Signature-Input")
    chosen = inputs.get(label)
    if chosen is None:
        return Failure.of(FailureCode.UNSIGNED, f"no signature labelled {label}")
    signature = signatures.get(label)
    if signature is None:
        return Failure.of(FailureCode.MALFORMED, f"Signature lacks {label}")
    return chosen, signature


async def _verify(
    message: _Message,
    body: bytes,
    lookup: KeyLookup,
    label: str | None,
    now: datetime | None,
    window: ClockWindow,
    minimum_for: str | None,
) -> VerifyResult:
    chosen = _choose(message.headers, label)
    if isinstance(chosen, Failure):
        return chosen
    signature_input, signature = chosen

    alg = signature_input.alg
    if alg is not None and alg not in ALGORITHMS:
        return Failure.of(FailureCode.UNSUPPORTED_ALGORITHM, f"unsupported alg {alg}")
    if minimum_for is not None:
        missing = _missing_minimum(minimum_for, signature_input, body)
        if missing is not None:
            return Failure.of(FailureCode.MISSING_COMPONENT, missing)
    created, expires = signature_input.created, signature_input.expires
    failure = window.check(created, expires, now_timestamp(now))
    if failure is not None:
        return failure
    if any(c.name == "content-digest" for c in signature_input.components):
        failure = _check_body(message.headers, body)
        if failure is not None:
            return failure
    try:
        base = _base(message, signature_input)
    except SignatureError as error:
        return Failure.of(FailureCode.MISSING_COMPONENT, error.reason)

    key_id = signature_input.keyid
    if key_id is None:
        return Failure.of(FailureCode.UNKNOWN_KEY, "signature has no keyid")
    found = await lookup(key_id)
    if found is None:
        return Failure.of(FailureCode.UNKNOWN_KEY, f"unknown key {key_id}")
    key = found.key if isinstance(found, PinnedKey) else found
    implied = algorithm_for_key(found)
    # §3.2: the algorithm is fixed by alg, or else by the key.  A pinned key
    # and alg must agree, so an attacker cannot switch a key's algorithm.
    if isinstance(found, PinnedKey) and alg is not None and alg != implied:
        return Failure.of(FailureCode.KEY_MISMATCH, f"key {key_id} is not for {alg}")
    algorithm = alg or implied
    if algorithm is None or not key_fits(algorithm, key):
        return Failure.of(FailureCode.KEY_MISMATCH, f"key {key_id} cannot verify")
    if not verify_bytes(algorithm, key, base, signature):
        return Failure.of(FailureCode.BAD_SIGNATURE, "signature does not verify")
    return Verified(
        key_id=key_id,
        scheme=Scheme.RFC9421,
        algorithm=algorithm,
        created=None if created is None else datetime.fromtimestamp(created, UTC),
        covered=tuple(c.identifier for c in signature_input.components),
        label=signature_input.label,
        tag=signature_input.tag,
        nonce=signature_input.nonce,
    )


def _check_body(view: HeaderView, body: bytes) -> Failure | None:
    return check_body_digest(
        view.get("content-digest"), body, "Content-Digest", check_content_digest
    )


# --- signing -----------------------------------------------------------------


def default_components(with_body: bool) -> tuple[str, ...]:
    """Return what Bocage covers between peers (Mastodon 4.5's requirement)."""
    if with_body:
        return ("@method", "@target-uri", "content-digest")
    return ("@method", "@target-uri")


def _component(spec: str) -> Component:
    # A plain name ("@method", "content-type"), or a serialised identifier
    # with parameters ('"@query-param";name="Pet"').
    if not spec.startswith('"'):
        return Component(spec, {}, str(Item(spec)))
    item = Item()
    try:
        item.parse(spec.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise SignatureError(f"bad component identifier {spec}") from error
    if not isinstance(item.value, str):
        raise SignatureError(f"bad component identifier {spec}")
    params = _checked_params(item.params, spec, typed=False)
    return Component(item.value, params, str(item))


def _serialize_input(
    components: Sequence[Component], params: Mapping[str, ParamValue]
) -> str:
    inner = InnerList()
    for component in components:
        item = Item(component.name)
        item.params.update(component.params)
        inner.append(item)
    inner.params.update(params)
    return str(inner)


def _sign_message(
    message: _Message,
    body: bytes,
    key: PrivateKey,
    key_id: str,
    components: Iterable[str],
    label: str,
    params: dict[str, ParamValue],
    algorithm: str | None,
    include_alg: bool,
) -> dict[str, str]:
    algorithm = algorithm or algorithm_for_key(key)
    if algorithm is None or not key_fits(algorithm, key):
        raise SignatureError("this key cannot sign with RFC 9421 here")
    covered = tuple(_component(spec) for spec in components)
    added: dict[str, str] = {}
    view = message.headers
    wants_digest = any(c.name == "content-digest" for c in covered)
    if wants_digest and "content-digest" not in view:
        added["Content-Digest"] = make_content_digest(body)
        view = HeaderView([*view.pairs(), ("content-digest", added["Content-Digest"])])
        message = _Message(
            message.method, message.url, message.status, view, message.request
        )
    params["keyid"] = key_id
    if include_alg:
        params["alg"] = algorithm
    try:
        serialized = _serialize_input(covered, params)
    except ValueError as error:
        raise SignatureError("a signature parameter cannot be serialised") from error
    signature_input = SignatureInput(label, covered, params, serialized)
    signature = sign_bytes(algorithm, key, _base(message, signature_input))

    encoded = base64.b64encode(signature).decode("ascii")
    new_input = f"{label}={serialized}"
    new_signature = f"{label}=:{encoded}:"
    # Keep signatures already present (§4.3: e.g. a proxy adds its own).
    earlier_input = view.get("signature-input")
    earlier_signature = view.get("signature")
    if earlier_input and earlier_signature:
        new_input = f"{earlier_input}, {new_input}"
        new_signature = f"{earlier_signature}, {new_signature}"
    added["Signature-Input"] = new_input
    added["Signature"] = new_signature
    return added


def sign(
    method: str,
    url: str,
    headers: Headers | HeaderView,
    body: bytes,
    key: PrivateKey,
    key_id: str,
    *,
    components: Iterable[str] | None = None,
    label: str = "sig1",
    created: int | None = None,
    expires: int | None = None,
    nonce: str | None = None,
    tag: str | None = None,
    algorithm: str | None = None,
    include_alg: bool = True,
) -> dict[str, str]:
    """Sign a request and return the headers to add or replace.

    Returns ``Signature-Input`` and ``Signature`` (appended to any already
    present) and ``Content-Digest`` when ``content-digest`` is covered and
    missing.  ``components`` defaults to :func:`default_components`;
    ``created`` to now; ``algorithm`` to the key's (RSA → ``rsa-v1_5-sha256``,
    Ed25519 → ``ed25519``, P-256 → ``ecdsa-p256-sha256``, bytes →
    ``hmac-sha256``).  Raises :class:`~protocol.httpsig.SignatureError` when a
    covered component is missing or the key does not fit.
    """
    if components is None:
        components = default_components(method.upper() == "POST" or bool(body))
    if created is None:
        created = int(now_timestamp(None))
    message = _Message(method, url, None, HeaderView.of(headers))
    params: dict[str, ParamValue] = {"created": created}
    for name, value in (("expires", expires), ("nonce", nonce), ("tag", tag)):
        if value is not None:
            params[name] = value
    return _sign_message(
        message,
        body,
        key,
        key_id,
        components,
        label,
        params,
        algorithm,
        include_alg,
    )


def sign_response(
    status: int,
    headers: Headers | HeaderView,
    body: bytes,
    key: PrivateKey,
    key_id: str,
    *,
    components: Iterable[str] = ("@status", "content-digest"),
    request: RelatedRequest | None = None,
    label: str = "sig1",
    created: int | None = None,
    algorithm: str | None = None,
    include_alg: bool = True,
) -> dict[str, str]:
    """Sign a response and return the headers to add; see :func:`sign`."""
    if created is None:
        created = int(now_timestamp(None))
    message = _message(None, None, status, HeaderView.of(headers), request)
    return _sign_message(
        message,
        body,
        key,
        key_id,
        components,
        label,
        {"created": created},
        algorithm,
        include_alg,
    )
