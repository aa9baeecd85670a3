"""Tests for protocol.dcat: published records, RDF exports and SHACL shapes."""

from __future__ import annotations

import copy
import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

import pyshacl
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, RDFS, SH

from protocol import dcat, integrity
from protocol.dcat import (
    CONTEXT,
    MEDIA_TYPES,
    catalog_graph,
    dataset_record,
    serialize,
    service_record,
    to_graph,
)
from protocol.jsonld import AS_PUBLIC, JsonLdProcessingError
from protocol.records import (
    Dataset,
    Hours,
    Quota,
    Service,
    decode_dataset,
    decode_service,
)

# rdflib's own JSON-LD parser (given expanded JSON-LD by to_graph) builds a
# ConjunctiveGraph internally; the deprecation is rdflib's, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning"
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
DCAT_AP = VECTORS / "dcat-ap-3.0.1"
PROFILE = Path(dcat.__file__).parent / "profile"
DCATNS = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
BOCAGE = Namespace("https://w3id.org/bocage/ns#")
SCHEMA = Namespace("http://schema.org/")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")

NODE = "https://bocage.pays-de-redon.example"
ACTOR = f"{NODE}/actor"
DATASET_IRI = f"{NODE}/datasets/collecte-dechets"
SERVICE_IRI = f"{NODE}/services/api-collecte"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
# Mastodon keeps these tags (INTEROP.md, "Activities").
MASTODON_TAGS = frozenset(
    {
        "p",
        "br",
        "span",
        "a",
        "del",
        "pre",
        "code",
        "em",
        "strong",
        "b",
        "i",
        "u",
        "ul",
        "ol",
        "li",
        "blockquote",
    }
)

DATASET: dict[str, Any] = {
    "slug": "collecte-dechets",
    "title": "Calendrier de collecte des déchets",
    "description": (
        "Jours de collecte des ordures ménagères, du tri sélectif et du verre "
        "pour les 31 communes de l'agglomération.\n\n"
        "Mis à jour chaque année en décembre.\n"
        "Source : service environnement & propreté."
    ),
    "keywords": ["collecte", "déchets", "tri"],
    "themes": ["http://publications.europa.eu/resource/authority/data-theme/ENVI"],
    "license": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
    "access_rights": "http://publications.europa.eu/resource/authority/access-right/PUBLIC",
    "language": ["fr"],
    "spatial": ["https://geo.api.gouv.fr/epcis/243500741"],
    "temporal_start": "2025-01-01",
    "temporal_end": "2025-12-31",
    "accrual_periodicity": (
        "http://publications.europa.eu/resource/authority/frequency/ANNUAL"
    ),
    "contact_name": "Service environnement",
    "contact_email": "environnement@redon-agglomeration.example",
    "landing_page": "https://www.redon-agglomeration.example/dechets",
    "conforms_to": ["https://schema.data.gouv.fr/etalab/schema-calendrier"],
    "distributions": [
        {
            "title": "Calendrier 2025 (CSV)",
            "media_type": "text/csv",
            "format": "CSV",
            "byte_size": 18234,
            "stored_file": SHA,
        },
        {
            "title": "Calendrier 2025 (GeoJSON)",
            "access_url": "https://geo.redon-agglomeration.example/collecte",
            "download_url": "https://geo.redon-agglomeration.example/collecte.geojson",
            "media_type": "application/geo+json",
            "format": "GEOJSON",
            "license": "https://opendatacommons.org/licenses/odbl/1-0/",
        },
    ],
}

