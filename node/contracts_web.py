"""Contract routes: the public usage ledger, the data-request write function,
and the administrators' view of agreements."""

from __future__ import annotations

import html
import time
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import func, select

from node.activitypub import PAGE_SIZE, as_response, layout, wants_html
from node.admin import PREFIX
from node.appkeys import NODE
from node.contracts import PROVIDER, ContractError
from storage.tables import agreements, data_requests, usage_daily


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
    stmt = (
        select(agreements.c.consumer, usage_daily.c.day, func.sum(usage_daily.c.calls))
        .join(agreements, agreements.c.seq == usage_daily.c.agreement_seq)
        .where(agreements.c.role == PROVIDER, agreements.c.offer_id == row.id)
        .group_by(agreements.c.consumer, usage_daily.c.day)
        .order_by(usage_daily.c.day.desc(), agreements.c.consumer)
    )
    await node.meter.flush()  # show what was counted up to now
    async with node.db.read() as conn:
        rows = (
            await conn.execute(stmt.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE))
        ).all()
    more = len(rows) > PAGE_SIZE
    items = [
        {"type": "bocage:Usage", "consumer": r[0], "day": r[1], "calls": int(r[2])}
        for r in rows[:PAGE_SIZE]
    ]
    if wants_html(request):
        body = "".join(
            f"<tr><td>{html.escape(i['day'])}</td><td>{html.escape(i['consumer'])}</td>"
            f"<td>{i['calls']}</td></tr>"
            for i in items
        )
        title = f"Usage of {row.title}"
        return web.Response(
            text=layout(
                title,
                f"<h1>{html.escape(title)}</h1><table><thead><tr><th>Day (UTC)</th>"
                f"<th>Node</th><th>Calls</th></tr></thead><tbody>{body}</tbody></table>",
            ),
            content_type="text/html",
        )
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


# --- administrators -------------------------------------------------------------


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
