"""Start, stop and drive the Fedify peer in ``tests/interop/fedify``.

The peer is a real Fedify 2.3.6 server (see ``fedify/README.md``) run as a
``node`` subprocess.  :class:`FedifyPeer` picks a free loopback port, waits
for the peer's control API to answer, and wraps that API::

    peer = FedifyPeer("a")
    await peer.start()
    try:
        await peer.follow("http://127.0.0.1:8080/users/bob")
        await peer.wait_for(lambda a: a["type"] == "Accept")
    finally:
        await peer.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import aiohttp

PEER_DIR = Path(__file__).resolve().parent / "fedify"
PEER_SCRIPT = PEER_DIR / "peer.mjs"
CACHED_STATE_DIR = PEER_DIR / ".state"
STATE_DIR_ENV = "BOCAGE_FEDIFY_STATE_DIR"

SignatureScheme = Literal["rfc9421", "draft-cavage-http-signatures-12"]
Activity = dict[str, Any]

_STDERR_TAIL_LINES = 40


class FedifyPeerError(RuntimeError):
    """The peer could not be installed or started, or refused a command."""


def node_executable() -> str | None:
    """The path of ``node``, or ``None`` when it is not installed."""
    return shutil.which("node")


def skip_reason() -> str | None:
    """Why the Fedify peer cannot run here, or ``None`` when it can.

    Meant for ``pytest.mark.skipif`` / ``pytest.skip``.
    """
    if node_executable() is None:
        return "Node.js (`node`) is not installed: the Fedify peer cannot run"
    if not (PEER_DIR / "node_modules").is_dir() and shutil.which("npm") is None:
        return "npm is not installed and tests/interop/fedify/node_modules is missing"
    return None


def ensure_installed(timeout: float = 600.0) -> None:
    """Run ``npm ci`` in ``tests/interop/fedify`` unless node_modules exists.

    Blocking on purpose: call it once, before the event loop is busy (for
    instance from a session fixture via ``asyncio.to_thread``).
    """
    marker = PEER_DIR / "node_modules" / "@fedify" / "fedify" / "package.json"
    if marker.is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise FedifyPeerError("npm is not installed; cannot install the Fedify peer")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=PEER_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise FedifyPeerError(
            f"`npm ci` failed in {PEER_DIR} (exit {result.returncode}):\n"
            f"{_tail(result.stdout + result.stderr)}"
        )


def default_state_dir(name: str) -> Path:
    """Where the peer called ``name`` keeps its key pairs between runs.

    ``$BOCAGE_FEDIFY_STATE_DIR/<name>`` when that variable is set, otherwise
    ``tests/interop/fedify/.state/<name>``.  Reusing the directory spares the
    RSA-4096 key generation on every run.
    """
    base = os.environ.get(STATE_DIR_ENV)
    return (Path(base) if base else CACHED_STATE_DIR) / name


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(text: str, lines: int = _STDERR_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


class FedifyPeer:
    """One ``node peer.mjs`` process serving the actor ``/users/<username>``."""

    def __init__(
        self,
        name: str = "peer",
        *,
        state_dir: Path | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        username: str = "alice",
        first_knock: SignatureScheme = "rfc9421",
        log_level: str = "info",
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.state_dir = state_dir if state_dir is not None else default_state_dir(name)
        self.host = host
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port(host)
        self.username = username
        self.first_knock = first_knock
        self.log_level = log_level
        self.extra_env = dict(extra_env or {})
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._log_path = self.state_dir / "peer.log"

    # ----------------------------------------------------------- properties

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, the peer's public origin."""
        return f"http://{self.host}:{self.port}"

    @property
    def actor_url(self) -> str:
        return f"{self.origin}/users/{self.username}"

    @property
    def inbox_url(self) -> str:
        return f"{self.actor_url}/inbox"

    @property
    def shared_inbox_url(self) -> str:
        return f"{self.origin}/inbox"

    @property
    def handle(self) -> str:
        """``alice@127.0.0.1:PORT`` (Fedify resolves handles over https only)."""
        return f"{self.username}@{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The file receiving the peer's stdout and stderr (logtape output)."""
        return self._log_path

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def log_tail(self, lines: int = _STDERR_TAIL_LINES) -> str:
        try:
            text = self._log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return _tail(text, lines)

    # ------------------------------------------------------------ lifecycle

    async def start(self, startup_timeout: float = 60.0) -> None:
        """Start the peer and wait until ``/_control/health`` answers.

        When the port was chosen here and another process took it in the
        meantime, start again on a new port (up to three attempts).
        """
        if self.running:
            return
        for attempt in range(3):
            try:
                await self._start_once(startup_timeout)
            except FedifyPeerError:
                lost_port = "EADDRINUSE" in self.log_tail()
                if self._fixed_port or not lost_port or attempt == 2:
                    raise
                self.port = free_port(self.host)
            else:
                return

    async def _start_once(self, startup_timeout: float) -> None:
        node = node_executable()
        if node is None:
            raise FedifyPeerError("Node.js (`node`) is not installed")
        if not (PEER_DIR / "node_modules").is_dir():
            raise FedifyPeerError(
                f"{PEER_DIR}/node_modules is missing: call ensure_installed() first"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "FEDIFY_PEER_HOST": self.host,
            "FEDIFY_PEER_PORT": str(self.port),
            "FEDIFY_PEER_ORIGIN": self.origin,
            "FEDIFY_PEER_STATE_DIR": str(self.state_dir),
            "FEDIFY_PEER_USERNAME": self.username,
            "FEDIFY_PEER_FIRST_KNOCK": self.first_knock,
            "FEDIFY_PEER_LOG_LEVEL": self.log_level,
            "FEDIFY_PEER_EXIT_WITH_PARENT": "1",
            "NO_COLOR": "1",
            **self.extra_env,
        }
        with self._log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                node,
                str(PEER_SCRIPT),
                cwd=PEER_DIR,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            await self._wait_healthy(startup_timeout)
        except BaseException:
            await self.stop()
            raise

    async def _wait_healthy(self, startup_timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + startup_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._process.returncode is not None:
                raise FedifyPeerError(
                    f"Fedify peer {self.name!r} exited with code "
                    f"{self._process.returncode} during start-up; log tail:\n"
                    f"{self.log_tail()}"
                )
            try:
                health = await self._request("GET", "health", request_timeout=2.0)
            except (aiohttp.ClientError, TimeoutError, FedifyPeerError) as error:
                last_error = repr(error)
            else:
                if health.get("ok") and health.get("pid") == self._process.pid:
                    return
                last_error = repr(health)
            await asyncio.sleep(0.1)
        raise FedifyPeerError(
            f"Fedify peer {self.name!r} did not answer {self.origin}/_control/health "
            f"within {startup_timeout:.0f}s (last error: {last_error}); log tail:\n"
            f"{self.log_tail()}"
        )

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the peer (SIGTERM, then SIGKILL) and close the client session."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> FedifyPeer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------- control API

    async def _request(
        self,
        method: str,
        name: str,
        body: Mapping[str, Any] | None = None,
        *,
        request_timeout: float | None = None,
        expect: Sequence[int] = (200,),
    ) -> Any:
        if self._session is None:
            raise FedifyPeerError(f"Fedify peer {self.name!r} is not started")
        url = f"{self.origin}/_control/{name}"
        options: dict[str, Any] = {"json": body}
        if request_timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=request_timeout)
        async with self._session.request(method, url, **options) as response:
            text = await response.text()
            if response.status not in expect:
                raise FedifyPeerError(
                    f"{method} {url} answered {response.status}: {text}"
                )
            return await response.json(content_type=None) if text else None

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "health")
        return result

    async def info(self) -> dict[str, Any]:
        """Origin, actor and collection URLs, key ids and current config."""
        result: dict[str, Any] = await self._request("GET", "info")
        return result

    async def received(self) -> list[Activity]:
        """Activities that reached an inbox listener, oldest first.

        Each entry: ``index``, ``at``, ``id``, ``type``, ``actor``,
        ``object`` (``{id, type, content}`` or ``None``), ``recipient``
        (``None`` for the shared inbox) and ``raw`` (the JSON body received).
        """
        result: list[Activity] = await self._request("GET", "received")
        return result

    async def inbox_requests(self) -> list[dict[str, Any]]:
        """Every POST to an inbox, accepted or not, with the signature scheme
        (``rfc9421``, ``draft-cavage-http-signatures-12`` or ``None``),
        ``keyId``, Fedify's status code and, for errors, its response text."""
        result: list[dict[str, Any]] = await self._request("GET", "inbox-requests")
        return result

    async def outgoing(self) -> list[dict[str, Any]]:
        """Every HTTP request the peer made: method, url, signature scheme,
        keyId, status (or error)."""
        result: list[dict[str, Any]] = await self._request("GET", "outgoing")
        return result

    async def clear(self) -> None:
        """Forget received activities, inbox requests and outgoing requests."""
        await self._request("DELETE", "received")

    async def followers(self) -> list[dict[str, Any]]:
        """``[{id, inboxId, sharedInboxId, followId}]``."""
        result: list[dict[str, Any]] = await self._request("GET", "followers")
        return result

    async def following(self) -> list[dict[str, Any]]:
        """``[{actor, followId, state}]``, state: pending, accepted, rejected."""
        result: list[dict[str, Any]] = await self._request("GET", "following")
        return result

    async def follow(self, actor_url: str) -> dict[str, Any]:
        """Look ``actor_url`` up (signed GET) and send it a Follow.

        Returns ``{ok, id, actor}``.  Raises :class:`FedifyPeerError` when the
        actor cannot be resolved (400) or the delivery fails (502).
        """
        result: dict[str, Any] = await self._request(
            "POST", "follow", {"actor": actor_url}
        )
        return result

    async def unfollow(self, actor_url: str) -> dict[str, Any]:
        """Send ``Undo(Follow)`` to an actor this peer follows."""
        result: dict[str, Any] = await self._request(
            "POST", "unfollow", {"actor": actor_url}
        )
        return result

    async def create(self, content: str) -> dict[str, Any]:
        """Send ``Create(Note)`` (public, cc followers) to all followers.

        Returns ``{ok, id, object, recipients}``.
        """
        result: dict[str, Any] = await self._request(
            "POST", "create", {"content": content}
        )
        return result

    async def join(self, group_url: str) -> dict[str, Any]:
        """Send ``Join`` to a community's actor (looked up by URL).

        Returns ``{ok, id, group}``; the community answers ``Accept(Join)``
        when it admits the peer.
        """
        result: dict[str, Any] = await self._request(
            "POST", "join", {"group": group_url}
        )
        return result

    async def vote(
        self, question_url: str, choice: str, *, to: str | None = None
    ) -> dict[str, Any]:
        """Vote ``choice`` in a poll, as Mastodon does.

        Fedify fetches and parses the ``Question``, then the peer sends
        ``Create(Note{name: choice, inReplyTo: question, to})`` to the
        Question's author (``to`` defaults to the author).  Returns ``{ok,
        id, object, question: {id, name, options, endTime, closed,
        voters}}``, the question as Fedify read it.  Raises
        :class:`FedifyPeerError` for an option the Question does not offer.
        """
        body: dict[str, Any] = {"question": question_url, "choice": choice}
        if to is not None:
            body["to"] = to
        result: dict[str, Any] = await self._request("POST", "vote", body)
        return result

    async def lookup(self, url: str) -> dict[str, Any] | None:
        """Dereference ``url`` through Fedify (signed GET, JSON-LD parsing).

        Returns ``{type, id, object}`` or ``None`` when Fedify found nothing.
        """
        result: dict[str, Any] = await self._request(
            "POST", "lookup", {"url": url}, expect=(200, 404)
        )
        return result if result.get("found") else None

    async def configure(
        self,
        *,
        first_knock: SignatureScheme | None = None,
        inbox_challenge: bool | None = None,
    ) -> dict[str, Any]:
        """Rebuild the peer's federation with new options.

        ``first_knock`` is the signature scheme Fedify tries first with an
        origin it has not talked to; ``inbox_challenge`` makes refused inbox
        POSTs carry an RFC 9421 ``Accept-Signature`` header.  Rebuilding also
        empties Fedify's key-value store (remembered schemes, cached keys and
        documents); followers and received activities are kept.
        """
        body: dict[str, Any] = {}
        if first_knock is not None:
            body["firstKnock"] = first_knock
        if inbox_challenge is not None:
            body["inboxChallenge"] = inbox_challenge
        result: dict[str, Any] = await self._request("POST", "config", body)
        return result

    async def wait_for(
        self,
        predicate: Callable[[Activity], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a polling deadline, not I/O
        *,
        interval: float = 0.1,
    ) -> Activity:
        """Poll :meth:`received` until an activity satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        seen: list[Activity] = []
        while True:
            seen = await self.received()
            for activity in seen:
                if predicate(activity):
                    return activity
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(interval)
        summary = [(a.get("type"), a.get("id"), a.get("actor")) for a in seen]
        raise TimeoutError(
            f"Fedify peer {self.name!r} received no matching activity within "
            f"{timeout}s; received: {summary}; log tail:\n{self.log_tail()}"
        )


@contextlib.asynccontextmanager
async def running_peer(name: str) -> AsyncIterator[FedifyPeer]:
    """A started peer for a test module; skips (with the reason) without Node.js."""
    import pytest  # noqa: PLC0415 - only the fixtures need it

    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    await asyncio.to_thread(ensure_installed)
    peer = FedifyPeer(name)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()
