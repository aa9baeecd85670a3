"""Three nodes: B negotiates with A and calls A under the contract; C cannot."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson
from sqlalchemy import select

from federation.hosts import CAVAGE_RSA
from federation.signing import signer_for
from protocol.records import decode_service
from storage.tables import agreements
from tests.federation.harness import RunningNode, eventually, running_nodes

PARIS = ZoneInfo("Europe/Paris")


def offer(node: RunningNode, slug: str, path: str, **terms: Any) -> dict[str, Any]:
    contract: dict[str, Any] = {
        "permissions": [
            {
                "action": terms.pop("action", "read"),
                "constraints": [
                    {"left": "dateTime", "operator": "lteq", "right": "2030-12-31"}
                ],
            }
        ],
        "authentication": ["http-signature", "agreement-token"],
        "audience": "agreement",
        "auto_accept": "any",
        **terms,
    }
    return {
        "slug": slug,
        "title": f"Offer {slug}",
        "description": "A service under contract.",
        "endpoint_url": f"{node.origin}{path}",
        "offer": contract,
    }


async def call(
    caller: RunningNode | None,
    method: str,
    url: str,
    *,
    body: bytes = b"",
    token: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    headers = {"Accept": "application/json"}
    if body:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if caller is not None:
        sign = signer_for(
            caller.node.federation.fed, caller.config.node.username, CAVAGE_RSA
        )
        headers.update(await sign(method, url, headers, body))
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, data=body or None, headers=headers) as response,
    ):
        text = await response.read()
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = text
        return response.status, dict(response.headers), parsed


async def states(node: RunningNode) -> list[str]:
    async with node.node.db.read() as conn:
        rows = await conn.execute(select(agreements.c.state).order_by(agreements.c.seq))
        return [r[0] for r in rows]


def at(year: int, month: int, day: int, hour: int) -> float:
    return datetime(year, month, day, hour, tzinfo=PARIS).timestamp()


async def test_negotiate_enforce_meter_terminate(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 3) as (a, b, c):
        search = offer(
            a, "search", "/catalogue/search", quotas=[{"limit": 3, "period": "P1D"}]
        )
        write = offer(
            a, "requests", "/data-requests", action="modify",
            hours=[{"days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
                    "opens": "08:00", "closes": "18:00"}],
        )  # fmt: skip
        for data in (search, write):
            await a.node.catalogue.put(decode_service(data))
        search_iri = f"{a.origin}/services/search"
        write_iri = f"{a.origin}/services/requests"

        # B asks for both; A accepts automatically ("any") with signed agreements.
        await b.node.contracts.request(search_iri)
        await b.node.contracts.request(write_iri)

        async def agreed() -> bool:
            return await states(b) == ["agreed", "agreed"] == await states(a)

        await eventually(agreed, what="both agreements concluded")
        consumer_rows = await b.node.contracts.list("consumer")
        assert all(r["agreement"] for r in consumer_rows)

        # Within quota: three searches; the fourth is refused with Retry-After.
        url = f"{a.origin}/catalogue/search?q=x"
        for _ in range(3):
            status, _, _ = await call(b, "GET", url)
            assert status == 200
        status, headers, body = await call(b, "GET", url)
        assert status == 429 and body["constraint"] == "quota:P1D"
        assert int(headers["Retry-After"]) > 0

        # C has no agreement; an unsigned caller is not even identified.
        status, _, body = await call(c, "GET", url)
        assert status == 403 and body["constraint"] == "agreement"
        status, _, body = await call(None, "GET", url)
        assert status == 401 and body["constraint"] == "authentication"

        # The write function, inside and outside A's hours (Paris time).
        request = orjson.dumps(
            {"subject": "Horaires", "message": "Les horaires 2019 ?"}
        )
        a.node.enforcer.clock = lambda: at(2026, 12, 2, 10)  # a Wednesday, 10:00
        status, _, _ = await call(b, "POST", f"{a.origin}/data-requests", body=request)
        assert status == 201
        a.node.enforcer.clock = lambda: at(2026, 12, 6, 10)  # a Sunday
        status, _, body = await call(
            b, "POST", f"{a.origin}/data-requests", body=request
        )
        assert status == 403 and body["constraint"] == "hours"

        # A token bound to the agreement works like B's signature…
        a.node.enforcer.clock = lambda: at(2026, 12, 2, 11)
        write_seq = next(
            r["id"] for r in await a.node.contracts.list("provider")
            if r["offer"] == write_iri
        )  # fmt: skip
        token = await a.node.contracts.issue_token(write_seq)
        status, _, _ = await call(
            None, "POST", f"{a.origin}/data-requests", body=request, token=token
        )
        assert status == 201

        # …until A terminates the agreement: refused at once, B is told.
        await a.node.contracts.terminate(write_seq)
        status, _, body = await call(
            None, "POST", f"{a.origin}/data-requests", body=request, token=token
        )
        assert status == 401
        status, _, body = await call(
            b, "POST", f"{a.origin}/data-requests", body=request
        )
        assert status == 403 and body["constraint"] == "agreement"

        async def b_told() -> bool:
            return "terminated" in await states(b)

        await eventually(b_told, what="B learns of the termination")

        # A's public ledger shows what B used: three searches (not the refusal).
        status, _, ledger = await call(
            None, "GET", f"{a.origin}/services/search/ledger"
        )
        assert status == 200
        assert [(i["consumer"], i["calls"]) for i in ledger["orderedItems"]] == [
            (b.actor(), 3)
        ]

        # Each decision is in A's public decision log.
        status, _, page = await call(None, "GET", f"{a.origin}/log?page=1")
        kinds = [entry["kind"] for entry in page["orderedItems"]]
        assert kinds == ["contract.accept", "contract.accept", "contract.terminate"]


async def test_broader_request_is_rejected_and_manual_approval(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        data = offer(a, "manual", "/catalogue/search", auto_accept="members")
        await a.node.catalogue.put(decode_service(data))
        iri = f"{a.origin}/services/manual"

        # Asking for more than offered (modify on a read offer) is refused.
        broader = {
            "type": "odrl:Offer",
            "odrl:permission": [{"odrl:action": {"id": "odrl:modify"}}],
        }
        await b.node.contracts.request(iri, broader)

        async def rejected() -> bool:
            return await states(b) == ["rejected"]

        await eventually(rejected, what="the broader request is rejected")

        # B is not a member: its plain request waits for A's administrator.
        await b.node.contracts.request(iri)

        async def pending_on_a() -> bool:
            return await states(a) == ["rejected", "requested"]

        await eventually(pending_on_a, what="the request awaits approval")
        seq = (await a.node.contracts.list("provider"))[-1]["id"]
        await a.node.contracts.decide(seq, accept=True)

        async def agreed() -> bool:
            return await states(b) == ["rejected", "agreed"]

        await eventually(agreed, what="approval reaches B")


async def test_public_download_offer_meters_anonymous_calls(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (a,):
        folder = Path(a.config.node.data_dir) / "files"
        folder.mkdir(parents=True)
        sha = "0" * 64
        (folder / sha).write_bytes(b"station;no2\nA;21\n")
        data = offer(
            a, "downloads", "/files/", audience="public",
            authentication=["none"], quotas=[{"limit": 2, "period": "PT1H"}],
        )  # fmt: skip
        await a.node.catalogue.put(decode_service(data))
        url = f"{a.origin}/files/{sha}"
        assert (await call(None, "GET", url))[0] == 200
        assert (await call(None, "GET", url))[0] == 200
        status, headers, body = await call(None, "GET", url)
        assert status == 429 and body["constraint"] == "quota:PT1H"
        assert 0 < int(headers["Retry-After"]) <= 3600
        # Files no offer covers, and other routes, are not affected.
        assert (await call(None, "GET", f"{a.origin}/healthz"))[0] == 200


async def test_byte_quota_counts_what_was_sent(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (a,):
        folder = Path(a.config.node.data_dir) / "files"
        folder.mkdir(parents=True)
        sha = "1" * 64
        (folder / sha).write_bytes(b"x" * 600)
        data = offer(
            a, "bytes", "/files/", audience="public", authentication=["none"],
            quotas=[{"limit": 1000, "period": "P1D", "unit": "byte"}],
        )  # fmt: skip
        await a.node.catalogue.put(decode_service(data))
        url = f"{a.origin}/files/{sha}"
        assert (await call(None, "GET", url))[0] == 200  # 600 of 1000 bytes
        assert (await call(None, "GET", url))[0] == 200  # 1200: over, but admitted
        status, _, body = await call(None, "GET", url)  # spent: refused
        assert status == 429 and body["constraint"] == "quota:P1D/byte"
