"""RFC 9421: the published vectors of Appendix B and §4.3, parsers, and failures."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item
from hypothesis import given
from hypothesis import strategies as st

from protocol import rfc9421
from protocol.httpsig import (
    Failure,
    FailureCode,
    HeaderView,
    PinnedKey,
    PublicKey,
    SignatureError,
    Verified,
    sign_bytes,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "rfc9421"
MISSING = f"RFC 9421 vectors not found at {VECTORS}"
needs_vectors = pytest.mark.skipif(not VECTORS.is_dir(), reason=MISSING)

CASES: list[dict[str, Any]] = (
    json.loads((VECTORS / "vectors.json").read_text())["cases"]
    if VECTORS.is_dir()
    else []
)
# RFC 9421 B.2: the Content-Digest printed on test-response is not the digest
# of its body; B.2.4's base uses the right one (vectors/README.md).
RIGHT_RESPONSE_DIGEST = (
    "sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5"
    "oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:"
)
PSS_KEY = "test-key-rsa-pss"


class Message:
    """An HTTP/1.1 message read from a vector file."""

    def __init__(self, text: str) -> None:
        head, _, body = text.partition("\n\n")
        start, *lines = head.strip("\n").split("\n")
        self.headers = [tuple(line.split(": ", 1)) for line in lines]
        self.body = body.strip("\n").encode()
        words = start.split(" ")
        self.status: int | None = None
        if words[0].startswith("HTTP/"):
            self.status = int(words[1])
            self.method, self.url = "", ""
        else:
            self.method = words[0]
            self.url = f"https://{self.header('host')}{words[1]}"

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name)

    def replace(self, name: str, value: str) -> None:
        self.headers = [(k, value if k.lower() == name else v) for k, v in self.headers]


def load_message(name: str) -> Message:
    return Message((VECTORS / "messages" / f"{name}.http").read_text())


def public_key(key_id: str) -> PublicKey | PinnedKey:
    if key_id == "test-shared-secret":
        return base64.b64decode(
            (VECTORS / "keys/test-shared-secret.b64.txt").read_text()
        )
    pem = (VECTORS / "keys" / f"{key_id}.pub.pem").read_bytes()
    key = serialization.load_pem_public_key(pem)
    assert isinstance(
        key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    )
    # The PSS key is an ordinary RSA key: only the vectors say it means PSS.
    return PinnedKey(key, "rsa-pss-sha512") if key_id == PSS_KEY else key


def private_key(key_id: str) -> Any:
    if key_id == "test-shared-secret":
        return public_key(key_id)
    pem = (VECTORS / "keys" / f"{key_id}.priv.pem").read_bytes()
    return serialization.load_pem_private_key(pem, password=None)


async def lookup(key_id: str) -> PublicKey | PinnedKey | None:
    try:
        return public_key(key_id)
    except FileNotFoundError:
        return None


def case_message(case: dict[str, Any]) -> Message:
    message = load_message(case["message"])
    if "signature_input_header" in case and case["section"].startswith("B.2"):
        message.headers.append(("Signature-Input", case["signature_input_header"]))
        message.headers.append(("Signature", case["signature_header"]))
    if message.status is not None:
        message.replace("content-digest", RIGHT_RESPONSE_DIGEST)
    return message


def at(case: dict[str, Any]) -> datetime:
    created = rfc9421.parse_signature_input(
        f"x={case['signature_base'].rsplit(': ', 1)[1]}"
    )["x"].created
    assert created is not None
    return datetime.fromtimestamp(created, UTC)


async def verify(message: Message, label: str, now: datetime) -> Any:
    if message.status is not None:
        return await rfc9421.verify_response(
            message.status, message.headers, message.body, lookup, label=label, now=now
        )
    return await rfc9421.verify(
        message.method,
        message.url,
        message.headers,
        message.body,
        lookup,
        label=label,
        now=now,
        require_minimum_set=False,
    )


def ids(case: dict[str, Any]) -> str:
    return f"{case['section']}-{case['label']}"


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_signature_base_is_rebuilt_byte_for_byte(case: dict[str, Any]) -> None:
    message = case_message(case)
    base = rfc9421.signature_base(
        message.method or None,
        message.url or None,
        message.headers,
        label=case["label"],
        status=message.status,
    )
    assert base == (VECTORS / case["signature_base_file"]).read_bytes()


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_vector_verifies(case: dict[str, Any]) -> None:
    result = await verify(case_message(case), case["label"], at(case))
    assert isinstance(result, Verified), result
    assert result.key_id == case["keyid"]
    assert result.algorithm == case["alg"]
    assert result.label == case["label"]
    assert result.created == at(case)


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_vector_fails_with_one_signature_byte_changed(
    case: dict[str, Any],
) -> None:
    message = case_message(case)
    value = message.header("signature")
    prefix = f"{case['label']}=:"
    start = value.index(prefix) + len(prefix)
    raw = bytearray(base64.b64decode(value[start : value.index(":", start)]))
    raw[len(raw) // 2] ^= 0x01
    changed = base64.b64encode(raw).decode()
    end = value.index(":", start)
    message.replace("signature", value[:start] + changed + value[end:])
    result = await verify(message, case["label"], at(case))
    assert isinstance(result, Failure)
    assert result.code is FailureCode.BAD_SIGNATURE
    assert result.status == 401


def covered_fields(case: dict[str, Any]) -> list[str]:
    lines = case["signature_base"].split("\n")[:-1]
    names = [line.split('": ', 1)[0].split('"')[1] for line in lines]
    return [n for n in names if not n.startswith("@")]


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_vector_fails_with_one_covered_byte_changed(
    case: dict[str, Any],
) -> None:
    message = case_message(case)
    fields = covered_fields(case)
    if fields:
        name = fields[-1]
        value = message.header(name)
        message.replace(name, value[:-1] + chr(ord(value[-1]) ^ 1))
    else:
        # B.2.1 covers no component: change a covered parameter instead.
        value = message.header("signature-input")
        message.replace("signature-input", value.replace("b3k2", "b3k3"))
    result = await verify(message, case["label"], at(case))
    assert isinstance(result, Failure)
    assert result.status in (400, 401)


@needs_vectors
@pytest.mark.parametrize(
    "case", [c for c in CASES if "content-digest" in c["signature_base"]], ids=ids
)
async def test_vector_fails_with_body_changed(case: dict[str, Any]) -> None:
    message = case_message(case)
    message.body = message.body.replace(b"}", b" }")
    result = await verify(message, case["label"], at(case))
    assert isinstance(result, Failure)
    assert result.code is FailureCode.DIGEST_MISMATCH


DETERMINISTIC = [c for c in CASES if c["alg"] in ("ed25519", "rsa-v1_5-sha256")] + [
    c for c in CASES if c["alg"] == "hmac-sha256"
]


@needs_vectors
@pytest.mark.parametrize("case", DETERMINISTIC, ids=ids)
def test_deterministic_vector_re_signs_byte_for_byte(case: dict[str, Any]) -> None:
    base = (VECTORS / case["signature_base_file"]).read_bytes()
    signature = sign_bytes(case["alg"], private_key(case["keyid"]), base)
    assert base64.b64encode(signature).decode() == case["signature_b64"]


@needs_vectors
@pytest.mark.parametrize(
    "case", [c for c in CASES if c["section"] in ("B.2.5", "B.2.6")], ids=ids
)
def test_sign_reproduces_the_published_fields(case: dict[str, Any]) -> None:
    message = load_message(case["message"])
    parsed = rfc9421.parse_signature_input(case["signature_input_header"])
    signature_input = parsed[case["label"]]
    added = rfc9421.sign(
        message.method,
        message.url,
        message.headers,
        message.body,
        private_key(case["keyid"]),
        case["keyid"],
        components=[
            c.identifier if c.params else c.name for c in signature_input.components
        ],
        label=case["label"],
        created=signature_input.created,
        include_alg=False,
    )
    assert added == {
        "Signature-Input": case["signature_input_header"],
        "Signature": case["signature_header"],
    }


B4 = next((c for c in CASES if c["section"] == "B.4"), None)


@needs_vectors
@pytest.mark.parametrize("index", range(6))
async def test_transformed_messages(index: int) -> None:
    assert B4 is not None
    expected = B4["transformed_messages"][index]
    message = Message((VECTORS / expected["file"]).read_text())
    result = await verify(message, "transform", at(B4))
    assert isinstance(result, Verified) is expected["expected_valid"], result


@needs_vectors
async def test_first_signature_is_chosen_without_a_label() -> None:
    message = load_message("S4.3-proxy-final-request")
    # sig1 is first; it covered the client's @authority, not the proxy's.
    result = await rfc9421.verify(
        message.method,
        message.url,
        message.headers,
        message.body,
        lookup,
        now=datetime.fromtimestamp(1618884480, UTC),
        require_minimum_set=False,
    )
    assert isinstance(result, Failure)
    assert result.code is FailureCode.BAD_SIGNATURE
    missing = await rfc9421.verify(
        message.method,
        message.url,
        message.headers,
        message.body,
        lookup,
        label="nope",
        require_minimum_set=False,
    )
    assert isinstance(missing, Failure)
    assert missing.status == 401


@needs_vectors
async def test_printed_response_digest_is_refused() -> None:
    case = next(c for c in CASES if c["section"] == "B.2.4")
    message = case_message(case)
    message.replace(
        "content-digest", load_message("test-response").header("content-digest")
    )
    result = await verify(message, case["label"], at(case))
    assert isinstance(result, Failure)
    assert result.code is FailureCode.DIGEST_MISMATCH


# --- behaviour beyond the vectors ---------------------------------------------

ED_KEY = ed25519.Ed25519PrivateKey.generate()
URL = "https://bocage.example/inbox"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def ed_lookup(key_id: str) -> PublicKey | None:
    return ED_KEY.public_key() if key_id == "ed" else None


def signed(body: bytes = b'{"a": 1}', **options: Any) -> list[tuple[str, str]]:
    headers = [("Host", "bocage.example"), ("Content-Type", "application/json")]
    added = rfc9421.sign(
        "POST",
        URL,
        headers,
        body,
        ED_KEY,
        "ed",
        created=int(NOW.timestamp()),
        **options,
    )
    return headers + list(added.items())


async def test_minimum_set_is_enforced() -> None:
    headers = signed(components=("@method", "@target-uri"))
    result = await rfc9421.verify("POST", URL, headers, b'{"a": 1}', ed_lookup, now=NOW)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.MISSING_COMPONENT
    headers = signed()
    result = await rfc9421.verify("POST", URL, headers, b'{"a": 1}', ed_lookup, now=NOW)
    assert isinstance(result, Verified)
    assert result.covered == ('"@method"', '"@target-uri"', '"content-digest"')


async def test_alg_must_fit_the_key() -> None:
    headers = signed(algorithm="ed25519")
    text = dict(headers)["Signature-Input"].replace('"ed25519"', '"rsa-v1_5-sha256"')
    headers = [(k, text if k == "Signature-Input" else v) for k, v in headers]
    result = await rfc9421.verify("POST", URL, headers, b'{"a": 1}', ed_lookup, now=NOW)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.KEY_MISMATCH


async def test_expires_parameter() -> None:
    expires = int(NOW.timestamp()) + 60
    headers = signed(expires=expires)
    later = datetime.fromtimestamp(expires + 3601, UTC)
    result = await rfc9421.verify(
        "POST", URL, headers, b'{"a": 1}', ed_lookup, now=later
    )
    assert isinstance(result, Failure)
    assert result.code is FailureCode.EXPIRED


async def test_nonce_and_tag_are_reported() -> None:
    headers = signed(nonce="n-1", tag="bocage")
    result = await rfc9421.verify("POST", URL, headers, b'{"a": 1}', ed_lookup, now=NOW)
    assert isinstance(result, Verified)
    assert (result.nonce, result.tag) == ("n-1", "bocage")


async def test_signatures_already_present_are_kept() -> None:
    headers = signed(label="first")
    added = rfc9421.sign(
        "POST",
        URL,
        headers,
        b'{"a": 1}',
        ED_KEY,
        "ed",
        label="second",
        created=int(NOW.timestamp()),
    )
    merged = [(k, v) for k, v in headers if not k.startswith("Signature")]
    merged += list(added.items())
    assert list(rfc9421.parse_signatures(added["Signature"])) == ["first", "second"]
    for label in ("first", "second"):
        result = await rfc9421.verify(
            "POST", URL, merged, b'{"a": 1}', ed_lookup, now=NOW, label=label
        )
        assert isinstance(result, Verified), result


@pytest.mark.parametrize(
    ("component", "value"),
    [
        ("@scheme", "https"),
        ("@request-target", "/inbox?a=b%20c"),
        ("@query", "?a=b%20c"),
        ('"@query-param";name="a"', "b%20c"),
        ("@authority", "bocage.example:8443"),
        ('"content-digest";key="sha-256"', ":"),
        ('"content-digest";sf', "sha-256=:"),
        ('"content-type";bs', ":YXBwbGljYXRpb24vanNvbg==:"),
    ],
)
def test_derived_components_and_parameters(component: str, value: str) -> None:
    url = "https://Bocage.example:8443/inbox?a=b%20c"
    headers = [("Content-Type", "application/json")]
    added = rfc9421.sign(
        "POST",
        url,
        headers,
        b"x",
        ED_KEY,
        "ed",
        components=("content-digest", component),
    )
    base = rfc9421.signature_base("POST", url, headers + list(added.items()))
    line = base.split(b"\n")[1].decode()
    identifier = component if component.startswith('"') else f'"{component}"'
    assert line.startswith(f"{identifier}: {value}")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("var", "this%20is%20a%20big%0Avalue"),
        ("bar", "with%20plus%20whitespace"),
        ("fa%C3%A7ade%22%3A%20", "something"),
    ],
)
def test_query_param_examples_of_section_2_2_8(name: str, value: str) -> None:
    url = (
        "https://example.com/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus"
        "+whitespace&fa%C3%A7ade%22%3A%20=something"
    )
    component = f'"@query-param";name="{name}"'
    added = rfc9421.sign("GET", url, [], b"", ED_KEY, "ed", components=(component,))
    base = rfc9421.signature_base("GET", url, added)
    assert base.split(b"\n")[0].decode() == f"{component}: {value}"


def test_repeated_parameter_goes_through_http_sfv() -> None:
    # The raw text would keep both; the canonical serialisation keeps the last.
    parsed = rfc9421.parse_signature_input('sig1=("a";x="1";x="2");created=1;created=2')
    assert parsed["sig1"].serialized == '("a";x="2");created=2'
    assert parsed["sig1"].components[0].identifier == '"a";x="2"'


def test_response_with_req_component() -> None:
    request = rfc9421.RelatedRequest("POST", URL, HeaderView([]))
    added = rfc9421.sign_response(
        503,
        [],
        b"",
        ED_KEY,
        "ed",
        components=("@status", '"@method";req'),
        request=request,
        created=1,
    )
    base = rfc9421.signature_base(None, None, added, status=503, request=request)
    assert base.startswith(b'"@status": 503\n"@method";req: POST\n')
    with pytest.raises(SignatureError):
        rfc9421.signature_base(None, None, added, status=503)


@pytest.mark.parametrize(
    "value",
    [
        'sig1=("@method");created=1;keyid="k"',
        'sig1=("@method" "@path";req);created=1;keyid="k", b=();alg="ed25519"',
        'sig1=("a)b" "c;d");keyid="k;x=(1)";created=-5',
        'sig1=("@query-param";name="x y")',
    ],
)
def test_fast_and_structured_parsers_agree(value: str) -> None:
    fast = rfc9421.parse_signature_input(value)
    assert rfc9421._members(value, rfc9421._FAST_INPUT) is not None
    slow = rfc9421._parse_signature_input_sf(value)
    assert fast == slow


@pytest.mark.parametrize(
    "value",
    [
        'sig1=( "@method" )',  # not canonical: the line is re-serialised
        'sig1=("@method");created=01',
        'sig1=("@method");created=1;flag=?1',
    ],
)
def test_non_canonical_input_is_re_serialised(value: str) -> None:
    assert rfc9421._members(value, rfc9421._FAST_INPUT) is None
    parsed = rfc9421.parse_signature_input(value)["sig1"]
    reparsed = rfc9421.parse_signature_input(f"sig1={parsed.serialized}")["sig1"]
    assert reparsed.serialized == parsed.serialized


@pytest.mark.parametrize(
    "value",
    ['sig1="x"', "sig1=(a)", 'sig1=("a");created="1"', 'sig1=("a");keyid=1', "("],
)
def test_bad_signature_input_is_refused(value: str) -> None:
    with pytest.raises(SignatureError):
        rfc9421.parse_signature_input(value)


# --- property tests -------------------------------------------------------------

SF_TEXT = st.text(alphabet=st.sampled_from('sig1=()";:@- ,abk*?0123456789AZ/+\\\t'))


@given(st.one_of(st.text(), SF_TEXT))
def test_signature_input_parser_raises_only_its_own_error(value: str) -> None:
    try:
        parsed = rfc9421.parse_signature_input(value)
    except SignatureError:
        return
    for member in parsed.values():
        assert isinstance(member.serialized, str)


@given(st.one_of(st.text(), SF_TEXT))
def test_signature_parser_raises_only_its_own_error(value: str) -> None:
    try:
        parsed = rfc9421.parse_signatures(value)
    except SignatureError:
        return
    assert all(isinstance(v, bytes) for v in parsed.values())


KEYS = st.from_regex(r"[a-z][a-z0-9_.-]{0,6}", fullmatch=True)
STRINGS = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126))
PARAMS = st.dictionaries(KEYS, st.integers(-999, 10**12) | STRINGS | st.just(True))


@given(
    st.dictionaries(
        KEYS,
        st.tuples(st.lists(st.tuples(STRINGS, PARAMS), max_size=4), PARAMS),
        min_size=1,
        max_size=3,
    )
)
def test_fast_path_matches_http_sfv(
    members: dict[str, tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]],
) -> None:
    field = Dictionary()
    for label, (items, params) in members.items():
        inner = InnerList()
        for name, item_params in items:
            item = Item(name)
            item.params.update(item_params)
            inner.append(item)
        inner.params.update(params)
        field[label] = inner
    value = str(field)
    try:
        slow = rfc9421._parse_signature_input_sf(value)
    except SignatureError:
        with pytest.raises(SignatureError):
            rfc9421.parse_signature_input(value)
        return
    assert rfc9421.parse_signature_input(value) == slow


@given(st.dictionaries(KEYS, st.binary(max_size=80), min_size=1, max_size=3))
def test_signature_fast_path_matches_http_sfv(members: dict[str, bytes]) -> None:
    field = Dictionary()
    for label, raw in members.items():
        field[label] = raw
    assert rfc9421.parse_signatures(str(field)) == members
