"""Measure the fan-out of one Create to 10,000 followers on 1,000 hosts.

Run: ``.venv/bin/python bench/bench_fanout.py`` (about 15 s) or with
``--quick`` (1,000 followers on 100 hosts, a few seconds).  Every host name
(``host0000.test``…) resolves to one local inbox sink, run in a process of its
own and answering 202 to anything.  The followers are written straight into the
node's SQLite database; one Create is published and the node's job runner sends
it until the queue is empty.  Shared inboxes make that one request per host.

The rate is reported as a ratio to the raw signing rate measured in the same
run: a delivery signs once, so the sign rate bounds the fan-out of one core.
A second Create to the same followers shows the warm case (each host's scheme
known, nothing written to the ``hosts`` table).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from node.services import Node, open_node  # noqa: E402
from protocol.httpsig import Scheme, sign_request  # noqa: E402
from tests.conftest import free_port, make_config  # noqa: E402
from tests.federation.sink import (  # noqa: E402
    add_followers,
    host_names,
    resolve_overrides,
)

BASE = b"x" * 400  # about the size of a signing string


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call``, timed for about ``seconds``."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(16):
            call()
        count += 16
    return count / elapsed


def sign_rates(seconds: float) -> tuple[float, float, float]:
    """Signs per second: raw RSA-2048 PKCS#1 v1.5 SHA-256, raw Ed25519, and
    a whole RFC 9421 Ed25519 ``sign_request`` as a delivery makes it."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_rate = rate(
        lambda: rsa_key.sign(BASE, padding.PKCS1v15(), hashes.SHA256()), seconds
    )
    ed_rate = rate(lambda: ed_key.sign(BASE), seconds)
    headers = {"Content-Type": "application/activity+json"}
    request_rate = rate(
        lambda: sign_request(
            "POST",
            "http://host0000.test:8000/inbox",
            headers,
            BASE,
            ed_key,
            "https://a.example/actors/node#ed25519-key",
            scheme=Scheme.RFC9421,
        ),
        seconds,
    )
    return rsa_rate, ed_rate, request_rate


def rss_mib() -> float:
    """This process's resident memory now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_sink() -> tuple[subprocess.Popen[str], int]:
    sink = subprocess.Popen(
        [sys.executable, "-m", "tests.federation.sink"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    line = sink.stdout.readline().split()
    if not line or line[0] != "ready":
        sink.kill()
        raise SystemExit("the inbox sink did not start")
    return sink, int(line[1])


async def sink_stats(http: aiohttp.ClientSession, port: int) -> dict[str, object]:
    async with http.get(f"http://127.0.0.1:{port}/_stats") as response:
        stats: dict[str, object] = await response.json()
    async with http.post(f"http://127.0.0.1:{port}/_reset"):
        pass
    return stats


async def fan_out(node: Node, label: str) -> tuple[float, float]:
    """Publish one Create and run the job runner until the queue is empty."""
    username = node.config.node.username
    started = time.perf_counter()
    await node.federation.outbox.create_note(username, f"<p>{label}</p>")
    published = time.perf_counter() - started
    runner = node.runner()
    while await runner.step():
        pass
    if runner.stats.retried or runner.stats.dead:
        print(f"  {label}: {runner.stats.retried} retried, {runner.stats.dead} dead")
    return published, time.perf_counter() - started


async def main(hosts: int, per_host: int, sign_seconds: float) -> None:
    rsa_rate, ed_rate, request_rate = sign_rates(sign_seconds)
    print(
        f"raw signs (same run)   RSA-2048 {rsa_rate:,.0f}/s   "
        f"Ed25519 {ed_rate:,.0f}/s   (RFC 9421 Ed25519 sign_request "
        f"{request_rate:,.0f}/s)"
    )

    names = host_names(hosts)
    sink, port = start_sink()
    try:
        with tempfile.TemporaryDirectory(prefix="bocage-fanout-") as tmp:
            folder = Path(tmp)
            config = make_config(
                folder,
                f"sqlite+aiosqlite:///{folder / 'bocage.sqlite'}",
                port=free_port(),
                extra_env={
                    "BOCAGE_FEDERATION_RESOLVE_OVERRIDES": resolve_overrides(names)
                },
            )
            async with open_node(config) as node, aiohttp.ClientSession() as http:
                actor = node.federation.fed.actor_iri(config.node.username)
                started = time.perf_counter()
                count = await add_followers(
                    node.db, actor, names, port=port, per_host=per_host
                )
                print(
                    f"followers inserted     {count:,} on {hosts:,} hosts in "
                    f"{time.perf_counter() - started:.2f}s"
                )
                worker = config.worker
                print(
                    f"job runner             concurrency {worker.concurrency}, "
                    f"batch {worker.batch_size}"
                )
                rss_before = rss_mib()
                for label in ("cold", "warm"):
                    published, seconds = await fan_out(node, label)
                    stats = await sink_stats(http, port)
                    sent = int(stats["total"])  # type: ignore[call-overload]
                    per_second = sent / seconds
                    print(
                        f"fan-out {label:<5}          {sent:,} requests to "
                        f"{stats['hosts']:,} hosts in {seconds:.2f}s "
                        f"(publish {published * 1000:.0f} ms) = {per_second:,.0f}/s"
                        f"; schemes {stats['by_scheme']}"
                    )
                    print(
                        f"  ratio to raw signs   {per_second / rsa_rate:.3f} of "
                        f"RSA, {per_second / ed_rate:.3f} of Ed25519"
                    )
                    if sent != hosts:
                        print(f"  WARNING: expected {hosts} requests, sent {sent}")
                print(
                    f"RSS                    {rss_before:.0f} MiB before the "
                    f"fan-outs, {rss_mib():.0f} MiB after; "
                    f"peak {peak_rss_mib():.0f} MiB"
                )
                # Traced separately: tracemalloc slows every allocation.
                tracemalloc.start()
                await fan_out(node, "traced")
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                await sink_stats(http, port)
                print(
                    f"fan-out heap peak      {peak / 2**20:.1f} MiB "
                    "(tracemalloc, a third warm fan-out)"
                )
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1,000 followers on 100 hosts"
    )
    parser.add_argument("--hosts", type=int, default=None)
    parser.add_argument("--per-host", type=int, default=10)
    options = parser.parse_args()
    hosts = options.hosts or (100 if options.quick else 1000)
    asyncio.run(main(hosts, options.per_host, 0.3 if options.quick else 1.0))
