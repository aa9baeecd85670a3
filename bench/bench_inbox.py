"""Measure inbox throughput of signed Creates against a bare aiohttp handler.

Run: ``.venv/bin/python bench/bench_inbox.py`` (5,000 requests per run, about
20 s) or ``--quick`` (300, under 10 s); ``-n N`` sets the count.  One Bocage
node (SQLite, a temporary directory, no in-process worker: the inbox only
verifies, stores and queues) and a bare handler that reads the body and
answers 202 listen in this process.  A client in another process, so that it
does not share this event loop, POSTs N pre-signed Creates with bounded
concurrency to each, in the order: bare, node (RSA, draft-cavage), bare,
node (Ed25519, RFC 9421), bare.  Each node rate is given as a ratio to the
mean of the bare runs just before and after it (a bare run's ratio is to the
mean of all three), and every activity is checked to be stored.

The remote actor's document comes from a small local server on ``remote.test``
(a resolve override to 127.0.0.1); the node fetches it once (a warm-up request
before the timed runs) and then has its keys in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from node.app import create_app  # noqa: E402
from node.appkeys import NODE  # noqa: E402
from node.server import start_site  # noqa: E402
from protocol.actors import (  # noqa: E402
    ActorSpec,
    build_actor,
    ed25519_key_id,
    rsa_key_id,
)
from protocol.httpsig import Scheme, sign_request  # noqa: E402
from protocol.keys import (  # noqa: E402
    generate_ed25519,
    generate_rsa,
    load_private_pem,
    private_key_to_pem,
)
from storage.tables import jobs  # noqa: E402
from tests.conftest import free_port, make_config  # noqa: E402

REMOTE_HOST = "remote.test"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CONTENT_TYPE = "application/activity+json"

#: A pre-signed request: its headers and its body.
Signed = tuple[dict[str, str], bytes]


# --- the client, in its own process ----------------------------------------


def presign(spec: dict[str, Any], scheme: str, count: int) -> list[Signed]:
    """``count`` Creates with unique ids, signed for the node's shared inbox."""
    actor = spec["actor"]
    if scheme == "rsa":
        key, key_id, http_scheme = spec["rsa"], rsa_key_id(actor), Scheme.CAVAGE
    else:
        key, key_id, http_scheme = spec["ed"], ed25519_key_id(actor), Scheme.RFC9421
    key = load_private_pem(key)
    run = spec["run"]
    signed = []
    for index in range(count):
        note = f"{actor}/notes/{run}-{scheme}-{index}"
        body = json.dumps(
            {
                "@context": AS_CONTEXT,
                "id": f"{note}/activity",
                "type": "Create",
                "actor": actor,
                "to": [PUBLIC],
                "object": {
                    "id": note,
                    "type": "Note",
                    "attributedTo": actor,
                    "content": f"<p>Note {index}</p>",
                    "to": [PUBLIC],
                },
            }
        ).encode()
        headers = {"Content-Type": CONTENT_TYPE}
        headers |= sign_request(
            "POST", spec["node_url"], headers, body, key, key_id, scheme=http_scheme
        )
        signed.append((headers, body))
    return signed


async def hammer(url: str, requests: list[Signed], concurrency: int) -> dict[str, Any]:
    """POST every request with ``concurrency`` in flight; time each."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pending = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def lane() -> None:
            for headers, body in pending:
                started = time.perf_counter()
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rate": len(requests) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": statuses,
    }


async def client(spec: dict[str, Any]) -> dict[str, Any]:
    count, concurrency = spec["count"], spec["concurrency"]
    started = time.perf_counter()
    warm_up = presign({**spec, "run": spec["run"] + "-warm"}, "rsa", 1)
    rsa_requests = presign(spec, "rsa", count)
    ed_requests = presign(spec, "ed", count)
    presigned = time.perf_counter() - started
    # The first request makes the node fetch the actor; keep it out of the timing.
    warm = await hammer(spec["node_url"], warm_up, 1)
    # A bare run between the node's runs: the box is noisy, so each node run
    # is compared with the bare runs on either side of it.
    return {
        "presign_seconds": presigned,
        "warm_up": warm["statuses"],
        "bare 1": await hammer(spec["bare_url"], rsa_requests, concurrency),
        "node rsa cavage": await hammer(spec["node_url"], rsa_requests, concurrency),
        "bare 2": await hammer(spec["bare_url"], ed_requests, concurrency),
        "node ed25519 rfc9421": await hammer(
            spec["node_url"], ed_requests, concurrency
        ),
        "bare 3": await hammer(spec["bare_url"], ed_requests, concurrency),
    }


# --- the servers, in this process -------------------------------------------


async def start_app(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    return runner


def actor_server(document: dict[str, Any]) -> tuple[web.Application, list[int]]:
    """Serves the remote actor's document; counts how often it is fetched."""
    fetches = [0]

    async def get_actor(request: web.Request) -> web.Response:
        fetches[0] += 1
        return web.Response(body=json.dumps(document), content_type=CONTENT_TYPE)

    app = web.Application()
    app.router.add_get("/users/alice", get_actor)
    return app, fetches


