"""Digest (RFC 3230) and Content-Digest (RFC 9530) headers."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.digest import (
    DigestError,
    check_content_digest,
    check_digest,
    make_content_digest,
    make_digest,
    parse_content_digest,
    parse_digest,
)

BODY = b'{"hello": "world"}'
# draft-cavage-12 Appendix C and RFC 9421 B.1's request body.
CAVAGE_DIGEST = "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
RFC9421_DIGEST = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNy"
    "ealdVLvRwEmTHWXvJwew==:"
)


def test_published_values() -> None:
    assert make_digest(BODY) == CAVAGE_DIGEST
    assert make_content_digest(BODY, "sha-512") == RFC9421_DIGEST
    assert check_digest(CAVAGE_DIGEST, BODY)
    assert check_content_digest(RFC9421_DIGEST, BODY)


@pytest.mark.parametrize("name", ["SHA-256", "sha-256", "Sha-256", "SHA-512"])
def test_digest_algorithm_names_are_case_insensitive(name: str) -> None:
    size = 32 if name.endswith("256") else 64
    raw = hashlib.sha256(BODY) if size == 32 else hashlib.sha512(BODY)
    value = f"{name}={base64.b64encode(raw.digest()).decode()}"
    assert check_digest(value, BODY)
    assert not check_digest(value, BODY + b"\n")


def test_every_supported_digest_must_match() -> None:
    wrong = make_digest(b"other", "SHA-512")
    assert not check_digest(f"{CAVAGE_DIGEST}, {wrong}", BODY)
    assert check_digest(f"{CAVAGE_DIGEST}, {make_digest(BODY, 'SHA-512')}", BODY)
    assert check_digest(f"MD5=AAAA,{CAVAGE_DIGEST}", BODY)


def test_unsupported_only() -> None:
    with pytest.raises(DigestError) as caught:
        check_digest("MD5=rL0Y20zC+Fzt72VPzMSk2A==", BODY)
    assert not caught.value.malformed
    with pytest.raises(DigestError) as caught:
        check_content_digest("md5=:rL0Y20zC+Fzt72VPzMSk2A==:", BODY)
    assert not caught.value.malformed


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SHA-256",
        "SHA-256=!!",
        "SHA-256=AAAA",
        "SHA-256=X48E, SHA-256=X48E",
        f"{CAVAGE_DIGEST},",
        "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE",
    ],
)
def test_malformed_digest(value: str) -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest(value)
    assert caught.value.malformed


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha-256",
        "sha-256=abc",
        "sha-256=:AAAA:",
        "sha-256=:!:",
        "SHA-256=:AA==:",
        "sha-256=(:AA==:)",
        "sha-256=:é:",
    ],
)
def test_malformed_content_digest(value: str) -> None:
    with pytest.raises(DigestError):
        parse_content_digest(value)


def test_content_digest_with_two_members_and_parameters() -> None:
    value = f"{make_content_digest(BODY)}, {RFC9421_DIGEST};x=1"
    assert set(parse_content_digest(value)) == {"sha-256", "sha-512"}
    assert check_content_digest(value, BODY)
    assert not check_content_digest(value, b"")


@given(st.text())
def test_digest_parser_raises_only_its_own_error(value: str) -> None:
    with contextlib.suppress(DigestError):
        parse_digest(value)


@given(st.one_of(st.text(), st.text(alphabet='sha-256=:AZaz09+/,; ()\t"?*')))
def test_content_digest_parser_raises_only_its_own_error(value: str) -> None:
    with contextlib.suppress(DigestError):
        parse_content_digest(value)


@given(st.binary(), st.sampled_from(["sha-256", "sha-512"]))
def test_round_trip(body: bytes, algorithm: str) -> None:
    assert check_digest(make_digest(body, algorithm), body)
    assert check_content_digest(make_content_digest(body, algorithm), body)
    assert not check_content_digest(make_content_digest(body + b"x", algorithm), body)
