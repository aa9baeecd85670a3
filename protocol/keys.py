"""Key pairs and their encodings: PEM, JWK and Multikey.

Bocage actors hold two keys (DESIGN.md, "Protocols"): an RSA key published as
``publicKey.publicKeyPem`` for Mastodon-style HTTP signatures, and an Ed25519 key
published as a FEP-521a ``Multikey`` for object integrity proofs and RFC 9421.

Keys are plain ``cryptography`` objects; this module only converts them.  Every
loader raises :class:`KeyFormatError` with a reason on bad input.  Loaders do not
judge key strength: call :func:`check_rsa_strength` on a peer's key before
trusting it for federation (test vectors use 1024-bit keys on purpose).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from protocol.errors import ProtocolError

__all__ = [
    "MIN_RSA_BITS",
    "KeyFormatError",
    "PrivateKey",
    "PublicKey",
    "WeakKeyError",
    "base58btc_decode",
    "base58btc_encode",
    "check_rsa_strength",
    "generate_ed25519",
    "generate_rsa",
    "load_private_pem",
    "load_public_pem",
    "multibase_decode",
    "multibase_encode",
    "private_key_from_jwk",
    "private_key_from_multibase",
    "private_key_to_jwk",
    "private_key_to_multibase",
    "private_key_to_pem",
    "public_key_from_jwk",
    "public_key_from_multibase",
    "public_key_of",
    "public_key_to_jwk",
    "public_key_to_multibase",
    "public_key_to_pem",
]

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

#: Smallest RSA modulus accepted from a peer (INTEROP.md, "Actors": RSA >= 2048).
MIN_RSA_BITS: Final = 2048

# Bounds on what we are willing to parse, so a hostile document cannot make us
# spend quadratic time in base58 or build a giant modulus.
_MAX_RSA_BITS: Final = 16384
_MAX_MULTIBASE_CHARS: Final = 4096
_MAX_PEM_CHARS: Final = 16384

# Multicodec table entries (github.com/multiformats/multicodec, table.csv),
# written as their unsigned-varint encodings.
_ED25519_PUB: Final = b"\xed\x01"  # ed25519-pub 0xed
_RSA_PUB: Final = b"\x85\x24"  # rsa-pub 0x1205 (FEP-521a test vector)
_ED25519_PRIV: Final = b"\x80\x26"  # ed25519-priv 0x1300

_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final = {c: i for i, c in enumerate(_B58_ALPHABET)}


class KeyFormatError(ProtocolError):
    """A key could not be read or written in the requested format."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WeakKeyError(KeyFormatError):
    """A well-formed key that is too weak to trust (e.g. RSA under 2048 bits)."""


# --- generation ------------------------------------------------------------


def generate_rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    """Generate an RSA private key with public exponent 65537."""
    if bits < MIN_RSA_BITS:
        raise WeakKeyError(f"refusing to generate an RSA key of {bits} bits")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ed25519() -> ed25519.Ed25519PrivateKey:
    """Generate an Ed25519 private key."""
    return ed25519.Ed25519PrivateKey.generate()


def public_key_of(key: PrivateKey) -> PublicKey:
    """Return the public half of a private key."""
    return key.public_key()


def check_rsa_strength(key: PublicKey, min_bits: int = MIN_RSA_BITS) -> None:
    """Raise :class:`WeakKeyError` if ``key`` is an RSA key under ``min_bits``.

    Ed25519 keys always pass.  Call this on a peer's key before using it to
    verify federated traffic; the loaders in this module deliberately do not.
    """
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < min_bits:
        raise WeakKeyError(
            f"RSA key has {key.key_size} bits, at least {min_bits} are required"
        )


def _check_supported_private(key: object) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise KeyFormatError(f"unsupported private key type {type(key).__name__}")


