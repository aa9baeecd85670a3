"""Measure HTTP-signature sign and verify rates against the raw cryptography calls.

Run: ``.venv/bin/python bench/bench_signatures.py`` (about 15 s) or with
``--quick`` for a smoke run (about 2 s).  Each line gives our rate, the rate
of the bare ``cryptography`` call it wraps, and the ratio of the two times:
1.00 would mean no overhead at all.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from protocol import cavage, rfc9421
from protocol.httpsig import PublicKey, Scheme, sign_request, verify_request

URL = "https://b.example/users/bob/inbox"
KEY_ID = "https://a.example/users/alice#main-key"
BODY = (
    b'{"@context":"https://www.w3.org/ns/activitystreams","id":"https://a.example/'
    b'activities/1","type":"Follow","actor":"https://a.example/users/alice",'
    b'"object":"https://b.example/users/bob"}'
)
NOW = datetime.now(UTC)
BASE = b"x" * 400  # about the size of a signing string


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call``, timed for about ``seconds``."""
    count, started = 0, time.perf_counter()
    batch = 1
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(batch):
            call()
        count += batch
        batch = min(batch * 2, 256)
    return count / elapsed


async def async_rate(call: Callable[[], Awaitable[object]], seconds: float) -> float:
    """Awaits per second of ``call``, timed for about ``seconds``."""
    count, started = 0, time.perf_counter()
    batch = 1
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(batch):
            await call()
        count += batch
        batch = min(batch * 2, 256)
    return count / elapsed


def report(name: str, ours: float, raw: float) -> None:
    print(f"{name:<26} {ours:>10,.0f}/s   raw {raw:>10,.0f}/s   x{raw / ours:5.2f}")


async def main(seconds: float) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    publics: dict[str, PublicKey] = {}

    async def lookup(key_id: str) -> PublicKey | None:
        return publics.get(key_id)

    rsa_signature = rsa_key.sign(BASE, padding.PKCS1v15(), hashes.SHA256())
    ed_signature = ed_key.sign(BASE)
    rsa_public, ed_public = rsa_key.public_key(), ed_key.public_key()
    raw = {
        "rsa sign": rate(
            lambda: rsa_key.sign(BASE, padding.PKCS1v15(), hashes.SHA256()), seconds
        ),
        "rsa verify": rate(
            lambda: rsa_public.verify(
                rsa_signature, BASE, padding.PKCS1v15(), hashes.SHA256()
            ),
            seconds,
        ),
        "ed sign": rate(lambda: ed_key.sign(BASE), seconds),
        "ed verify": rate(lambda: ed_public.verify(ed_signature, BASE), seconds),
    }
    print(
        f"{'raw cryptography':<26} RSA-2048 sign {raw['rsa sign']:,.0f}/s, verify "
        f"{raw['rsa verify']:,.0f}/s; Ed25519 sign {raw['ed sign']:,.0f}/s, "
        f"verify {raw['ed verify']:,.0f}/s"
    )

    cases = [
        ("cavage rsa-sha256", Scheme.CAVAGE, rsa_key, "rsa"),
        ("rfc9421 rsa-v1_5-sha256", Scheme.RFC9421, rsa_key, "rsa"),
        ("rfc9421 ed25519", Scheme.RFC9421, ed_key, "ed"),
    ]
    for name, scheme, key, kind in cases:
        publics[KEY_ID] = key.public_key()
        headers = {"Content-Type": "application/activity+json"}

        sign = functools.partial(
            sign_request,
            "POST",
            URL,
            headers,
            BODY,
            key,
            KEY_ID,
            scheme=scheme,
            now=NOW,
        )
        signed = headers | sign()
        # An inbox sees a header list with the usual extra fields.
        received = [
            ("Accept-Encoding", "gzip"),
            ("User-Agent", "Mastodon/4.5.0 (+https://a.example/)"),
            ("Content-Length", str(len(BODY))),
            *signed.items(),
        ]
        first = await verify_request("POST", URL, received, BODY, lookup, now=NOW)
        assert first.ok, first
        verify = functools.partial(
            verify_request, "POST", URL, received, BODY, lookup, now=NOW
        )

        report(f"{name} sign", rate(sign, seconds), raw[f"{kind} sign"])
        report(
            f"{name} verify", await async_rate(verify, seconds), raw[f"{kind} verify"]
        )

    # The parsing alone, to see where the overhead goes.
    publics[KEY_ID] = rsa_key.public_key()
    signed = sign_request(
        "POST", URL, {}, BODY, rsa_key, KEY_ID, scheme=Scheme.RFC9421, now=NOW
    )
    parse_rate = rate(
        lambda: (
            rfc9421.parse_signature_input(signed["Signature-Input"]),
            rfc9421.parse_signatures(signed["Signature"]),
        ),
        seconds / 2,
    )
    cavage_value = sign_request("POST", URL, {}, BODY, rsa_key, KEY_ID, now=NOW)
    cavage_rate = rate(
        lambda: cavage.parse_signature(cavage_value["Signature"]), seconds / 2
    )
    print(f"{'parse rfc9421 fields':<26} {parse_rate:>10,.0f}/s")
    print(f"{'parse cavage Signature':<26} {cavage_rate:>10,.0f}/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~2 s smoke run")
    options = parser.parse_args()
    asyncio.run(main(0.12 if options.quick else 1.2))
