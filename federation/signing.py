"""Signing our outbound requests, with the scheme each peer host accepts."""

from __future__ import annotations

from collections.abc import Mapping

from federation.context import Federation
from federation.hosts import RFC9421_ED25519
from federation.http import Signer
from protocol.httpsig import Scheme, sign_request
from protocol.keys import PrivateKey

RFC, CAVAGE = Scheme.RFC9421, Scheme.CAVAGE


def signer_for(fed: Federation, username: str, scheme: str) -> Signer:
    """A signer for one of our actors, in one of :data:`federation.hosts.SCHEMES`."""
    key: PrivateKey
    if scheme == RFC9421_ED25519:
        key, key_id, http_scheme = fed.ed25519_key, fed.ed25519_key_id(username), RFC
    else:
        key, key_id, http_scheme = fed.rsa_key, fed.rsa_key_id(username), CAVAGE

    async def sign(
        method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]:
        return sign_request(
            method, url, dict(headers), body, key, key_id, scheme=http_scheme
        )

    return sign