def _check_supported_public(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size > _MAX_RSA_BITS:
            raise KeyFormatError(f"RSA key of {key.key_size} bits is too large")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise KeyFormatError(f"unsupported public key type {type(key).__name__}")


# --- PEM -------------------------------------------------------------------


def private_key_to_pem(key: PrivateKey) -> bytes:
    """Encode a private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def load_private_pem(data: bytes | str) -> PrivateKey:
    """Load an unencrypted RSA or Ed25519 private key from PEM.

    Accepts PKCS#8 (``PRIVATE KEY``) and, for RSA, PKCS#1 (``RSA PRIVATE KEY``).
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("not an unencrypted PEM private key") from exc
    return _check_supported_private(key)


def public_key_to_pem(pub: PublicKey) -> str:
    """Encode a public key as SubjectPublicKeyInfo PEM (``BEGIN PUBLIC KEY``)."""
    return pub.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


def load_public_pem(text: str | bytes) -> PublicKey:
    """Load an RSA or Ed25519 public key from PEM.

    Accepts SubjectPublicKeyInfo (``PUBLIC KEY``) and PKCS#1 (``RSA PUBLIC KEY``),
    which a few servers publish in ``publicKeyPem``.  Does not check strength.
    """
    if len(text) > _MAX_PEM_CHARS:
        raise KeyFormatError("PEM public key is too long")
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("not a PEM public key") from exc
    return _check_supported_public(key)


# --- JWK (RFC 7517, RFC 7518 section 6.3, RFC 8037) ------------------------


def _b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64u_decode(value: object, member: str) -> bytes:
    # RFC 7515 section 2: base64url without padding.
    if not isinstance(value, str) or not value:
        raise KeyFormatError(f"JWK member {member!r} must be a non-empty string")
    if len(value) > _MAX_RSA_BITS // 4:
        raise KeyFormatError(f"JWK member {member!r} is too long")
    if not value.isascii() or "=" in value or len(value) % 4 == 1:
        raise KeyFormatError(f"JWK member {member!r} is not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"JWK member {member!r} is not base64url") from exc


def _uint_to_b64u(n: int) -> str:
    # RFC 7518 section 6.3.1.1: big-endian, minimal length (zero is one octet).
    return _b64u_encode(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))


def _b64u_to_uint(value: object, member: str) -> int:
    return int.from_bytes(_b64u_decode(value, member), "big")


def public_key_to_jwk(pub: PublicKey, kid: str | None = None) -> dict[str, str]:
    """Encode a public key as a JWK (``RSA`` with n/e, or ``OKP``/``Ed25519``)."""
    jwk: dict[str, str]
    if isinstance(pub, rsa.RSAPublicKey):
        numbers = pub.public_numbers()
        jwk = {
            "kty": "RSA",
            "n": _uint_to_b64u(numbers.n),
            "e": _uint_to_b64u(numbers.e),
        }
    else:
        raw = pub.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64u_encode(raw)}
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def private_key_to_jwk(key: PrivateKey, kid: str | None = None) -> dict[str, str]:
    """Encode a private key as a JWK, with the CRT parameters for RSA."""
    jwk = public_key_to_jwk(key.public_key(), kid)
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        jwk.update(
            d=_uint_to_b64u(numbers.d),
            p=_uint_to_b64u(numbers.p),
            q=_uint_to_b64u(numbers.q),
            dp=_uint_to_b64u(numbers.dmp1),
            dq=_uint_to_b64u(numbers.dmq1),
            qi=_uint_to_b64u(numbers.iqmp),
        )
    else:
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        jwk["d"] = _b64u_encode(raw)
    return jwk


def _rsa_public_numbers(jwk: Mapping[str, object]) -> rsa.RSAPublicNumbers:
    n = _b64u_to_uint(jwk.get("n"), "n")
    e = _b64u_to_uint(jwk.get("e"), "e")
    if n.bit_length() > _MAX_RSA_BITS:
        raise KeyFormatError("RSA modulus is too large")
    return rsa.RSAPublicNumbers(e, n)


def _okp_public(jwk: Mapping[str, object]) -> ed25519.Ed25519PublicKey:
    if jwk.get("crv") != "Ed25519":
        raise KeyFormatError("only the Ed25519 curve is supported for OKP keys")
    x = _b64u_decode(jwk.get("x"), "x")
    if len(x) != 32:
        raise KeyFormatError("Ed25519 'x' must be 32 bytes")
    return ed25519.Ed25519PublicKey.from_public_bytes(x)


def _require_mapping(jwk: object) -> Mapping[str, object]:
    if not isinstance(jwk, Mapping):
        raise KeyFormatError("a JWK must be a JSON object")
    return jwk


def public_key_from_jwk(jwk: object) -> PublicKey:
    """Load a public key from a JWK; private members, if any, are ignored."""
    jwk = _require_mapping(jwk)
    kty = jwk.get("kty")
    if kty == "RSA":
        try:
            return _check_supported_public(_rsa_public_numbers(jwk).public_key())
        except ValueError as exc:
            raise KeyFormatError("invalid RSA public key parameters") from exc
    if kty == "OKP":
        return _okp_public(jwk)
    raise KeyFormatError(f"unsupported JWK kty {kty!r}")


def private_key_from_jwk(jwk: object) -> PrivateKey:
    """Load a private key from a JWK.

    For RSA, the CRT members (p, q, dp, dq, qi) are used when all are present;
    otherwise the primes are recovered from n, e and d (RFC 7518 section 6.3.2).
    For Ed25519, ``d`` must match ``x``.
    """
    jwk = _require_mapping(jwk)
    kty = jwk.get("kty")
    if kty == "OKP":
        public = _okp_public(jwk)
        d = _b64u_decode(jwk.get("d"), "d")
        if len(d) != 32:
            raise KeyFormatError("Ed25519 'd' must be 32 bytes")
        key = ed25519.Ed25519PrivateKey.from_private_bytes(d)
        if key.public_key() != public:
            raise KeyFormatError("Ed25519 'd' does not match 'x'")
        return key
    if kty != "RSA":
        raise KeyFormatError(f"unsupported JWK kty {kty!r}")

    pub = _rsa_public_numbers(jwk)
    d_int = _b64u_to_uint(jwk.get("d"), "d")
    crt = ("p", "q", "dp", "dq", "qi")
    try:
        if all(name in jwk for name in crt):
            p, q, dp, dq, qi = (_b64u_to_uint(jwk[name], name) for name in crt)
        else:
            p, q = rsa.rsa_recover_prime_factors(pub.n, pub.e, d_int)
            dp, dq, qi = (
                rsa.rsa_crt_dmp1(d_int, p),
                rsa.rsa_crt_dmq1(d_int, q),
                rsa.rsa_crt_iqmp(p, q),
            )
        numbers = rsa.RSAPrivateNumbers(p, q, d_int, dp, dq, qi, pub)
        return numbers.private_key()
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("invalid RSA private key parameters") from exc


