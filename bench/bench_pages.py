"""What a page costs against the JSON document on the same IRI, same run.

Run: ``.venv/bin/python bench/bench_pages.py`` (``--quick`` for a smoke run).
One node on SQLite with the demo's records; each round fetches the same
addresses as ActivityStreams JSON and as HTML (French), back to back.  The
figure is the median over rounds of pages/s divided by JSON documents/s, per
address (the JSON side of /proposals/1 is a Question, of /datasets/… a signed
record, of /log a collection head).
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
from node.demo import publish_demo_records
from node.server import start_site
from tests.conftest import free_port, make_config

AS_JSON = {"Accept": "application/activity+json"}
HTML = {"Accept": "text/html", "Accept-Language": "fr"}
PATHS = ("/datasets/arceaux-velo", "/proposals/1", "/log", "/charter")


async def rate(
    url: str, headers: dict[str, str], n: int, concurrency: int = 16
) -> float:
    left = n

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with http.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise SystemExit(f"{url}: {response.status}")

    async with aiohttp.ClientSession() as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return n / (time.perf_counter() - start)


async def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bocage-pages-") as tmp:
        config = make_config(
            Path(tmp), f"sqlite+aiosqlite:///{tmp}/b.sqlite", port=free_port()
        )
        app = create_app(config)
        runner = await start_site(app, config)
        try:
            node = app[NODE]
            await publish_demo_records(node, "metropole")
            await node.charter.adopt("Charte", "Article 1.\n\nArticle 2.")
            await node.proposals.open("Une question", "Un texte.")
            for i in range(30):
                await node.decisions.append(
                    "membership.leave", f"https://x.example/u/{i}", {}
                )
            print(f"{'address':28} {'JSON/s':>8} {'page/s':>8} {'ratio':>6}  size")
            for path in PATHS:
                url = config.origin + path
                ratios, json_rates, page_rates = [], [], []
                for _ in range(rounds):
                    json_rate = await rate(url, AS_JSON, n)
                    page_rate = await rate(url, HTML, n)
                    json_rates.append(json_rate)
                    page_rates.append(page_rate)
                    ratios.append(page_rate / json_rate)
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(url, headers=HTML) as response,
                ):
                    size = len(await response.read())
                print(
                    f"{path:28} {statistics.median(json_rates):8.0f} "
                    f"{statistics.median(page_rates):8.0f} "
                    f"{statistics.median(ratios):6.2f}  {size / 1000:.1f} kB"
                )
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    asyncio.run(main(60 if args.quick else 600, 1 if args.quick else 5))
