"""The front door: round trips over both schemes and key types, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from protocol import httpsig
from protocol.httpsig import (
    ClockWindow,
    Failure,
    FailureCode,
    HeaderView,
    PrivateKey,
    PublicKey,
    Scheme,
    SignatureError,
    Verified,
    sign_request,
    verify_request,
)

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED = ed25519.Ed25519PrivateKey.generate()
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS: dict[str, PrivateKey] = {
    "https://a.example/users/alice#main-key": RSA,
    "https://a.example/users/alice#ed25519-key": ED,
}
PUBLIC: dict[str, PublicKey] = {
    key_id: key.public_key()
    for key_id, key in KEYS.items()  # type: ignore[union-attr]
}
URL = "https://b.example/users/bob/inbox"
BODY = b'{"type": "Follow"}'
NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)

SCHEMES = [Scheme.CAVAGE, Scheme.RFC9421]
KEY_IDS = list(KEYS)


async def lookup(key_id: str) -> PublicKey | None:
    return PUBLIC.get(key_id)


def signed(
    scheme: Scheme,
    key_id: str,
    method: str = "POST",
    body: bytes = BODY,
    url: str = URL,
    now: datetime = NOW,
) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"}
    added = sign_request(
        method, url, headers, body, KEYS[key_id], key_id, scheme=scheme, now=now
    )
    return headers | added


async def check(
    headers: Any, method: str = "POST", body: bytes = BODY, **options: Any
) -> httpsig.VerifyResult:
    options.setdefault("now", NOW)
    return await verify_request(method, URL, headers, body, lookup, **options)


def refused(result: httpsig.VerifyResult, code: FailureCode, status: int = 401) -> None:
    assert isinstance(result, Failure), result
    assert (result.code, result.status) == (code, status), result


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("key_id", KEY_IDS)
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_round_trip(scheme: Scheme, key_id: str, method: str) -> None:
    body = BODY if method == "POST" else b""
    headers = signed(scheme, key_id, method, body)
    assert headers["Host"] == "b.example"
    assert ("Digest" in headers) == (scheme is Scheme.CAVAGE and method == "POST")
    assert ("Content-Digest" in headers) == (
        scheme is Scheme.RFC9421 and method == "POST"
    )
    result = await check(headers, method, body)
    assert isinstance(result, Verified), result
    assert result.scheme is scheme
    assert result.key_id == key_id
    assert result.created == NOW


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_header_containers(scheme: Scheme) -> None:
    headers = signed(scheme, KEY_IDS[0])
    multidict = CIMultiDict((k.upper(), v) for k, v in headers.items())
    pairs = [(k.lower(), v) for k, v in headers.items()]
    for container in (multidict, pairs, HeaderView(pairs)):
        assert isinstance(await check(container), Verified)


def test_outbound_rfc9421_covers_what_mastodon_requires() -> None:
    headers = signed(Scheme.RFC9421, KEY_IDS[0])
    assert headers["Signature-Input"] == (
        'sig1=("@method" "@target-uri" "content-digest");'
        f'created={int(NOW.timestamp())};keyid="{KEY_IDS[0]}";alg="rsa-v1_5-sha256"'
    )


def test_outbound_cavage_covers_what_mastodon_requires() -> None:
    headers = signed(Scheme.CAVAGE, KEY_IDS[0])
    assert 'algorithm="rsa-sha256"' in headers["Signature"]
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    assert headers["Date"] == "Thu, 03 Dec 2026 12:00:00 GMT"
    headers = signed(Scheme.CAVAGE, KEY_IDS[1], "GET", b"")
    assert 'algorithm="hs2019"' in headers["Signature"]
    assert 'headers="(request-target) host date"' in headers["Signature"]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("key_id", KEY_IDS)
async def test_stale_and_future(scheme: Scheme, key_id: str) -> None:
    # Mastodon's window: 5 minutes of life plus an hour of skew, either way.
    headers = signed(scheme, key_id)
    fine = NOW + timedelta(minutes=64)
    assert isinstance(await check(headers, now=fine), Verified)
    refused(await check(headers, now=NOW + timedelta(minutes=66)), FailureCode.STALE)
    early = NOW - timedelta(minutes=61)
    refused(await check(headers, now=early), FailureCode.FUTURE)
    assert isinstance(await check(headers, now=NOW - timedelta(minutes=59)), Verified)
    tight = await check(headers, now=NOW - timedelta(minutes=2), max_skew=timedelta(0))
    refused(tight, FailureCode.FUTURE)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("key_id", KEY_IDS)
async def test_body_changed(scheme: Scheme, key_id: str) -> None:
    headers = signed(scheme, key_id)
    refused(await check(headers, body=BODY + b" "), FailureCode.DIGEST_MISMATCH)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_digest_header_changed(scheme: Scheme) -> None:
    headers = signed(scheme, KEY_IDS[0])
    other = signed(scheme, KEY_IDS[0], body=b"{}")
    name = "Digest" if scheme is Scheme.CAVAGE else "Content-Digest"
    headers[name] = other[name]
    refused(await check(headers), FailureCode.DIGEST_MISMATCH)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_digest_header_missing(scheme: Scheme) -> None:
    headers = signed(scheme, KEY_IDS[1])
    del headers["Digest" if scheme is Scheme.CAVAGE else "Content-Digest"]
    refused(await check(headers), FailureCode.MISSING_COMPONENT)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_digest_not_signed_on_post(scheme: Scheme) -> None:
    # A POST signed like a GET: Mastodon requires the digest to be covered.
    headers = signed(scheme, KEY_IDS[0], "GET", b"")
    refused(await check(headers, "POST", b""), FailureCode.MISSING_COMPONENT)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("key_id", KEY_IDS)
async def test_unknown_key(scheme: Scheme, key_id: str) -> None:
    async def nobody(key_id: str) -> PublicKey | None:
        return None

    headers = signed(scheme, key_id)
    result = await verify_request("POST", URL, headers, BODY, nobody, now=NOW)
    refused(result, FailureCode.UNKNOWN_KEY)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(
    ("key_id", "wrong", "code"),
    [
        (KEY_IDS[0], OTHER_RSA.public_key(), FailureCode.BAD_SIGNATURE),
        (KEY_IDS[0], ED.public_key(), FailureCode.KEY_MISMATCH),
        (KEY_IDS[1], RSA.public_key(), None),
        (KEY_IDS[1], b"secret", FailureCode.KEY_MISMATCH),
    ],
)
async def test_wrong_key(
    scheme: Scheme, key_id: str, wrong: PublicKey, code: FailureCode | None
) -> None:
    async def impostor(key_id: str) -> PublicKey | None:
        return wrong

    headers = signed(scheme, key_id)
    result = await verify_request("POST", URL, headers, BODY, impostor, now=NOW)
    assert isinstance(result, Failure)
    assert result.status == 401
    if code is not None:
        assert result.code is code


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Signature", 'keyId="k"'),
        ("Signature", "garbage"),
        ("Authorization", "Signature nonsense"),
        ("Signature-Input", "sig1=nonsense"),
        ("Signature-Input", 'sig1=("@method");created="x"'),
    ],
)
async def test_malformed_header_is_400(name: str, value: str) -> None:
    headers = {"Host": "b.example", name: value, "Signature": "sig1=:AAAA:"} | {
        name: value
    }
    refused(await check(headers), FailureCode.MALFORMED, 400)


async def test_malformed_date_is_400() -> None:
    headers = signed(Scheme.CAVAGE, KEY_IDS[0])
    headers["Date"] = "yesterday"
    refused(await check(headers), FailureCode.MALFORMED, 400)


async def test_unsigned() -> None:
    refused(await check({"Host": "b.example"}), FailureCode.UNSIGNED)
    refused(await check({"Authorization": "Bearer x"}), FailureCode.UNSIGNED)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_other_target_is_refused(scheme: Scheme) -> None:
    headers = signed(scheme, KEY_IDS[0], url="https://b.example/users/carol/inbox")
    refused(await check(headers), FailureCode.BAD_SIGNATURE)


async def test_lookup_errors_propagate() -> None:
    class Down(Exception):
        pass

    async def broken(key_id: str) -> PublicKey | None:
        raise Down

    headers = signed(Scheme.RFC9421, KEY_IDS[0])
    with pytest.raises(Down):
        await verify_request("POST", URL, headers, BODY, broken, now=NOW)


def test_signing_needs_a_usable_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SignatureError):
        sign_request("GET", URL, {}, b"", key, "k", scheme=Scheme.CAVAGE)
    with pytest.raises(SignatureError):
        sign_request("GET", "/relative", {}, b"", RSA, "k")


def test_ecdsa_signs_for_rfc9421() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    headers = sign_request("GET", URL, {}, b"", key, "k", scheme="rfc9421")
    assert 'alg="ecdsa-p256-sha256"' in headers["Signature-Input"]


@pytest.mark.parametrize(
    ("created", "expires", "now", "code"),
    [
        (1000, None, 1000 + 300 + 3600, None),
        (1000, None, 1000 + 300 + 3601, FailureCode.STALE),
        (1000, None, 1000 - 3601, FailureCode.FUTURE),
        (1000, 2000, 2000 + 3601, FailureCode.EXPIRED),
        (1000, 10**9, 1000 + 12 * 3600 + 3601, FailureCode.EXPIRED),
        (None, 2000, 2000 + 3600, None),
        (None, None, 10**12, None),
    ],
)
def test_clock_window(
    created: int | None, expires: int | None, now: int, code: FailureCode | None
) -> None:
    failure = ClockWindow().check(created, expires, now)
    assert (failure.code if failure else None) is code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),
        ("Sun Nov  6 08:49:37 1994", 784111777.0),
        ("Sun, 31 Feb 1994 08:49:37 GMT", None),
        ("Sun, 06 Nov 1994 08:49:37 +0100", 784111777.0 - 3600),
        ("", None),
    ],
)
def test_parse_http_date(value: str, expected: float | None) -> None:
    assert httpsig.parse_http_date(value) == expected


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "Signature",
                "Signature-Input",
                "Authorization",
                "Digest",
                "Content-Digest",
                "Date",
                "Host",
            ]
        ),
        st.text(max_size=80),
    ),
    st.binary(max_size=40),
    st.sampled_from(["GET", "POST"]),
)
async def test_verify_request_never_raises(
    headers: dict[str, str], body: bytes, method: str
) -> None:
    result = await check(headers, method, body)
    assert isinstance(result, Failure)
    assert result.status in (400, 401)
