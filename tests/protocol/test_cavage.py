"""draft-cavage-12: the Appendix C vectors, the parser, and Mastodon's rules."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from protocol import cavage
from protocol.digest import make_digest
from protocol.httpsig import (
    Failure,
    FailureCode,
    PinnedKey,
    PublicKey,
    SignatureError,
    Verified,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared/vectors/cavage-12"
MISSING = f"draft-cavage-12 vectors not found at {VECTORS}"
needs_vectors = pytest.mark.skipif(not VECTORS.is_dir(), reason=MISSING)

CASES: list[dict[str, Any]] = (
    json.loads((VECTORS / "vectors.json").read_text())["cases"]
    if VECTORS.is_dir()
    else []
)
# The date of the draft's example request.
THEN = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)
URL = "https://example.com/foo?param=value&pet=dog"


def request() -> tuple[list[tuple[str, str]], bytes]:
    head, _, body = (VECTORS / "request.http").read_text().partition("\n\n")
    lines = head.split("\n")[1:]
    return [(k, v) for k, v in (line.split(": ", 1) for line in lines)], body.strip(
        "\n"
    ).encode()


def vector_key() -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key((VECTORS / "test-key.pub.pem").read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


async def lookup(key_id: str) -> PublicKey | None:
    return vector_key() if key_id == "Test" else None


def signature_header(case: dict[str, Any]) -> str:
    value: str = case.get("signature_header_as_printed") or case[
        "authorization_header_as_printed"
    ].removeprefix("Signature ")
    # C.3 prints (created) (expires) in headers= that its signature does not
    # cover (vectors/README.md); use the list that was signed.
    printed = case.get("headers_param_as_printed")
    if printed is not None:
        value = value.replace(printed, case["headers_param"])
    return value


def with_header(
    headers: list[tuple[str, str]], name: str, value: str
) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]


def ids(case: dict[str, Any]) -> str:
    return str(case["section"])


async def verify(headers: list[tuple[str, str]], body: bytes, **options: Any) -> Any:
    return await cavage.verify(
        "POST",
        URL,
        headers,
        body,
        lookup,
        now=THEN,
        require_minimum_set=False,
        **options,
    )


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_signing_string_is_rebuilt_byte_for_byte(case: dict[str, Any]) -> None:
    headers, _ = request()
    params = cavage.parse_signature(signature_header(case))
    base = cavage.signing_string("POST", URL, headers, params.headers)
    assert base == (VECTORS / case["signing_string_file"]).read_bytes()


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("field", ["Signature", "Authorization"])
async def test_vector_verifies(case: dict[str, Any], field: str) -> None:
    headers, body = request()
    value = signature_header(case)
    if field == "Authorization":
        value = f"Signature {value}"
    result = await verify([*headers, (field, value)], body)
    assert isinstance(result, Verified), result
    assert (result.key_id, result.algorithm) == ("Test", "rsa-sha256")
    assert result.created == THEN


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_vector_fails_with_one_signature_byte_changed(
    case: dict[str, Any],
) -> None:
    headers, body = request()
    raw = bytearray(base64.b64decode(case["signature"]))
    raw[7] ^= 0x80
    value = signature_header(case).replace(
        case["signature"], base64.b64encode(raw).decode()
    )
    result = await verify([*headers, ("Signature", value)], body)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.BAD_SIGNATURE


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_vector_fails_with_one_covered_byte_changed(
    case: dict[str, Any],
) -> None:
    headers, body = request()
    # Every case covers Date; one second later is still inside the window.
    headers = with_header(headers, "Date", "Sun, 05 Jan 2014 21:31:41 GMT")
    result = await verify([*headers, ("Signature", signature_header(case))], body)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.BAD_SIGNATURE


@needs_vectors
async def test_vector_fails_with_body_changed() -> None:
    case = next(c for c in CASES if c["section"] == "C.3")
    headers, body = request()
    result = await verify(
        [*headers, ("Signature", signature_header(case))], body + b" "
    )
    assert isinstance(result, Failure)
    assert result.code is FailureCode.DIGEST_MISMATCH


@needs_vectors
async def test_printed_c3_header_is_refused() -> None:
    # The printed header puts (created) in headers= with rsa-sha256, which
    # draft-cavage-12 §2.3 forbids (and the signature does not cover it).
    case = next(c for c in CASES if c["section"] == "C.3")
    headers, body = request()
    value = case["authorization_header_as_printed"].removeprefix("Signature ")
    result = await verify([*headers, ("Signature", value)], body)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.INVALID_PARAMETERS


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_vector_re_signs_byte_for_byte(case: dict[str, Any]) -> None:
    key = serialization.load_pem_private_key(
        (VECTORS / "test-key.priv.pem").read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    headers, _ = request()
    covered = cavage.parse_signature(signature_header(case)).headers
    value = cavage.sign("POST", URL, headers, key, "Test", covered=covered)
    assert cavage.parse_signature(value).signature == base64.b64decode(
        case["signature"]
    )
    assert f'signature="{case["signature"]}"' in value


@needs_vectors
async def test_minimum_set_refuses_the_default_test() -> None:
    case = next(c for c in CASES if c["section"] == "C.1")
    headers, body = request()
    result = await cavage.verify(
        "POST",
        URL,
        [*headers, ("Signature", signature_header(case))],
        body,
        lookup,
        now=THEN,
    )
    assert isinstance(result, Failure)
    assert result.code is FailureCode.MISSING_COMPONENT


@needs_vectors
async def test_minimum_set_accepts_the_all_headers_test() -> None:
    case = next(c for c in CASES if c["section"] == "C.3")
    headers, body = request()
    result = await cavage.verify(
        "POST",
        URL,
        [*headers, ("Signature", signature_header(case))],
        body,
        lookup,
        now=THEN,
    )
    assert isinstance(result, Verified), result


# --- Mastodon's rules on our own signatures -----------------------------------

ED = ed25519.Ed25519PrivateKey.generate()
INBOX = "https://bocage.example/users/a/inbox?page=2"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DATE = "Fri, 02 Jan 2026 03:04:05 GMT"


async def ed_lookup(key_id: str) -> PublicKey | None:
    return ED.public_key() if key_id == "ed" else None


def ed_signed(
    covered: tuple[str, ...] = ("(request-target)", "host", "date", "digest"),
    url: str = INBOX,
    **options: Any,
) -> list[tuple[str, str]]:
    headers = [
        ("Host", "bocage.example"),
        ("Date", DATE),
        ("Digest", make_digest(b"{}")),
    ]
    value = cavage.sign("POST", url, headers, ED, "ed", covered=covered, **options)
    return [*headers, ("Signature", value)]


async def test_hs2019_with_ed25519() -> None:
    result = await cavage.verify("POST", INBOX, ed_signed(), b"{}", ed_lookup, now=NOW)
    assert isinstance(result, Verified)
    assert result.algorithm == "hs2019"


async def test_request_target_without_query_is_accepted() -> None:
    # Some peers sign the path alone; Mastodon tries both.
    headers = ed_signed(url="https://bocage.example/users/a/inbox")
    result = await cavage.verify("POST", INBOX, headers, b"{}", ed_lookup, now=NOW)
    assert isinstance(result, Verified)


async def test_created_and_expires_with_hs2019() -> None:
    created = int(NOW.timestamp())
    covered = ("(request-target)", "host", "(created)", "(expires)", "digest")
    headers = ed_signed(covered, created=created, expires=created + 30)
    result = await cavage.verify("POST", INBOX, headers, b"{}", ed_lookup, now=NOW)
    assert isinstance(result, Verified), result
    later = NOW + timedelta(seconds=30 + 3601)
    result = await cavage.verify("POST", INBOX, headers, b"{}", ed_lookup, now=later)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.EXPIRED


@pytest.mark.parametrize(
    ("covered", "method"),
    [
        (("(request-target)", "host", "date"), "POST"),  # no digest on POST
        (("host", "digest"), "POST"),  # no date
        (("date", "host"), "POST"),  # no target, no digest
        (("(request-target)", "date"), "GET"),  # no host on GET
    ],
)
async def test_minimum_set(covered: tuple[str, ...], method: str) -> None:
    headers = ed_signed(covered)
    body = b"{}" if method == "POST" else b""
    result = await cavage.verify(method, INBOX, headers, body, ed_lookup, now=NOW)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.MISSING_COMPONENT


async def test_rsa_sha256_refuses_an_ed25519_key() -> None:
    headers = ed_signed()
    value = dict(headers)["Signature"].replace("hs2019", "rsa-sha256")
    headers = with_header(headers, "Signature", value)
    result = await cavage.verify("POST", INBOX, headers, b"{}", ed_lookup, now=NOW)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.KEY_MISMATCH


async def test_unknown_algorithm() -> None:
    value = dict(ed_signed())["Signature"].replace("hs2019", "rsa-sha1")
    headers = with_header(ed_signed(), "Signature", value)
    result = await cavage.verify("POST", INBOX, headers, b"{}", ed_lookup, now=NOW)
    assert isinstance(result, Failure)
    assert result.code is FailureCode.UNSUPPORTED_ALGORITHM


async def test_lower_case_digest_name_is_accepted() -> None:
    headers = ed_signed()
    digest = dict(headers)["Digest"].replace("SHA-256", "sha-256")
    headers = with_header(headers, "Digest", digest)
    # The digest header is covered, so re-sign after changing its case.
    value = cavage.sign(
        "POST",
        INBOX,
        headers,
        ED,
        "ed",
        covered=("(request-target)", "host", "date", "digest"),
    )
    headers = with_header(headers, "Signature", value)
    result = await cavage.verify("POST", INBOX, headers, b"{}", ed_lookup, now=NOW)
    assert isinstance(result, Verified), result


@pytest.mark.parametrize(
    "value",
    [
        'keyId="a",signature="AAAA"',
        'keyId="a", algorithm="hs2019" ,signature="AAAA"',
        'keyId="a\\"b",signature="AAAA",created=1,expires=2.5',
        'KEYID="a",SIGNATURE="AAAA",unknown=token',
    ],
)
def test_parser_accepts(value: str) -> None:
    params = cavage.parse_signature(value)
    assert params.signature == b"\0\0\0"
    assert params.headers == ("date",)


@pytest.mark.parametrize(
    "value",
    [
        "",
        'keyId="a"',
        'signature="AAAA"',
        'keyId="a",signature="AAA"',
        'keyId="a",signature="AAAA",',
        'keyId="a",keyId="b",signature="AAAA"',
        'keyId="a",signature="AAAA",created=x',
        'keyId="a",signature="AAAA",headers=""',
        'keyId="a" signature="AAAA"',
        'keyId="a,signature="AAAA"',
    ],
)
def test_parser_refuses(value: str) -> None:
    with pytest.raises(SignatureError):
        cavage.parse_signature(value)


@given(st.text())
def test_parser_raises_only_its_own_error(value: str) -> None:
    with contextlib.suppress(SignatureError):
        cavage.parse_signature(value)


PIECES = st.sampled_from(
    [
        'keyId="k"',
        'signature="AAAA"',
        "created=1",
        'headers="a b"',
        ",",
        " ",
        '"',
        "=",
        "\\",
        "algorithm=hs2019",
        "expires=1.5",
        "\t",
        "x",
    ]
)


@given(st.lists(PIECES, max_size=12).map("".join))
def test_parser_raises_only_its_own_error_near_valid_input(value: str) -> None:
    with contextlib.suppress(SignatureError):
        cavage.parse_signature(value)


@given(st.text(max_size=60), st.binary(max_size=40))
async def test_verify_never_raises(value: str, body: bytes) -> None:
    headers = [("Host", "h"), ("Date", DATE), ("Signature", value), ("Digest", value)]
    result = await cavage.verify("POST", INBOX, headers, body, ed_lookup, now=NOW)
    assert isinstance(result, Failure)


async def test_pinned_key_keeps_its_algorithm() -> None:
    async def pinned(key_id: str) -> PinnedKey:
        return PinnedKey(ED.public_key(), "ed25519")

    async def pinned_elsewhere(key_id: str) -> PinnedKey:
        return PinnedKey(vector_key(), "rsa-pss-sha512")

    result = await cavage.verify("POST", INBOX, ed_signed(), b"{}", pinned, now=NOW)
    assert isinstance(result, Verified)
    case = next(c for c in CASES if c["section"] == "C.3") if CASES else None
    if case is not None:
        headers, body = request()
        result = await cavage.verify(
            "POST",
            URL,
            [*headers, ("Signature", signature_header(case))],
            body,
            pinned_elsewhere,
            now=THEN,
        )
        assert isinstance(result, Failure)
        assert result.code is FailureCode.KEY_MISMATCH
