"""A dataset published on A arrives verified on B and C, and stays verifiable."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from sqlalchemy import func, select

from protocol.httpsig import sign_request
from protocol.records import decode_dataset, decode_service
from storage.tables import records
from tests.federation.harness import RunningNode, eventually, running_nodes

DATASET: dict[str, Any] = {
    "slug": "bus-timetables",
    "title": "Horaires théoriques du réseau de bus",
    "description": "Horaires GTFS des 42 lignes de bus et de tramway, "
    "mis à jour chaque semaine.",
    "keywords": ["transport", "bus", "GTFS"],
    "themes": ["http://publications.europa.eu/resource/authority/data-theme/TRAN"],
    "license": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
    "contact_name": "Service données",
    "contact_email": "data@brest.test",
    "distributions": [
        {
            "title": "GTFS",
            "download_url": "https://brest.test/files/gtfs.zip",
            "media_type": "application/zip",
            "format": "ZIP",
        }
    ],
}

SERVICE: dict[str, Any] = {
    "slug": "parking-api",
    "title": "API d'occupation des parkings",
    "description": "Places libres en temps réel dans les 12 parkings relais.",
    "endpoint_url": "https://brest.test/api/parkings",
    "offer": {
        "permissions": [
            {
                "action": "read",
                "constraints": [
                    {"left": "dateTime", "operator": "lteq", "right": "2027-12-31"}
                ],
            }
        ],
        "hours": [{"days": ["Monday", "Tuesday"], "opens": "07:00", "closes": "21:00"}],
        "quotas": [{"limit": 1000, "period": "P1D"}],
    },
}


async def count(node: RunningNode, *where: Any) -> int:
    async with node.node.db.read() as conn:
        stmt = select(func.count()).select_from(records).where(*where)
        return int((await conn.execute(stmt)).scalar_one())


async def follow_all(followers: list[RunningNode], target: RunningNode) -> None:
    for follower in followers:
        await follower.node.federation.outbox.follow(
            follower.config.node.username, target.actor()
        )


async def test_dataset_arrives_verified_and_survives_its_origin(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 3) as (a, b, c):
        await follow_all([b, c], a)

        async def followed() -> bool:
            return len(await _followers(a)) == 2

        await eventually(followed, what="B and C follow A")
        document, created = await a.node.catalogue.put(decode_dataset(DATASET))
        assert created and document["proof"]["cryptosuite"] == "eddsa-jcs-2022"
        service_doc, _ = await a.node.catalogue.put(decode_service(SERVICE))

        for node in (b, c):

            async def mirrored(node: RunningNode = node) -> bool:
                return await count(node, records.c.mirrored) == 2

            await eventually(mirrored, what="records mirrored")

        row = await b.node.catalogue.get_by_iri(document["id"])
        assert row.document == document and row.origin == a.config.node.domain
        hits = (await _get(f"{b.origin}/catalogue/search?q=horaires"))["items"]
        assert [h["id"] for h in hits] == [document["id"]]
        assert hits[0]["mirrored"] is True

        # A goes offline: B still verifies its copy with the key it keeps.
        await a.runner.cleanup()
        await b.node.catalogue.verify(row.document, a.actor())
        status, headers, body = await _raw(f"{b.origin}/mirror?id={document['id']}")
        assert status == 200 and orjson.loads(body) == document
        assert headers["X-Bocage-Origin"] == a.config.node.domain
        assert service_doc["odrl:hasPolicy"]["type"] == "odrl:Offer"


async def test_tampered_copy_is_refused(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        await follow_all([b], a)

        async def followed() -> bool:
            return len(await _followers(a)) == 1

        await eventually(followed, what="B follows A")
        document, _ = await a.node.catalogue.put(decode_dataset(DATASET))
        await eventually(
            lambda: _has(b, document["id"]), what="genuine record mirrored"
        )

        # A's actor (its HTTP signature is genuine) pushes an altered record:
        # the proof no longer matches, so B keeps what it had.
        forged = copy.deepcopy(document)
        forged["name"] = forged["dct:title"] = "Horaires falsifiés"
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{a.origin}/activities/forged-1",
            "type": "Update",
            "actor": a.actor(),
            "object": forged,
        }
        body = orjson.dumps(activity)
        inbox = f"{b.origin}/inbox"
        headers = {"Content-Type": "application/activity+json"}
        headers |= sign_request(
            "POST", inbox, headers, body, a.node.keys.rsa,
            a.node.federation.fed.rsa_key_id(a.config.node.username),
        )  # fmt: skip
        async with (
            aiohttp.ClientSession() as http,
            http.post(inbox, data=body, headers=headers) as response,
        ):
            assert response.status == 202  # accepted for processing…
        await eventually(lambda: _inbox_done(b), what="the forged Update was processed")
        row = await b.node.catalogue.get_by_iri(document["id"])
        assert row.document["name"] == DATASET["title"]  # …but not believed


async def test_backfill_walks_the_whole_catalogue(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 2) as (a, b):
        for n in range(25):  # more than one page
            await a.node.catalogue.put(
                decode_dataset({**DATASET, "slug": f"set-{n}", "title": f"Jeu {n}"})
            )
        await a.node.catalogue.delete("Dataset", "set-0")
        await follow_all([b], a)

        async def all_mirrored() -> bool:
            return await count(b, records.c.mirrored) == 24

        await eventually(all_mirrored, within=20, what="24 records backfilled")


async def _followers(node: RunningNode) -> list[str]:
    page = await _get(f"{node.actor()}/followers?page=1")
    return list(page["orderedItems"])


async def _has(node: RunningNode, iri: str) -> bool:
    return await node.node.catalogue.get_by_iri(iri) is not None


async def _inbox_done(node: RunningNode) -> bool:
    counts = await node.node.jobs.counts()
    return counts["pending"] == 0 and counts["running"] == 0


async def _raw(
    url: str, accept: str = "application/activity+json"
) -> tuple[int, Any, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": accept}) as response,
    ):
        return response.status, response.headers, await response.read()


async def _get(url: str) -> Any:
    status, _, body = await _raw(url)
    assert status == 200, body
    return orjson.loads(body)
