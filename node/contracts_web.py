"""Contract routes: the public usage ledger, the data-request write function,
and the administrators' view of agreements.

Also what the pages show of a contract (:mod:`node.web.pages_catalogue`): the
agreements on one of our offers and the ledger; the offer's policy in plain
words is :mod:`node.web.contract_words`.

Agreements on our offers are public, like the ledger: the consumers are
nodes (organisations), never citizens; a public body's contracts are public
documents, and the decision log already records every agreement accepted or
ended.  Pending requests and refusals are not shown: they are not contracts.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import func, select

from node.activitypub import PAGE_SIZE, as_response
from node.admin import PREFIX
from node.appkeys import NODE
from node.contracts import AGREED, PROVIDER, TERMINATED, ContractError
from node.services import Node
from protocol.jsonld import parse_instant
from storage.tables import agreements, data_requests, remote_actors, usage_daily

MAX_AGREEMENTS_SHOWN = 50


# --- the ledger ---------------------------------------------------------------


async def ledger_items(
    node: Node, offer_id: str, page: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of an offer's usage, per node and UTC day; and whether more follow."""
    stmt = (
        select(agreements.c.consumer, usage_daily.c.day, func.sum(usage_daily.c.calls))
        .join(agreements, agreements.c.seq == usage_daily.c.agreement_seq)
        .where(agreements.c.role == PROVIDER, agreements.c.offer_id == offer_id)
        .group_by(agreements.c.consumer, usage_daily.c.day)
        .order_by(usage_daily.c.day.desc(), agreements.c.consumer)
    )
    await node.meter.flush()  # show what was counted up to now
    async with node.db.read() as conn:
        rows = (
            await conn.execute(stmt.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE))
        ).all()
    items = [
        {"type": "bocage:Usage", "consumer": r[0], "day": r[1], "calls": int(r[2])}
        for r in rows[:PAGE_SIZE]
    ]
    return items, len(rows) > PAGE_SIZE


async def ledger_summary(node: Node, offer_id: str, days: int = 30) -> dict[str, int]:
    """Calls and distinct nodes over the last ``days`` UTC days."""
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - days * 86400))
    where = (
        (agreements.c.role == PROVIDER)
        & (agreements.c.offer_id == offer_id)
        & (usage_daily.c.day > since)
    )
    await node.meter.flush()
    async with node.db.read() as conn:
        calls, nodes = (
            await conn.execute(
                select(
                    func.coalesce(func.sum(usage_daily.c.calls), 0),
                    func.count(func.distinct(agreements.c.consumer)),
                )
                .select_from(usage_daily)
                .join(agreements, agreements.c.seq == usage_daily.c.agreement_seq)
                .where(where)
            )
        ).one()
    return {"calls": int(calls), "nodes": int(nodes), "days": days}


async def ledger(request: web.Request) -> web.StreamResponse:
    """Who used one of our offers, how much, per day — nodes, never citizens."""
    node = request.app[NODE]
    row = await node.catalogue.get("DataService", request.match_info["slug"])
    if row is None or row.deleted_at is not None:
        return web.json_response({"error": "no such service offer"}, status=404)
    iri = f"{row.id}/ledger"
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        return web.json_response({"error": "page is an integer"}, status=400)
    items, more = await ledger_items(node, row.id, page)
    document: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            {"bocage": "https://w3id.org/bocage/ns#"},
        ],
        "id": f"{iri}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": iri,
        "orderedItems": items,
    }
    if more:
        document["next"] = f"{iri}?page={page + 1}"
    return as_response(document)


# --- agreements on an offer ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicAgreement:
    """An agreement on one of our offers, as the pages show it."""

    consumer: str  # the node's actor IRI
    name: str  # its name as its actor document gives it, or ""
    state: str  # agreed or terminated
    since: float  # when it was agreed
    until: float | None  # when it ended

    @property
    def href(self) -> str:
        """The node's IRI when it can be a link (http or https)."""
        return self.consumer if re.match(r"^https?://\S+$", self.consumer) else ""