SERVICE: dict[str, Any] = {
    "slug": "api-collecte",
    "title": "API des tournées de collecte",
    "description": "Position des bennes et avancement des tournées, en temps réel.",
    "endpoint_url": "https://api.redon-agglomeration.example/collecte/v1",
    "endpoint_description": (
        "https://api.redon-agglomeration.example/collecte/v1/openapi.json"
    ),
    "conforms_to": ["https://spec.openapis.org/oas/v3.1.0"],
    "formats": ["JSON"],
    "serves_datasets": [DATASET_IRI],
    "keywords": ["collecte", "temps réel"],
    "themes": ["http://publications.europa.eu/resource/authority/data-theme/ENVI"],
    "license": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
    "contact_name": "Service numérique",
    "contact_email": "numerique@redon-agglomeration.example",
    "offer": {
        "permissions": [
            {
                "action": "read",
                "constraints": [
                    {
                        "left": "dateTime",
                        "operator": "lteq",
                        "right": "2026-06-30T23:59:59+02:00",
                    },
                    {"left": "count", "operator": "lteq", "right": 100000},
                ],
                "duties": [
                    {
                        "action": "compensate",
                        "amount": 12.5,
                        "currency": "EUR",
                        "unit": "month",
                    },
                    {
                        "action": "reciprocate",
                        "note": "signaler les erreurs de tournée",
                    },
                ],
            },
            {
                "action": "use",
                "constraints": [
                    {
                        "left": "spatial",
                        "operator": "eq",
                        "right": "https://geo.api.gouv.fr/epcis/243500741",
                    }
                ],
            },
        ],
        "prohibitions": [{"action": "distribute"}],
        "timezone": "Europe/Paris",
        "hours": [
            {
                "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
                "opens": "06:00",
                "closes": "20:00",
            },
            # Night window for batch jobs: crosses midnight.
            {"days": ["Saturday"], "opens": "22:00", "closes": "05:00"},
        ],
        "quotas": [
            {"limit": 1000, "period": "P1D"},
            {"limit": 500000000, "period": "P1M", "unit": "byte"},
        ],
        "authentication": ["agreement-token", "http-signature"],
        "audience": "members",
    },
}


def _file_url(sha: str) -> str:
    return f"{NODE}/files/{sha}"


def _context(iri: str) -> dict[str, Any]:
    return {
        "iri": iri,
        "actor": ACTOR,
        "actor_name": "Redon Agglomération",
        "followers": f"{ACTOR}/followers",
        "html_url": iri.replace("/datasets/", "/d/").replace("/services/", "/s/"),
        "published": datetime(2025, 1, 6, 9, 30, tzinfo=UTC),
        "updated": datetime(2025, 3, 2, 17, 5, 12, tzinfo=UTC),
        "file_url": _file_url,
    }


def make_dataset_record(ds: Dataset | None = None) -> dict[str, Any]:
    return dataset_record(ds or decode_dataset(DATASET), **_context(DATASET_IRI))


def make_service_record(sv: Service | None = None) -> dict[str, Any]:
    return service_record(sv or decode_service(SERVICE), **_context(SERVICE_IRI))


# --- SHACL helpers -----------------------------------------------------------


class Result(NamedTuple):
    severity: str  # "Violation", "Warning", "Info"
    focus: str
    path: str


class Shapes(NamedTuple):
    core: Graph  # DCAT-AP mandatory constraints plus class ranges
    recommended: Graph  # DCAT-AP recommendations, all sh:Warning
    profile: Graph


@pytest.fixture(scope="module")
def shapes() -> Shapes:
    if not DCAT_AP.is_dir():
        pytest.skip(f"DCAT-AP 3.0.1 shapes not found at {DCAT_AP}")
    # shapes.ttl holds the mandatory and cardinality constraints; range.ttl the
    # class of each property's values (SOURCE.txt; DCAT-AP 3.0.1 "Validation").
    # Both are sh:Violation, so they are checked together.  The recommended
    # shapes are sh:Warning: advice, reported but not failing.
    core = Graph().parse(DCAT_AP / "shapes.ttl")
    core.parse(DCAT_AP / "range.ttl")
    recommended = Graph().parse(DCAT_AP / "shapes_recommended.ttl")
    profile = Graph().parse(PROFILE / "shapes.ttl")
    return Shapes(core, recommended, profile)


def validate(data: Graph, shapes_graph: Graph) -> list[Result]:
    _conforms, report, _text = pyshacl.validate(data, shacl_graph=shapes_graph)
    assert isinstance(report, Graph)
    results = []
    for node in report.subjects(RDF.type, SH.ValidationResult):
        severity = report.value(node, SH.resultSeverity)
        path = report.value(node, SH.resultPath)
        results.append(
            Result(
                str(severity).rsplit("#", 1)[-1],
                str(report.value(node, SH.focusNode)),
                compact(str(path)) if isinstance(path, URIRef) else str(path),
            )
        )
    return sorted(results)