# --- base58btc and multibase ----------------------------------------------


def base58btc_encode(data: bytes) -> str:
    """Encode bytes in the Bitcoin base58 alphabet, keeping leading zero bytes."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    n = int.from_bytes(data, "big")
    digits: list[str] = []
    while n:
        n, rem = divmod(n, 58)
        digits.append(_B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """Decode Bitcoin base58; each leading ``1`` is one leading zero byte."""
    if len(text) > _MAX_MULTIBASE_CHARS:
        raise KeyFormatError("base58 value is too long")
    n = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise KeyFormatError(f"invalid base58btc character {char!r}")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * zeros + body


def multibase_encode(data: bytes) -> str:
    """Encode bytes as multibase base58btc (prefix ``z``)."""
    return "z" + base58btc_encode(data)


def multibase_decode(text: object) -> bytes:
    """Decode a multibase base58btc string (the only base FEP-521a allows)."""
    if not isinstance(text, str):
        raise KeyFormatError("a multibase value must be a string")
    if not text.startswith("z"):
        raise KeyFormatError("multibase value is not base58btc (prefix 'z')")
    return base58btc_decode(text[1:])


def _split_multicodec(data: bytes) -> tuple[bytes, bytes]:
    # An unsigned varint: 7 bits per byte, high bit set on all but the last.
    # Multicodec codes fit in 9 bytes; we need at most 3.
    for i, byte in enumerate(data[:4]):
        if not byte & 0x80:
            if i > 0 and byte == 0:
                raise KeyFormatError("multicodec varint is not minimally encoded")
            return data[: i + 1], data[i + 1 :]
    raise KeyFormatError("missing or overlong multicodec prefix")


# --- Multikey (FEP-521a; W3C Controlled Identifiers 2.2.2) -----------------


def public_key_to_multibase(pub: PublicKey) -> str:
    """Encode a public key as a Multikey ``publicKeyMultibase`` value.

    Ed25519: ``0xed01`` + 32 raw bytes.  RSA: ``0x8524`` (rsa-pub) + the DER
    PKCS#1 ``RSAPublicKey``, as in FEP-521a's test vectors.
    """
    if isinstance(pub, rsa.RSAPublicKey):
        der = pub.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        return multibase_encode(_RSA_PUB + der)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return multibase_encode(_ED25519_PUB + raw)


def public_key_from_multibase(text: object) -> PublicKey:
    """Load a public key from a Multikey ``publicKeyMultibase`` value."""
    prefix, body = _split_multicodec(multibase_decode(text))
    if prefix == _ED25519_PUB:
        if len(body) != 32:
            raise KeyFormatError("Ed25519 Multikey must carry 32 key bytes")
        return ed25519.Ed25519PublicKey.from_public_bytes(body)
    if prefix == _RSA_PUB:
        try:
            key = serialization.load_der_public_key(body)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError("RSA Multikey is not DER PKCS#1") from exc
        key = _check_supported_public(key)
        # load_der_public_key also takes SubjectPublicKeyInfo and lax DER;
        # re-encoding pins the form FEP-521a names (PKCS#1 RSAPublicKey).
        if not isinstance(key, rsa.RSAPublicKey) or body != key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        ):
            raise KeyFormatError("RSA Multikey is not DER PKCS#1")
        return key
    raise KeyFormatError(f"unsupported multicodec key prefix {prefix.hex()}")


def private_key_to_multibase(key: ed25519.Ed25519PrivateKey) -> str:
    """Encode an Ed25519 private key as ``secretKeyMultibase`` (ed25519-priv)."""
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return multibase_encode(_ED25519_PRIV + raw)


def private_key_from_multibase(text: object) -> ed25519.Ed25519PrivateKey:
    """Load an Ed25519 private key from ``secretKeyMultibase`` (vc-di-eddsa 2.1.1)."""
    prefix, body = _split_multicodec(multibase_decode(text))
    if prefix != _ED25519_PRIV or len(body) != 32:
        raise KeyFormatError("not an Ed25519 secret Multikey")
    return ed25519.Ed25519PrivateKey.from_private_bytes(body)
