"""The outbound HTTP client: every request this node makes to a peer goes through it.

It enforces what a server on the open internet must (DESIGN.md, "Security"):

- no request to a private, loopback, link-local or otherwise non-global address,
  unless the host is allow-listed in ``federation.allow_private_hosts`` (tests
  and the demo federate on loopback that way).  The check runs on the
  *resolved* addresses, so a public name pointing at 127.0.0.1 is refused too;
- plain ``http://`` only towards allow-listed hosts;
- a cap on the body read, on time, and on redirects; each redirect target is
  checked again;
- a fetched document's ``id`` must equal the URL it was finally served from
  (INTEROP.md, "Content types and fetching": Mastodon and Fedify are strict).

``resolve_overrides`` is the test-domain hook: names such as ``brest.test``
resolve to the given address without DNS.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from protocol.errors import BocageError
from protocol.jsonld import DocumentError, check_depth

log = logging.getLogger("bocage.federation.http")

AS_ACCEPT = (
    'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/'
    'activitystreams";q=0.9, application/json;q=0.5'
)
AS_CONTENT_TYPE = "application/activity+json"
_JSON_TYPES = ("application/activity+json", "application/ld+json", "application/json")

#: Signs a request: (method, url, headers, body) → headers to add.
Signer = Callable[[str, str, Mapping[str, str], bytes], Awaitable[Mapping[str, str]]]


class FederationError(BocageError):
    """A peer misbehaved or could not be reached."""


class FetchError(FederationError):
    """A request to a peer failed; ``status`` is the peer's answer, if any."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class ForbiddenAddress(FetchError):
    """The URL leads to an address this node may not contact."""


@dataclass(frozen=True)
class HttpPolicy:
    """Limits on outbound requests."""

    allow_private_hosts: frozenset[str] = frozenset()
    resolve_overrides: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = 1_048_576  # Mastodon refuses documents over 1 MiB
    timeout: float = 10.0
    connect_timeout: float = 5.0
    max_redirects: int = 3
    max_json_depth: int = 64
    user_agent: str = "Bocage/0.1"

    def is_allowed_host(self, host: str) -> bool:
        return (
            host.lower() in self.allow_private_hosts or host in self.resolve_overrides
        )


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses non-global addresses for hosts not allowed."""

    def __init__(self, policy: HttpPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        override = self._policy.resolve_overrides.get(host)
        if override is not None:
            return [
                {
                    "hostname": host,
                    "host": override,
                    "port": port,
                    "family": socket.AF_INET6 if ":" in override else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            ]
        results = await self._inner.resolve(host, port, family)
        if not self._policy.is_allowed_host(host):
            for result in results:
                if not _is_public(result["host"]):
                    raise ForbiddenAddress(
                        host, f"resolves to a non-public address {result['host']}"
                    )
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Response:
    """What a peer answered: status, headers and (capped) body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class HttpClient:
    """One pooled aiohttp session with the policy applied to every request."""

    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy),
                limit=256,
                limit_per_host=8,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=self.policy.timeout, sock_connect=self.policy.connect_timeout
                ),
                headers={"User-Agent": self.policy.user_agent},
                auto_decompress=True,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def check_url(self, url: str) -> str:
        """Return the URL's host if this node may contact it, else raise."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise ForbiddenAddress(url, "only http(s) URLs with a host can be fetched")
        allowed = self.policy.is_allowed_host(host)
        if parts.scheme == "http" and not allowed:
            raise ForbiddenAddress(url, "plain http is only for allow-listed hosts")
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return host  # a name: the resolver checks what it resolves to
        # aiohttp does not call the resolver for address literals.
        if not allowed and not _is_public(str(literal)):
            raise ForbiddenAddress(url, f"{host} is not a public address")
        return host

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        signer: Signer | None = None,
        follow_redirects: bool = False,
    ) -> Response:
        """Send one request (following redirects for GET), body read up to the cap."""
        session = self._get_session()
        for _ in range(self.policy.max_redirects + 1):
            self.check_url(url)
            send = dict(headers or {})
            if signer is not None:
                send.update(await signer(method, url, send, body))
            try:
                async with session.request(
                    method, url, headers=send, data=body or None, allow_redirects=False
                ) as response:
                    location = response.headers.get("Location")
                    if follow_redirects and response.status in (
                        301,
                        302,
                        303,
                        307,
                        308,
                    ):
                        if not location:
                            raise FetchError(url, "redirect without Location", 502)
                        url = urljoin(url, location)
                        continue
                    data = await self._read_capped(url, response)
                    log.info("%s %s -> %d", method, url, response.status)
                    return Response(url, response.status, dict(response.headers), data)
            except TimeoutError:
                raise FetchError(url, "timed out") from None
            except aiohttp.ClientError as exc:
                cause = exc.__cause__ or exc
                if isinstance(cause, ForbiddenAddress):
                    raise cause from None
                raise FetchError(url, f"{type(exc).__name__}: {exc}") from None
            except OSError as exc:
                if isinstance(exc, ForbiddenAddress):  # pragma: no cover - defensive
                    raise
                raise FetchError(url, f"connection failed: {exc}") from None
        raise FetchError(url, f"more than {self.policy.max_redirects} redirects")

    async def _read_capped(self, url: str, response: aiohttp.ClientResponse) -> bytes:
        """The whole body, or FetchError as soon as it passes the cap.

        (``StreamReader.read(n)`` returns what is buffered, not n bytes.)
        """
        cap = self.policy.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise FetchError(url, "response body over the size cap")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get_document(
        self, url: str, *, signer: Signer | None = None
    ) -> dict[str, Any]:
        """Fetch an ActivityStreams document, verified to be what ``url`` names.

        Raises :class:`FetchError` with the peer's status for a non-2xx answer,
        a body that is not a JSON object, or an ``id`` other than the final URL.
        """
        response = await self.request(
            "GET",
            url,
            headers={"Accept": AS_ACCEPT},
            signer=signer,
            follow_redirects=True,
        )
        if response.status in (404, 410):
            raise FetchError(
                url, "gone" if response.status == 410 else "not found", response.status
            )
        if not 200 <= response.status < 300:
            raise FetchError(url, f"answered {response.status}", response.status)
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        if content_type.lower() not in _JSON_TYPES:
            raise FetchError(url, f"not an ActivityStreams document ({content_type})")
        try:
            document = response.json()
        except orjson.JSONDecodeError:
            raise FetchError(url, "invalid JSON") from None
        if not isinstance(document, dict):
            raise FetchError(url, "not a JSON object")
        try:
            check_depth(document, self.policy.max_json_depth)
        except DocumentError as exc:
            raise FetchError(url, str(exc)) from None
        if document.get("id") != response.url:
            # An object must be served from its own id, else anyone could host
            # a document claiming to be someone else's.
            raise FetchError(url, f"document id {document.get('id')!r} is not its URL")
        return document
