"""Tests for protocol.keys: PEM, JWK and Multikey conversions, both ways."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from protocol import keys
from protocol.errors import ProtocolError
from protocol.keys import KeyFormatError, WeakKeyError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def vector_dir(name: str) -> Path:
    path = VECTORS / name
    if not path.is_dir():
        pytest.skip(
            f"test vectors not found at {path} (shared/ is laid beside the repo)"
        )
    return path


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return keys.generate_rsa()


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return keys.generate_ed25519()


def pub_bytes(pub: keys.PublicKey) -> bytes:
    return pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def priv_bytes(key: keys.PrivateKey) -> bytes:
    return keys.private_key_to_pem(key)


# --- generation and strength ----------------------------------------------


def test_generate_rsa_is_2048_bits(rsa_key: rsa.RSAPrivateKey) -> None:
    assert rsa_key.key_size == 2048
    keys.check_rsa_strength(rsa_key.public_key())


def test_generate_rsa_refuses_small_keys() -> None:
    with pytest.raises(WeakKeyError):
        keys.generate_rsa(1024)


def test_check_rsa_strength_refuses_1024_bit_vector_key() -> None:
    pem = (vector_dir("cavage-12") / "test-key.pub.pem").read_text()
    pub = keys.load_public_pem(pem)  # loading itself does not judge strength
    assert isinstance(pub, rsa.RSAPublicKey)
    assert pub.key_size == 1024
    with pytest.raises(WeakKeyError) as info:
        keys.check_rsa_strength(pub)
    assert "1024" in info.value.reason


def test_check_rsa_strength_passes_ed25519(ed_key: ed25519.Ed25519PrivateKey) -> None:
    keys.check_rsa_strength(ed_key.public_key())


# --- round trips -----------------------------------------------------------


@pytest.mark.parametrize("which", ["rsa", "ed25519"])
def test_round_trips(
    which: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    key: keys.PrivateKey = rsa_key if which == "rsa" else ed_key
    pub = keys.public_key_of(key)

    pem = keys.private_key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert priv_bytes(keys.load_private_pem(pem)) == pem
    assert priv_bytes(keys.load_private_pem(pem.decode())) == pem

    pub_pem = keys.public_key_to_pem(pub)
    assert pub_pem.startswith("-----BEGIN PUBLIC KEY-----")  # SPKI
    assert pub_bytes(keys.load_public_pem(pub_pem)) == pub_bytes(pub)

    jwk = keys.public_key_to_jwk(pub, kid="k1")
    assert jwk["kid"] == "k1"
    assert "d" not in jwk
    assert pub_bytes(keys.public_key_from_jwk(jwk)) == pub_bytes(pub)

    private_jwk = keys.private_key_to_jwk(key)
    assert priv_bytes(keys.private_key_from_jwk(private_jwk)) == pem
    # A private JWK also loads as its public key.
    assert pub_bytes(keys.public_key_from_jwk(private_jwk)) == pub_bytes(pub)

    multibase = keys.public_key_to_multibase(pub)
    assert multibase.startswith("z")
    assert pub_bytes(keys.public_key_from_multibase(multibase)) == pub_bytes(pub)


def test_rsa_jwk_members(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = keys.private_key_to_jwk(rsa_key)
    assert jwk["kty"] == "RSA"
    assert jwk["e"] == "AQAB"
    assert set(jwk) == {"kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"}
    assert all("=" not in v for v in jwk.values())


def test_rsa_private_jwk_without_crt_members(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = keys.private_key_to_jwk(rsa_key)
    minimal = {k: jwk[k] for k in ("kty", "n", "e", "d")}
    loaded = keys.private_key_from_jwk(minimal)
    assert priv_bytes(loaded) == priv_bytes(rsa_key)


def test_ed25519_secret_multibase_round_trip(ed_key: ed25519.Ed25519PrivateKey) -> None:
    text = keys.private_key_to_multibase(ed_key)
    assert priv_bytes(keys.private_key_from_multibase(text)) == priv_bytes(ed_key)


def test_pkcs1_rsa_pem_is_accepted() -> None:
    folder = vector_dir("rfc9421") / "keys"
    pub_pem = (folder / "test-key-rsa.pub.pem").read_text()
    assert "BEGIN RSA PUBLIC KEY" in pub_pem
    pub = keys.load_public_pem(pub_pem)
    priv = keys.load_private_pem((folder / "test-key-rsa.priv.pem").read_bytes())
    assert pub_bytes(priv.public_key()) == pub_bytes(pub)
    jwk = json.loads((folder / "test-key-rsa.jwk.json").read_text())
    assert pub_bytes(keys.public_key_from_jwk(jwk)) == pub_bytes(pub)
    assert priv_bytes(keys.private_key_from_jwk(jwk)) == priv_bytes(priv)


def test_rfc9421_ed25519_jwk_matches_pem() -> None:
    folder = vector_dir("rfc9421") / "keys"
    jwk = json.loads((folder / "test-key-ed25519.jwk.json").read_text())
    priv = keys.load_private_pem((folder / "test-key-ed25519.priv.pem").read_bytes())
    pub = keys.load_public_pem((folder / "test-key-ed25519.pub.pem").read_text())
    assert priv_bytes(keys.private_key_from_jwk(jwk)) == priv_bytes(priv)
    assert pub_bytes(keys.public_key_from_jwk(jwk)) == pub_bytes(pub)
    assert keys.public_key_to_jwk(pub) == {k: jwk[k] for k in ("kty", "crv", "x")}


def test_vc_di_eddsa_key_pair_forms() -> None:
    folder = vector_dir("vc-di-eddsa")
    pair = json.loads((folder / "keyPair.json").read_text())
    forms = json.loads((folder / "keyPair.derived-forms.json").read_text())
    secret = keys.private_key_from_multibase(pair["privateKeyMultibase"])
    public = keys.public_key_from_multibase(pair["publicKeyMultibase"])

    assert keys.private_key_to_multibase(secret) == pair["privateKeyMultibase"]
    assert (
        keys.public_key_to_multibase(secret.public_key()) == pair["publicKeyMultibase"]
    )
    assert keys.private_key_to_pem(secret).decode() == forms["private_pem_pkcs8"]
    assert keys.public_key_to_pem(public) == forms["public_pem"]
    assert keys.private_key_to_jwk(secret) == forms["jwk"]
    raw = public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert raw.hex() == forms["public_key_hex"]


# --- FEP-521a vectors -------------------------------------------------------


def fep_521a_cases() -> list[tuple[str, str, str]]:
    feature = (vector_dir("fep-521a") / "fep-521a.feature").read_text()
    hexes = re.findall(r'as a hex string "([0-9a-f]+)"', feature)
    multibases = re.findall(
        r'"publicKeyMultibase": "(z[1-9A-HJ-NP-Za-km-z]+)"', feature
    )
    assert len(hexes) == len(multibases) == 2
    return [("ed25519", hexes[0], multibases[0]), ("rsa", hexes[1], multibases[1])]


def load_vector_key(kind: str, hex_value: str) -> keys.PublicKey:
    data = bytes.fromhex(hex_value)
    if kind == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(data)
    pub = serialization.load_der_public_key(data)
    assert isinstance(pub, rsa.RSAPublicKey)
    return pub


@pytest.mark.parametrize("index", [0, 1], ids=["ed25519", "rsa"])
def test_fep_521a_vectors_both_directions(index: int) -> None:
    kind, hex_value, multibase = fep_521a_cases()[index]
    pub = load_vector_key(kind, hex_value)

    assert keys.public_key_to_multibase(pub) == multibase
    decoded = keys.public_key_from_multibase(multibase)
    assert pub_bytes(decoded) == pub_bytes(pub)
    if kind == "rsa":
        assert isinstance(decoded, rsa.RSAPublicKey)
        der = decoded.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        assert der.hex() == hex_value


@pytest.mark.parametrize("index", [0, 1], ids=["ed25519", "rsa"])
@pytest.mark.parametrize("position", [5, 20, -3])
def test_fep_521a_one_character_change_fails(index: int, position: int) -> None:
    kind, hex_value, multibase = fep_521a_cases()[index]
    pub = load_vector_key(kind, hex_value)
    chars = list(multibase)
    chars[position] = "2" if chars[position] != "2" else "3"
    tampered = "".join(chars)
    try:
        decoded = keys.public_key_from_multibase(tampered)
    except KeyFormatError:
        return
    assert pub_bytes(decoded) != pub_bytes(pub)


def test_fep_521a_one_byte_change_of_key_changes_encoding() -> None:
    _kind, hex_value, multibase = fep_521a_cases()[0]
    data = bytearray(bytes.fromhex(hex_value))
    data[0] ^= 1
    other = ed25519.Ed25519PublicKey.from_public_bytes(bytes(data))
    assert keys.public_key_to_multibase(other) != multibase


# --- refusals ---------------------------------------------------------------


def test_base58_keeps_leading_zeros() -> None:
    assert keys.base58btc_encode(b"\x00\x00\x01") == "112"
    assert keys.base58btc_decode("112") == b"\x00\x00\x01"
    assert keys.base58btc_encode(b"") == ""
    assert keys.base58btc_decode("") == b""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "base58btc"),
        ("m6MkhaXg", "base58btc"),  # base64 multibase
        ("z0OIl", "character"),
        ("z" + keys.base58btc_encode(b"\xed\x01" + b"\x00" * 31), "32"),
        ("z" + keys.base58btc_encode(b"\xec\x01" + b"\x00" * 32), "prefix"),
        ("z" + keys.base58btc_encode(b"\xff\xff\xff\xff\x01"), "prefix"),
        ("z" + keys.base58btc_encode(b"\x85\x24not der"), "PKCS#1"),
        ("z" + "2" * 5000, "too long"),
    ],
)
def test_multibase_refusals(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError) as info:
        keys.public_key_from_multibase(text)
    assert reason in info.value.reason


def test_rsa_multikey_with_spki_body_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    spki = pub_bytes(rsa_key.public_key())
    with pytest.raises(KeyFormatError):
        keys.public_key_from_multibase(keys.multibase_encode(b"\x85\x24" + spki))


def test_secret_multibase_refuses_public_key(ed_key: ed25519.Ed25519PrivateKey) -> None:
    with pytest.raises(KeyFormatError):
        keys.private_key_from_multibase(
            keys.public_key_to_multibase(ed_key.public_key())
        )


def test_pem_refusals() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="unsupported"):
        keys.load_private_pem(ec_pem)
    ec_pub = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError, match="unsupported"):
        keys.load_public_pem(ec_pub)
    with pytest.raises(KeyFormatError):
        keys.load_public_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )
    with pytest.raises(KeyFormatError):
        keys.load_private_pem(b"not a key")


@pytest.mark.parametrize(
    "jwk",
    [
        [],
        {},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "X25519", "x": "A" * 43},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43 + "="},
        {"kty": "OKP", "crv": "Ed25519", "x": 5},
        {"kty": "RSA", "n": "AQAB"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "n": "!!!!", "e": "AQAB"},
    ],
)
def test_public_jwk_refusals(jwk: Any) -> None:
    with pytest.raises(KeyFormatError):
        keys.public_key_from_jwk(jwk)


def test_private_jwk_refusals(
    rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    other = keys.generate_ed25519()
    mixed = keys.private_key_to_jwk(ed_key)
    mixed["x"] = keys.public_key_to_jwk(other.public_key())["x"]
    with pytest.raises(KeyFormatError, match="match"):
        keys.private_key_from_jwk(mixed)
    with pytest.raises(KeyFormatError):
        keys.private_key_from_jwk(keys.public_key_to_jwk(rsa_key.public_key()))
    broken = keys.private_key_to_jwk(rsa_key)
    broken["d"] = "AQAB"
    with pytest.raises(KeyFormatError):
        keys.private_key_from_jwk(broken)


# --- properties -------------------------------------------------------------


@given(st.binary(max_size=64))
def test_base58_round_trip(data: bytes) -> None:
    assert keys.base58btc_decode(keys.base58btc_encode(data)) == data


@given(st.one_of(st.text(max_size=80), JSON))
def test_multibase_parser_raises_only_key_errors(text: Any) -> None:
    with contextlib.suppress(KeyFormatError):
        keys.public_key_from_multibase(text)
    with contextlib.suppress(KeyFormatError):
        keys.private_key_from_multibase(text)


@given(st.binary(max_size=300))
def test_multikey_decoder_on_arbitrary_bytes(data: bytes) -> None:
    for prefix in (b"", b"\xed\x01", b"\x85\x24", b"\x80\x26"):
        with contextlib.suppress(KeyFormatError):
            keys.public_key_from_multibase(keys.multibase_encode(prefix + data))


JWK_MEMBER = st.one_of(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=",
        max_size=50,
    ),
    JSON,
)


@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {
                "kty": st.sampled_from(["RSA", "OKP", "EC", ""]),
                "crv": st.just("Ed25519"),
            },
            optional={
                m: JWK_MEMBER for m in ("n", "e", "d", "x", "p", "q", "dp", "dq", "qi")
            },
        ),
    )
)
def test_jwk_loaders_raise_only_key_errors(jwk: Any) -> None:
    with contextlib.suppress(KeyFormatError):
        keys.public_key_from_jwk(jwk)
    with contextlib.suppress(KeyFormatError):
        keys.private_key_from_jwk(jwk)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_pem_loaders_raise_only_key_errors(data: str | bytes) -> None:
    with contextlib.suppress(KeyFormatError):
        keys.load_public_pem(data)
    with contextlib.suppress(KeyFormatError):
        keys.load_private_pem(data)


def test_errors_are_protocol_errors() -> None:
    assert issubclass(KeyFormatError, ProtocolError)
    assert issubclass(WeakKeyError, KeyFormatError)