PREFIXES = {
    **{prefix: iri for prefix, iri in CONTEXT.items() if isinstance(iri, str)},
    "dcatap": "http://data.europa.eu/r5r/",
}


def compact(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri.removeprefix(namespace)}"
    return iri


def violations(results: list[Result]) -> list[Result]:
    return [r for r in results if r.severity == "Violation"]


# Recommendations the records cannot meet truthfully from the authored input:
# bbox/centroid of a place named only by its IRI, a distribution's planned
# availability and free-text description, and the ADMS type of the publisher
# and of a licence.  They stay warnings on those auxiliary nodes only.
ALLOWED_WARNINGS = {
    "dcat:bbox",
    "dcat:centroid",
    "dcatap:availability",
    "dct:description",
    "dct:type",
}


# --- the record document -----------------------------------------------------


def test_dataset_record_shape() -> None:
    doc = make_dataset_record()

    assert doc["@context"][:2] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/data-integrity/v1",
    ]
    assert doc["@context"][2] == CONTEXT
    assert doc["id"] == DATASET_IRI
    assert doc["type"] == ["Article", "dcat:Dataset"]
    assert doc["attributedTo"] == ACTOR
    assert doc["to"] == [AS_PUBLIC]
    assert doc["cc"] == [f"{ACTOR}/followers"]
    assert doc["published"] == "2025-01-06T09:30:00Z"
    assert doc["updated"] == "2025-03-02T17:05:12Z"
    assert doc["dct:publisher"] == {
        "id": ACTOR,
        "type": "foaf:Agent",
        "foaf:name": "Redon Agglomération",
    }
    first, second = doc["dcat:distribution"]
    assert first["id"] == f"{DATASET_IRI}#dist-1"
    # A stored file: its URL is both the access and the download URL.
    assert first["dcat:accessURL"] == first["dcat:downloadURL"] == _file_url(SHA)
    assert first["spdx:checksum"]["spdx:checksumValue"] == SHA
    assert first["dct:license"]["id"] == DATASET["license"]
    odbl = "https://opendatacommons.org/licenses/odbl/1-0/"
    assert second["dct:license"]["id"] == odbl
    assert doc["dcat:contactPoint"]["vcard:hasEmail"] == (
        "mailto:environnement@redon-agglomeration.example"
    )


def test_record_is_deterministic() -> None:
    assert json.dumps(make_dataset_record()) == json.dumps(make_dataset_record())
    assert json.dumps(make_service_record()) == json.dumps(make_service_record())


def test_profile_context_file_equals_inline_context() -> None:
    served = json.loads((PROFILE / "context.jsonld").read_text(encoding="utf-8"))
    assert served == {"@context": CONTEXT}


def test_profile_vocabulary_labels_every_term_in_both_languages() -> None:
    vocab = Graph().parse(PROFILE / "bocage.ttl")
    used = {
        _expand(value)
        for value in json.dumps(make_service_record()).split('"')
        if value.startswith("bocage:")
    }
    assert used
    for term in used:
        languages = {
            label.language
            for label in vocab.objects(URIRef(term), RDFS.label)
            if isinstance(label, Literal)
        }
        assert {"en", "fr"} <= languages, term


def _expand(compact: str) -> str:
    return str(BOCAGE) + compact.removeprefix("bocage:")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


@pytest.mark.parametrize("make", [make_dataset_record, make_service_record])
def test_record_reads_as_a_mastodon_article(make: Any) -> None:
    doc = make()

    # INTEROP.md: Article becomes name + summary + a link to url.
    assert "Article" in doc["type"]
    assert doc["name"]
    assert doc["url"].startswith("https://")
    assert doc["summary"] and "<" not in doc["summary"]
    assert len(doc["summary"]) <= 500
    parser = _Tags()
    parser.feed(doc["content"])
    assert parser.tags <= MASTODON_TAGS
    assert doc["content"].startswith("<p>")