def bare_server() -> web.Application:
    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/inbox", accept)
    return app


def report(name: str, result: dict[str, Any], baseline: float) -> None:
    print(
        f"{name:<22} {result['rate']:>8,.0f}/s  ratio {result['rate'] / baseline:5.3f}"
        f"  p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms"
        f"  statuses {result['statuses']}"
    )


async def main(count: int, concurrency: int) -> None:
    rsa_key, ed_key = generate_rsa(), generate_ed25519()
    actor_port, bare_port = free_port(), free_port()
    actor = f"http://{REMOTE_HOST}:{actor_port}/users/alice"
    document = build_actor(
        ActorSpec(
            id=actor,
            type="Person",
            username="alice",
            inbox=f"{actor}/inbox",
            outbox=f"{actor}/outbox",
            followers=f"{actor}/followers",
            following=f"{actor}/following",
            shared_inbox=f"http://{REMOTE_HOST}:{actor_port}/inbox",
            rsa_public_key=rsa_key.public_key(),
            ed25519_public_key=ed_key.public_key(),
        )
    )
    actor_app, fetches = actor_server(document)
    runners = [
        await start_app(actor_app, actor_port),
        await start_app(bare_server(), bare_port),
    ]
    with tempfile.TemporaryDirectory(prefix="bocage-inbox-") as tmp:
        folder = Path(tmp)
        config = make_config(
            folder,
            f"sqlite+aiosqlite:///{folder / 'bocage.sqlite'}",
            port=free_port(),
            extra_env={
                "BOCAGE_FEDERATION_RESOLVE_OVERRIDES": f"{REMOTE_HOST}=127.0.0.1",
                "BOCAGE_FEDERATION_DELIVER_IN_PROCESS": "false",
                "BOCAGE_LOG_LEVEL": "WARNING",
            },
        )
        app = create_app(config)
        runners.append(await start_site(app, config))
        try:
            spec = {
                "actor": actor,
                "rsa": private_key_to_pem(rsa_key).decode(),
                "ed": private_key_to_pem(ed_key).decode(),
                "run": f"{time.time():.0f}",
                "count": count,
                "concurrency": concurrency,
                "node_url": f"{config.origin}/inbox",
                "bare_url": f"http://127.0.0.1:{bare_port}/inbox",
            }
            spec_file = folder / "client.json"
            spec_file.write_text(json.dumps(spec))
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--client",
                str(spec_file),
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"the client failed with status {process.returncode}")
            results = json.loads(out)

            node = app[NODE]
            async with node.db.read() as conn:
                queued = (
                    await conn.execute(
                        select(func.count())
                        .select_from(jobs)
                        .where(jobs.c.queue == "inbox")
                    )
                ).scalar_one()
            stored = queued  # each received activity is its inbox job
            writer = node.writer
        finally:
            for runner in reversed(runners):
                await runner.cleanup()

    print(
        f"{count:,} requests per run, {concurrency} in flight, client in its own "
        f"process; pre-signing took {results['presign_seconds']:.1f}s"
    )
    order = ["bare 1", "node rsa cavage", "bare 2", "node ed25519 rfc9421", "bare 3"]
    bare_mean = statistics.mean(results[name]["rate"] for name in order[::2])
    for index, name in enumerate(order):
        if name.startswith("bare"):
            report(name, results[name], bare_mean)
        else:
            neighbours = [results[order[index - 1]], results[order[index + 1]]]
            report(name, results[name], statistics.mean(r["rate"] for r in neighbours))
    expected = 2 * count + 1  # and the warm-up
    print(
        f"stored {stored:,} of {expected:,} activities, {queued:,} inbox jobs; "
        f"actor fetched {fetches[0]}x; group commit "
        f"{writer.operations / max(writer.commits, 1):.1f} writes per commit"
    )
    if stored != expected or queued != expected:
        raise SystemExit("some activities were not stored")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 requests per run")
    parser.add_argument("-n", type=int, default=None, help="requests per run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.client:
        spec = json.loads(options.client.read_text())
        print(json.dumps(asyncio.run(client(spec))))
    else:
        count = options.n or (300 if options.quick else 5000)
        asyncio.run(main(count, options.concurrency))
