"""Enforcement's cost: one endpoint served with and without a contract, same run.

Run: ``.venv/bin/python bench/bench_enforcement.py`` (``--quick`` for a smoke
run).  One node on SQLite serves ``/catalogue/search``; the same requests are
timed with no offer covering it, then under a public offer (evaluation and
metering of anonymous calls), then under an agreement presented as a bearer
token.  Each round measures the three back to back; ratios are medians over rounds.
Figures are ratios to the unenforced rate (goal ≥ 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.app import create_app
from node.appkeys import NODE
from node.contracts import AGREED, PROVIDER
from node.server import start_site
from protocol.records import decode_dataset, decode_service
from storage.tables import agreements
from tests.conftest import free_port, make_config


async def measure(url: str, n: int, token: str | None, concurrency: int = 32) -> float:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    statuses: dict[int, int] = {}

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            queue.get_nowait()
            async with http.get(url, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    async with aiohttp.ClientSession() as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected answers {statuses}")
    return n / elapsed


async def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bocage-enforce-") as tmp:
        config = make_config(
            Path(tmp), f"sqlite+aiosqlite:///{tmp}/b.sqlite", port=free_port()
        )
        config.log.level = "WARNING"
        app = create_app(config)
        runner = await start_site(app, config)
        node = app[NODE]
        try:
            await node.catalogue.put(
                decode_dataset(
                    {"slug": "bus", "title": "Horaires bus", "description": "GTFS."}
                )
            )
            url = f"{config.origin}/catalogue/search?q=bus"
            offer = {
                "slug": "search",
                "title": "Search API",
                "description": "The catalogue query API under contract.",
                "endpoint_url": f"{config.origin}/catalogue/search",
                "offer": {
                    "permissions": [{"action": "read"}],
                    "quotas": [{"limit": 10_000_000, "period": "P1D"}],
                    "authentication": ["none", "agreement-token"],
                    "audience": "public",
                },
            }
            document, _ = await node.catalogue.put(decode_service(offer))

            # An agreement as negotiation would leave it, and its token.
            async def agree(conn: object) -> int:
                result = await conn.execute(  # type: ignore[attr-defined]
                    agreements.insert()
                    .values(
                        role=PROVIDER, state=AGREED, offer_id=document["id"],
                        provider=node.catalogue.actor,
                        consumer="http://peer.test/actors/node",
                        request_id="http://peer.test/activities/1",
                        policy=document["odrl:hasPolicy"],
                        created_at=time.time(), updated_at=time.time(),
                    )
                    .returning(agreements.c.seq)
                )  # fmt: skip
                return int(result.scalar_one())

            seq = await node.writer.submit(agree)
            token = await node.contracts.issue_token(seq)
            await measure(url, 200, None)  # warm up

            plain, public, tokened = [], [], []
            for _ in range(rounds):
                # The same endpoint with no offer known to the enforcer: the
                # middleware still looks, as it does for every request.
                node.contracts._offers = []
                plain.append(await measure(url, n, None))
                node.contracts.invalidate()
                public.append(await measure(url, n, None))
                tokened.append(await measure(url, n, token))
            await node.meter.flush()
        finally:
            await runner.cleanup()
    # Each round measures the three back to back: compare within a round,
    # then take the median over rounds (the machine is shared and noisy).
    public_ratio = statistics.median(p / b for p, b in zip(public, plain, strict=True))
    token_ratio = statistics.median(t / b for t, b in zip(tokened, plain, strict=True))
    print(f"{n} GET /catalogue/search per run, 32 in flight, {rounds} rounds")
    rows = (
        ("unenforced", plain, 1.0),
        ("public offer", public, public_ratio),
        ("agreement token", tokened, token_ratio),
    )
    for name, rates, ratio in rows:
        print(f"{name:16} median {statistics.median(rates):8,.0f}/s  ratio {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("-n", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(300 if args.quick else args.n, 1 if args.quick else 5))