def test_description_is_escaped_in_content_and_plain_in_summary() -> None:
    doc = make_dataset_record()
    assert doc["content"].count("<p>") == 2
    assert "<br>" in doc["content"]
    assert "environnement &amp; propreté" in doc["content"]
    assert "environnement & propreté" in doc["summary"]
    assert "\n" not in doc["summary"]
    assert doc["contentMap"] == {"fr": doc["content"]}

    hostile = {**DATASET, "description": '<script>alert("x")</script> <b>gras</b>'}
    content = make_dataset_record(decode_dataset(hostile))["content"]
    assert content == (
        '<p>&lt;script&gt;alert("x")&lt;/script&gt; &lt;b&gt;gras&lt;/b&gt;</p>'
    )


def test_record_can_be_signed_and_verified() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signed = integrity.create_proof(make_service_record(), key, f"{ACTOR}#ed25519-key")
    verified = integrity.verify_proof_with_key(signed, key.public_key())
    assert verified.verification_method == f"{ACTOR}#ed25519-key"
    # The proof does not get in the way of the RDF reading.
    assert (URIRef(SERVICE_IRI), RDF.type, DCATNS.DataService) in to_graph(signed)


def test_long_description_gives_a_short_summary() -> None:
    long_text = "Recensement des arbres d'alignement. " * 40
    doc = make_dataset_record(decode_dataset({**DATASET, "description": long_text}))
    assert len(doc["summary"]) <= 500
    assert doc["summary"].endswith("…")
    assert doc["dct:description"] == long_text


def test_service_offer_uses_odrl_terms() -> None:
    policy = make_service_record()["odrl:hasPolicy"]

    assert policy["id"] == f"{SERVICE_IRI}#offer"
    assert policy["type"] == "odrl:Offer"
    assert policy["odrl:assigner"] == ACTOR
    assert policy["odrl:target"] == SERVICE_IRI
    read = policy["odrl:permission"][0]
    assert read["odrl:action"] == "odrl:read"
    window, count = read["odrl:constraint"]
    assert window["odrl:leftOperand"] == "odrl:dateTime"
    assert window["odrl:rightOperand"]["@type"] == "xsd:dateTime"
    assert count["odrl:operator"] == "odrl:lteq"
    pay = read["odrl:duty"][0]["odrl:action"]
    assert pay["rdf:value"] == {"id": "odrl:compensate"}
    assert pay["odrl:refinement"]["odrl:leftOperand"] == "odrl:payAmount"
    assert pay["odrl:refinement"]["odrl:unit"].endswith("/currency/EUR")
    assert policy["odrl:prohibition"][0]["odrl:action"] == "odrl:distribute"
    assert policy["schema:hoursAvailable"][1]["schema:opens"] == "22:00:00"
    assert [q["bocage:limit"] for q in policy["bocage:quota"]] == [1000, 500000000]


# --- RDF and SHACL ---------------------------------------------------------------


def test_graph_has_no_blank_nodes_and_types_both_ways() -> None:
    graph = to_graph(make_dataset_record())
    subject = URIRef(DATASET_IRI)
    assert (subject, RDF.type, DCATNS.Dataset) in graph
    assert (
        subject,
        RDF.type,
        URIRef("https://www.w3.org/ns/activitystreams#Article"),
    ) in graph
    assert not any(isinstance(node, BNode) for triple in graph for node in triple)


def test_dataset_conforms_to_dcat_ap(shapes: Shapes) -> None:
    graph = to_graph(make_dataset_record())

    assert validate(graph, shapes.core) == []
    advice = validate(graph, shapes.recommended)
    assert violations(advice) == []
    assert [r for r in advice if r.focus == DATASET_IRI] == []
    assert {r.path for r in advice} <= ALLOWED_WARNINGS
    assert validate(graph, shapes.profile) == []


