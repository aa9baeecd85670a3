"""The node's own key pairs: created by ``bocage init``, loaded at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from node.config import Config, ConfigError
from protocol import keys
from protocol.errors import ProtocolError


@dataclass(frozen=True, slots=True)
class NodeKeys:
    """The RSA key (for Mastodon's HTTP signatures) and the Ed25519 key (proofs)."""

    rsa: rsa.RSAPrivateKey
    ed25519: ed25519.Ed25519PrivateKey


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only, never world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def create_keys(config: Config) -> NodeKeys:
    """Generate both key pairs into the configured files (which must not exist)."""
    pair = NodeKeys(rsa=keys.generate_rsa(2048), ed25519=keys.generate_ed25519())
    for path, key in (
        (config.rsa_key_path, pair.rsa),
        (config.ed25519_key_path, pair.ed25519),
    ):
        _write_private(path, keys.private_key_to_pem(key))
    return pair


def load_keys(config: Config) -> NodeKeys:
    """Read both private keys; a wrong file is a configuration error, named."""
    loaded: dict[str, keys.PrivateKey] = {}
    for name, path, expected in (
        ("keys.rsa_private", config.rsa_key_path, rsa.RSAPrivateKey),
        ("keys.ed25519_private", config.ed25519_key_path, ed25519.Ed25519PrivateKey),
    ):
        try:
            key = keys.load_private_pem(path.read_bytes())
        except OSError as exc:
            raise ConfigError(name, f"cannot read {path}: {exc.strerror}") from None
        except ProtocolError as exc:
            raise ConfigError(name, f"{path} is not a private key: {exc}") from None
        if not isinstance(key, expected):
            raise ConfigError(
                name,
                f"{path} holds a {type(key).__name__}, expected {expected.__name__}",
            )
        loaded[name] = key
    rsa_key = loaded["keys.rsa_private"]
    ed_key = loaded["keys.ed25519_private"]
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert isinstance(ed_key, ed25519.Ed25519PrivateKey)
    return NodeKeys(rsa=rsa_key, ed25519=ed_key)
