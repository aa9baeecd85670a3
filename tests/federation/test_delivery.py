"""Delivery outcomes against a real server answering chosen statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from federation.delivery import DeliveryFailed, retry_after
from federation.hosts import BREAKER_THRESHOLD, CAVAGE_RSA, RFC9421_ED25519
from storage.jobs import Job
from storage.worker import PermanentFailure, RetryLater
from tests.conftest import free_port
from tests.federation.harness import RunningNode, running_nodes


class Sink:
    """Answers POST /{status} with that status; /cavage-only refuses RFC 9421."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.seen: list[tuple[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        scheme = "rfc9421" if "Signature-Input" in request.headers else "cavage"
        path = request.match_info["path"]
        self.seen.append((path, scheme))
        if path == "cavage-only":
            return web.Response(status=401 if scheme == "rfc9421" else 202)
        status = int(path)
        headers = {"Retry-After": "120"} if status == 429 else {}
        return web.Response(status=status, headers=headers)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[RunningNode, Sink]]:
    sink = Sink()
    app = web.Application()
    app.router.add_post("/{path}", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sink.port).start()
    async with running_nodes(tmp_path, 1) as (node,):
        yield node, sink
    await runner.cleanup()


async def deliver(node: RunningNode, inbox: str) -> None:
    service = node.node.federation
    username = node.config.node.username
    activity = await service.outbox.publish(
        username, "Create", "https://example.org/x", to_followers=False
    )
    job = Job(
        0,
        "deliver",
        {"activity": activity["id"], "inbox": inbox, "actor": username},
        1,
        0.0,
    )
    await service.deliverer.handle(job)


async def test_scheme_is_learnt_per_host(env: tuple[RunningNode, Sink]) -> None:
    node, sink = env
    hosts = node.node.federation.hosts
    host = f"127.0.0.1:{sink.port}"

    await deliver(node, f"{sink.origin}/cavage-only")
    assert sink.seen == [("cavage-only", "rfc9421"), ("cavage-only", "cavage")]
    assert (await hosts.get(host)).scheme == CAVAGE_RSA
    await deliver(node, f"{sink.origin}/cavage-only")
    assert sink.seen[-1] == ("cavage-only", "cavage") and len(sink.seen) == 3


async def test_ed25519_is_kept_where_accepted(env: tuple[RunningNode, Sink]) -> None:
    node, sink = env
    await deliver(node, f"{sink.origin}/202")
    assert sink.seen == [("202", "rfc9421")]
    host = f"127.0.0.1:{sink.port}"
    assert (await node.node.federation.hosts.get(host)).scheme == RFC9421_ED25519


@pytest.mark.parametrize("status", [404, 410, 400, 422])
async def test_permanent_answers(env: tuple[RunningNode, Sink], status: int) -> None:
    node, sink = env
    with pytest.raises(PermanentFailure, match=str(status)):
        await deliver(node, f"{sink.origin}/{status}")


async def test_retry_after_is_honoured(env: tuple[RunningNode, Sink]) -> None:
    node, sink = env
    with pytest.raises(RetryLater) as caught:
        await deliver(node, f"{sink.origin}/429")
    assert caught.value.delay == 120


async def test_circuit_breaker_pauses_a_failing_host(
    env: tuple[RunningNode, Sink],
) -> None:
    node, sink = env
    for _ in range(BREAKER_THRESHOLD):
        with pytest.raises(DeliveryFailed):
            await deliver(node, f"{sink.origin}/500")
    requests = len(sink.seen)
    with pytest.raises(RetryLater, match="paused"):
        await deliver(node, f"{sink.origin}/202")
    assert len(sink.seen) == requests  # no request while paused

    # When the pause ends and the host answers, it is trusted again.
    hosts = node.node.federation.hosts
    host = f"127.0.0.1:{sink.port}"
    state = await hosts.get(host)
    hosts._states[host] = state.__class__(state.scheme, state.failures, 0.0, None)
    await deliver(node, f"{sink.origin}/202")
    assert (await hosts.get(host)).failures == 0


def test_retry_after_forms() -> None:
    assert retry_after("30") == 30
    assert retry_after(None) == 60
    assert retry_after("soon") == 60
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