def test_service_conforms_to_dcat_ap_and_profile(shapes: Shapes) -> None:
    service = to_graph(make_service_record())
    # dcat:servesDataset must name a dcat:Dataset (range.ttl): the served
    # dataset's own record says so, as it does in any catalogue.
    together = service + to_graph(make_dataset_record())

    assert validate(together, shapes.core) == []
    advice = validate(service, shapes.recommended)
    assert [r for r in advice if r.focus == SERVICE_IRI] == []
    assert {r.path for r in advice} <= ALLOWED_WARNINGS
    assert validate(service, shapes.profile) == []


def _catalog() -> Graph:
    return catalog_graph(
        iri=f"{NODE}/catalog",
        title="Données de Redon Agglomération",
        description="Jeux de données et services publiés par l'agglomération.",
        publisher_iri=ACTOR,
        publisher_name="Redon Agglomération",
        records=[make_dataset_record(), make_service_record()],
        homepage=f"{NODE}/",
        license="https://www.etalab.gouv.fr/licence-ouverte-open-licence",
    )


def test_catalog_conforms(shapes: Shapes) -> None:
    graph = _catalog()
    catalog = URIRef(f"{NODE}/catalog")

    assert (catalog, DCATNS.dataset, URIRef(DATASET_IRI)) in graph
    assert (catalog, DCATNS.service, URIRef(SERVICE_IRI)) in graph
    assert validate(graph, shapes.core) == []
    advice = validate(graph, shapes.recommended)
    assert [r for r in advice if r.focus == str(catalog)] == []
    assert {r.path for r in advice} <= ALLOWED_WARNINGS
    assert validate(graph, shapes.profile) == []


def test_broken_records_do_not_conform(shapes: Shapes) -> None:
    # Built without decode_*, which would refuse them before publishing.
    ds = decode_dataset(DATASET)
    ds.title = ""
    sv = decode_service(SERVICE)
    sv.offer.quotas.append(Quota(limit=-5, period="P1D"))
    sv.offer.hours.append(Hours(days=["Sunday"], opens="25:00", closes="26:00"))

    dataset_results = validate(to_graph(make_dataset_record(ds)), shapes.core)
    assert ("Violation", DATASET_IRI, "dct:title") in dataset_results
    profile_results = validate(to_graph(make_service_record(sv)), shapes.profile)
    paths = {r.path for r in violations(profile_results)}
    assert {"bocage:limit", "schema:opens", "schema:closes"} <= paths


def test_offer_without_permission_does_not_conform(shapes: Shapes) -> None:
    doc = make_service_record()
    doc["odrl:hasPolicy"]["odrl:permission"] = []
    results = validate(to_graph(doc), shapes.profile)
    assert [r.path for r in violations(results)] == ["odrl:permission"]


def test_unknown_authentication_value_does_not_conform(shapes: Shapes) -> None:
    doc = make_service_record()
    doc["odrl:hasPolicy"]["bocage:authentication"] = ["bocage:Password"]
    results = validate(to_graph(doc), shapes.profile)
    assert [r.path for r in violations(results)] == ["bocage:authentication"]


@pytest.mark.parametrize("fmt", ["turtle", "xml", "json-ld"])
def test_export_reparses_to_an_isomorphic_graph(fmt: Any) -> None:
    graph = _catalog()
    data = serialize(graph, fmt)
    again = Graph().parse(data=data, format=fmt)
    assert isomorphic(graph, again)
    assert MEDIA_TYPES[fmt].startswith(("text/", "application/"))


def test_turtle_export_uses_the_usual_prefixes() -> None:
    text = serialize(to_graph(make_service_record()), "turtle").decode()
    for prefix in ("dcat", "dct", "odrl", "schema", "bocage", "as"):
        assert re.search(rf"^@prefix {prefix}: ", text, re.MULTILINE), prefix


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network use")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


def test_to_graph_refuses_unbundled_context(no_network: None) -> None:
    doc = copy.deepcopy(make_dataset_record())
    doc["@context"].append("https://data.example/contexts/extra.jsonld")
    with pytest.raises(JsonLdProcessingError, match="not bundled"):
        to_graph(doc)


def test_to_graph_needs_no_network(no_network: None) -> None:
    assert len(to_graph(make_service_record())) > 50
