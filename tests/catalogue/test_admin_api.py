"""The admin API: tokens, authoring, exports, imports that write nothing half-done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pyshacl
import pytest
import rdflib
from sqlalchemy import func, select

from protocol.records import decode_dataset, decode_service
from storage.tables import activities, records
from tests.catalogue.test_catalogue_federation import DATASET, SERVICE
from tests.conftest import SHARED
from tests.federation.harness import RunningNode, running_nodes

SHAPES = SHARED / "vectors" / "dcat-ap-3.0.1"


async def call(
    method: str, url: str, *, token: str | None = None, body: Any = None,
    content_type: str = "application/json", accept: str = "application/json",
) -> tuple[int, Any, bytes]:  # fmt: skip
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, data=data, headers=headers) as response,
    ):
        return response.status, response.headers, await response.read()


async def counts(node: RunningNode) -> tuple[int, int]:
    async with node.node.db.read() as conn:
        recs = (
            await conn.execute(select(func.count()).select_from(records))
        ).scalar_one()
        acts = (
            await conn.execute(select(func.count()).select_from(activities))
        ).scalar_one()
    return int(recs), int(acts)


async def test_authoring_through_the_api(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        api = f"{node.origin}/api/admin"
        assert (await call("PUT", f"{api}/datasets/x", body=DATASET))[0] == 401
        assert (
            await call("PUT", f"{api}/datasets/x", token="bocage_wrong", body=DATASET)
        )[0] == 401
        token = await node.node.tokens.create("ci")

        status, _, body = await call(
            "PUT", f"{api}/datasets/bus-timetables", token=token, body=DATASET
        )
        assert status == 201, body
        record = orjson.loads(body)
        assert record["id"] == f"{node.origin}/datasets/bus-timetables"
        status, _, _ = await call(
            "PUT", f"{api}/datasets/bus-timetables", token=token, body=DATASET
        )
        assert status == 200

        bad = {**DATASET, "slug": "broken", "contact_email": "nobody"}
        status, _, body = await call(
            "PUT", f"{api}/datasets/broken", token=token, body=bad
        )
        assert status == 400 and orjson.loads(body)["field"] == "contact_email"
        status, _, _ = await call(
            "PUT",
            f"{api}/datasets/x",
            token=token,
            body=b"x",
            content_type="text/plain",
        )
        assert status == 415
        status, _, body = await call(
            "PUT", f"{api}/services/parking-api", token=token, body=SERVICE
        )
        assert status == 201, body

        # Served on its IRI: AS JSON, Turtle, HTML; then withdrawn: 410.
        iri = record["id"]
        status, headers, body = await call(
            "GET", iri, accept="application/activity+json"
        )
        assert status == 200 and orjson.loads(body)["proof"]
        status, headers, body = await call("GET", iri, accept="text/turtle")
        assert status == 200 and headers["Content-Type"].startswith("text/turtle")
        assert len(rdflib.Graph().parse(data=body, format="turtle")) > 10
        assert (await call("DELETE", f"{api}/datasets/bus-timetables", token=token))[
            0
        ] == 204
        assert (await call("GET", iri, accept="application/activity+json"))[0] == 410
        assert (await call("DELETE", f"{api}/datasets/bus-timetables", token=token))[
            0
        ] == 404

        # A revoked token stops working at once.
        await node.node.tokens.revoke("ci")
        assert (await call("DELETE", f"{api}/services/parking-api", token=token))[
            0
        ] == 401

        status, _, body = await call("GET", f"{api}/openapi.json")
        spec = orjson.loads(body)
        assert spec["openapi"].startswith("3.") and "/datasets/{slug}" in spec["paths"]


async def test_import_refuses_malformed_input_and_writes_nothing(
    tmp_path: Path,
) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        token = await node.node.tokens.create("importer")
        url = f"{node.origin}/api/admin/import"
        before = await counts(node)
        status, _, body = await call(
            "POST",
            url,
            token=token,
            body=b"@prefix dcat: <broken",
            content_type="text/turtle",
        )
        assert status == 400 and orjson.loads(body)["error"]
        assert await counts(node) == before

        turtle = b"""
        @prefix dcat: <http://www.w3.org/ns/dcat#> .
        @prefix dct: <http://purl.org/dc/terms/> .
        <https://old.example/dataset/air-quality> a dcat:Dataset ;
            dct:title "Qualit\xc3\xa9 de l'air"@fr ;
            dct:description "Mesures horaires des stations."@fr .
        <https://old.example/dataset/no-title> a dcat:Dataset ;
            dct:description "Sans titre."@fr .
        """
        status, _, body = await call(
            "POST", url, token=token, body=turtle, content_type="text/turtle"
        )
        assert status == 200, body
        summary = orjson.loads(body)
        assert summary["created"] == ["air-quality"]
        assert [r["subject"] for r in summary["refused"]] == [
            "https://old.example/dataset/no-title"
        ]
        assert await counts(node) == (before[0] + 1, before[1] + 1)


@pytest.mark.skipif(not SHAPES.is_dir(), reason=f"DCAT-AP shapes not found at {SHAPES}")
async def test_catalogue_export_passes_dcat_ap_shapes(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        await node.node.catalogue.put(decode_dataset(DATASET))
        await node.node.catalogue.put(decode_service(SERVICE))
        for fmt, parse_as in (("ttl", "turtle"), ("rdf", "xml"), ("jsonld", "json-ld")):
            status, _, body = await call(
                "GET", f"{node.origin}/catalogue?page=1&format={fmt}"
            )
            assert status == 200, body
            graph = rdflib.Graph().parse(data=body, format=parse_as)
            shapes = rdflib.Graph()
            for name in ("shapes.ttl", "range.ttl"):
                shapes.parse(SHAPES / name, format="turtle")
            conforms, _, report = pyshacl.validate(graph, shacl_graph=shapes)
            assert conforms, report
