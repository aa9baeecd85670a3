"""A minimal remote server for tests: serves actor documents, signs requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from protocol.actors import ActorSpec, build_actor, rsa_key_id
from protocol.httpsig import Scheme, sign_request
from protocol.keys import generate_ed25519, generate_rsa
from tests.conftest import free_port

_RSA_CACHE: list[rsa.RSAPrivateKey] = []


def _rsa() -> rsa.RSAPrivateKey:
    # RSA generation costs ~50 ms; tests need a handful, reused across modules.
    if len(_RSA_CACHE) < 6:
        _RSA_CACHE.append(generate_rsa())
        return _RSA_CACHE[-1]
    _RSA_CACHE.append(_RSA_CACHE.pop(0))
    return _RSA_CACHE[-1]


@dataclass
class FakeActor:
    id: str
    username: str
    rsa: rsa.RSAPrivateKey = field(default_factory=_rsa)
    ed25519: ed25519.Ed25519PrivateKey = field(default_factory=generate_ed25519)

    @property
    def key_id(self) -> str:
        return rsa_key_id(self.id)

    def document(self) -> dict[str, Any]:
        return build_actor(
            ActorSpec(
                id=self.id,
                type="Person",
                username=self.username,
                inbox=f"{self.id}/inbox",
                outbox=f"{self.id}/outbox",
                followers=f"{self.id}/followers",
                following=f"{self.id}/following",
                shared_inbox=self.id.rsplit("/users/", 1)[0] + "/inbox",
                rsa_public_key=self.rsa.public_key(),
                ed25519_public_key=self.ed25519.public_key(),
            )
        )

    def signed_post(
        self,
        url: str,
        activity: dict[str, Any] | bytes,
        *,
        scheme: Scheme = Scheme.CAVAGE,
        key: rsa.RSAPrivateKey | None = None,
        key_id: str | None = None,
        content_type: str = "application/activity+json",
    ) -> tuple[bytes, dict[str, str]]:
        """A body and headers as a peer would POST them to ``url``."""
        body = activity if isinstance(activity, bytes) else orjson.dumps(activity)
        headers = {"Content-Type": content_type}
        headers.update(
            sign_request(
                "POST",
                url,
                headers,
                body,
                key or self.rsa,
                key_id or self.key_id,
                scheme=scheme,
            )
        )
        return body, headers


class FakePeer:
    """An aiohttp server on loopback hosting a few actors."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.actors: dict[str, FakeActor] = {}
        self.received: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None

    def add(self, username: str) -> FakeActor:
        actor = FakeActor(f"{self.origin}/users/{username}", username)
        self.actors[username] = actor
        return actor

    async def _actor(self, request: web.Request) -> web.Response:
        actor = self.actors.get(request.match_info["name"])
        if actor is None:
            return web.Response(status=404)
        return web.json_response(
            actor.document(), content_type="application/activity+json"
        )

    async def _inbox(self, request: web.Request) -> web.Response:
        self.received.append(orjson.loads(await request.read()))
        return web.Response(status=202)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/users/{name}", self._actor)
        app.router.add_post("/users/{name}/inbox", self._inbox)
        app.router.add_post("/inbox", self._inbox)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