async def public_agreements(
    node: Node, offer_id: str, limit: int = MAX_AGREEMENTS_SHOWN
) -> tuple[list[PublicAgreement], int]:
    """Agreements in effect first, then ended ones, newest first; and how many."""
    where = (
        (agreements.c.role == PROVIDER)
        & (agreements.c.offer_id == offer_id)
        & agreements.c.state.in_([AGREED, TERMINATED])
        & agreements.c.agreement_id.is_not(None)
    )
    async with node.db.read() as conn:
        total = (
            await conn.execute(
                select(func.count()).select_from(agreements).where(where)
            )
        ).scalar_one()
        rows = (
            await conn.execute(
                select(
                    agreements.c.consumer,
                    agreements.c.state,
                    agreements.c.agreement,
                    agreements.c.created_at,
                    agreements.c.updated_at,
                    remote_actors.c.document,
                )
                .outerjoin(remote_actors, remote_actors.c.id == agreements.c.consumer)
                .where(where)
                .order_by(
                    (agreements.c.state == AGREED).desc(), agreements.c.seq.desc()
                )
                .limit(limit)
            )
        ).all()
    found = []
    for row in rows:
        issued = (row.agreement or {}).get("dct:issued")
        since = _timestamp(issued) or row.created_at
        actor = row.document if isinstance(row.document, dict) else {}
        name = actor.get("name")
        found.append(
            PublicAgreement(
                consumer=row.consumer,
                name=name.strip()[:200] if isinstance(name, str) else "",
                state=row.state,
                since=since,
                until=row.updated_at if row.state == TERMINATED else None,
            )
        )
    return found, int(total)


def _timestamp(value: Any) -> float | None:
    moment = parse_instant(value)
    return moment.timestamp() if moment is not None else None


# --- data requests ------------------------------------------------------------


async def submit_data_request(request: web.Request) -> web.Response:
    """The enforced write function: ask the node for data it does not publish."""
    if request.content_type != "application/json":
        return web.json_response({"error": "expected application/json"}, status=415)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return web.json_response({"error": "body is not valid JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "expected a JSON object"}, status=400)
    subject = body.get("subject")
    message = body.get("message")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
        return web.json_response({"error": "subject: 1 to 200 characters"}, status=400)
    if not isinstance(message, str) or not message.strip() or len(message) > 5000:
        return web.json_response({"error": "message: 1 to 5000 characters"}, status=400)
    node = request.app[NODE]

    async def save(conn: Any) -> int:
        result = await conn.execute(
            data_requests.insert()
            .values(
                caller=None, subject=subject, message=message, created_at=time.time()
            )
            .returning(data_requests.c.id)
        )
        return int(result.scalar_one())

    number = await node.writer.submit(save)
    return web.json_response({"id": number, "status": "received"}, status=201)


# --- administrators -----------------------------------------------------------


async def list_agreements(request: web.Request) -> web.Response:
    role = request.query.get("role")
    return web.json_response(await request.app[NODE].contracts.list(role))


async def request_agreement(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read())
        offer = body["offer"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return web.json_response({"error": 'expected {"offer": IRI}'}, status=400)
    try:
        seq = await request.app[NODE].contracts.request(str(offer), body.get("policy"))
    except ContractError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"id": seq, "state": "requested"}, status=201)


async def act_on_agreement(request: web.Request) -> web.Response:
    contracts = request.app[NODE].contracts
    seq = int(request.match_info["seq"])
    action = request.match_info["action"]
    try:
        if action in ("approve", "reject"):
            await contracts.decide(seq, accept=action == "approve")
        elif action == "terminate":
            await contracts.terminate(seq)
        else:
            token = await contracts.issue_token(seq)
            return web.json_response({"token": token}, status=201)
    except ContractError as exc:
        return web.json_response({"error": str(exc)}, status=409)
    return web.json_response({"id": seq, "done": action})


def setup_contract_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/services/{slug}/ledger", ledger)
    router.add_post("/data-requests", submit_data_request)
    router.add_get(f"{PREFIX}/agreements", list_agreements)
    router.add_post(f"{PREFIX}/agreements", request_agreement)
    router.add_post(
        f"{PREFIX}/agreements/{{seq:\\d+}}/{{action:approve|reject|terminate|token}}",
        act_on_agreement,
    )
