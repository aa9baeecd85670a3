"""Tests for protocol.dcat.parse_catalogue: importing DCAT catalogues."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.dcat import (
    CONTEXT,
    ImportResult,
    Refusal,
    catalog_graph,
    parse_catalogue,
    serialize,
)
from protocol.records import (
    SLUG_RE,
    Distribution,
    Offer,
    RecordError,
    decode_dataset,
    decode_service,
)
from tests.protocol.test_dcat import (
    ACTOR,
    DATASET,
    DATASET_IRI,
    NODE,
    SERVICE,
    SERVICE_IRI,
    SHA,
    make_dataset_record,
    make_service_record,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning"
)

DATA = Path(__file__).resolve().parent / "data"
TURTLE = "text/turtle"
JSONLD = "application/ld+json"
RDFXML = "application/rdf+xml"
REDON = "https://data.redon-agglomeration.example"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network use")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


def load(name: str, media_type: str) -> ImportResult:
    return parse_catalogue((DATA / name).read_bytes(), media_type)


def test_turtle_catalogue(no_network: None) -> None:
    result = load("catalogue_pays_de_redon.ttl", TURTLE)

    # Subjects are read in IRI order; the same last segment twice: the second
    # one gets a short hash of its IRI.
    slugs = [d.slug for d in result.datasets]
    assert slugs[:2] == ["bornes-irve", "collecte-dechets"]
    assert slugs[2].startswith("bornes-irve-") and SLUG_RE.match(slugs[2])
    waste = next(d for d in result.datasets if d.slug == "collecte-dechets")
    # French is preferred over English.
    assert waste.title == "Calendrier de collecte des déchets"
    assert waste.keywords == ["collecte", "déchets"]
    assert waste.language == ["fr"]
    assert (waste.temporal_start, waste.temporal_end) == ("2025-01-01", "2025-12-31")
    assert waste.contact_email == "environnement@redon-agglomeration.example"
    assert waste.distributions == [
        Distribution(
            title="Calendrier 2025 (CSV)",
            access_url=f"{REDON}/fichiers/collecte-2025.csv",
            download_url=f"{REDON}/fichiers/collecte-2025.csv",
            media_type="text/csv",
            format="CSV",
            byte_size=18234,
            checksum_sha256=(
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            ),
        )
    ]
    archive = next(d for d in result.datasets if d.title.endswith("(archive 2022)"))
    assert archive.temporal_start == "2022-01-01"  # schema:startDate, DCAT-AP 2

    api, wms = result.services
    assert api.slug == "api-dechets"
    offer = api.offer
    assert offer.permissions[0].action == "read"
    assert offer.permissions[0].constraints[0].right == 5000
    duty = offer.permissions[0].duties[0]
    assert (duty.action, duty.amount, duty.currency, duty.unit) == (
        "compensate",
        0.002,
        "EUR",
        "request",
    )
    assert offer.prohibitions[0].action == "distribute"
    assert offer.hours[0].days[0] == "Monday"
    assert (offer.quotas[0].limit, offer.quotas[0].period) == (1000, "P1D")
    assert offer.audience == "members"
    # No policy in the catalogue: the default offer permits read only.
    assert [r.action for r in wms.offer.permissions] == ["read"]
    assert wms.offer.prohibitions == []

    assert result.refused == [
        Refusal(f"{REDON}/jeux/sans-description", "description: required")
    ]


def test_jsonld_catalogue(no_network: None) -> None:
    result = load("catalogue_vilaine.jsonld", JSONLD)

    assert [d.slug for d in result.datasets] == [
        "crues-historiques",
        "qualite-eau-2024",
    ]
    water = result.datasets[1]
    assert water.title == "Qualité de l'eau de la Vilaine 2024"
    assert water.distributions[0].byte_size == 402113
    assert water.distributions[0].media_type == "text/csv"
    (hydro,) = result.services
    assert [r.action for r in hydro.offer.permissions] == ["read", "use"]
    (refusal,) = result.refused
    assert refusal.subject.endswith("/services/export")
    assert refusal.reason == "endpoint_url: required"


def test_rdfxml_catalogue(no_network: None) -> None:
    result = load("catalogue_vannes.rdf", RDFXML)

    (markets,) = result.datasets
    assert markets.slug == "marches-alimentaires"
    assert markets.title == "Marchés alimentaires"
    assert markets.language == ["br", "fr"]
    assert markets.contact_name == "Direction du commerce"
    assert markets.distributions[0].format == "JSON"
    (refusal,) = result.refused
    assert refusal.subject == "https://data.vannes.example/dataset/parkings-relais"
    assert refusal.reason.startswith("distributions[0].access_url:")
    assert "ftp://" in refusal.reason


@pytest.mark.parametrize(
    ("name", "media_type", "reason"),
    [
        ("malformed.ttl", TURTLE, "turtle:"),
        ("malformed.jsonld", JSONLD, "not JSON"),
        ("malformed.rdf", RDFXML, "xml:"),
        ("entity.rdf", RDFXML, "DOCTYPE"),
        ("remote_context.jsonld", JSONLD, "not bundled"),
        ("catalogue_vannes.rdf", "text/csv", "unsupported media type"),
    ],
)
def test_unreadable_input_raises_one_line(
    no_network: None, name: str, media_type: str, reason: str
) -> None:
    with pytest.raises(RecordError) as caught:
        load(name, media_type)
    assert caught.value.field == ""
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_remote_context_is_named_and_not_fetched(no_network: None) -> None:
    with pytest.raises(RecordError, match=r"dcat-ap\.jsonld.*never fetched"):
        load("remote_context.jsonld", JSONLD)


def test_media_type_parameters_are_ignored() -> None:
    data = (DATA / "catalogue_vannes.rdf").read_bytes()
    assert parse_catalogue(data, "application/rdf+xml; charset=utf-8").datasets


def test_export_then_import_gives_the_records_back(no_network: None) -> None:
    graph = catalog_graph(
        iri=f"{NODE}/catalog",
        title="Catalogue",
        description="Tout le catalogue.",
        publisher_iri=ACTOR,
        publisher_name="Redon Agglomération",
        records=[make_dataset_record(), make_service_record()],
        homepage=None,
    )
    for fmt, media_type in (("turtle", TURTLE), ("xml", RDFXML), ("json-ld", JSONLD)):
        result = parse_catalogue(serialize(graph, fmt), media_type)  # type: ignore[arg-type]

        assert result.refused == []
        (dataset,) = result.datasets
        (service,) = result.services
        # The stored file comes back as the links the record published.
        expected = decode_dataset(DATASET)
        stored = expected.distributions[0]
        stored.access_url = stored.download_url = f"{NODE}/files/{SHA}"
        stored.checksum_sha256, stored.stored_file = SHA, ""
        stored.license = expected.license
        assert dataset == expected, fmt
        assert dataset.slug == DATASET_IRI.rsplit("/", 1)[1]
        assert service.slug == SERVICE_IRI.rsplit("/", 1)[1]
        assert service.offer == _service_offer(), fmt
        assert service.serves_datasets == [DATASET_IRI]


def _service_offer() -> Offer:
    return decode_service(SERVICE).offer


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | st.sampled_from(
        [
            b'{"@context": {"@import": "https://x.example/c"}}',
            b'{"@id": "http://[", "@type": "http://www.w3.org/ns/dcat#Dataset"}',
            b"<http://[> a <http://www.w3.org/ns/dcat#Dataset> .",
            b'[{"@context": 5}]',
            b"<rdf:RDF/>",
        ]
    ),
    media_type=st.sampled_from([TURTLE, JSONLD, RDFXML]),
)
def test_arbitrary_input_only_raises_record_error(data: bytes, media_type: str) -> None:
    try:
        result = parse_catalogue(data, media_type)
    except RecordError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(result, ImportResult)


_TERMS = [
    "@id",
    "@type",
    "@value",
    "@language",
    "dct:title",
    "dct:description",
    "dct:language",
    "dct:temporal",
    "dct:format",
    "dcat:keyword",
    "dcat:startDate",
    "dcat:distribution",
    "dcat:accessURL",
    "dcat:byteSize",
    "dcat:endpointURL",
    "dcat:contactPoint",
    "vcard:hasEmail",
    "spdx:checksum",
    "spdx:checksumValue",
    "odrl:hasPolicy",
    "odrl:permission",
    "odrl:action",
    "odrl:constraint",
    "odrl:leftOperand",
    "odrl:rightOperand",
    "odrl:duty",
    "odrl:refinement",
    "rdf:value",
    "bocage:quota",
    "bocage:limit",
    "bocage:autoAccept",
    "schema:hoursAvailable",
    "schema:dayOfWeek",
    "schema:opens",
]
_SCALARS = (
    st.sampled_from(
        [
            "https://d.example/x",
            "odrl:read",
            "odrl:count",
            "odrl:compensate",
            "schema:Monday",
            "bocage:Members",
            "mailto:a@b",
            "25:00:00",
            "-3",
            "P1D",
            "dcat:Dataset",
            "dcat:DataService",
        ]
    )
    | st.text(max_size=12)
    | st.integers()
    | st.floats()
    | st.booleans()
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_TERMS), inner, max_size=4)
    ),
    max_leaves=12,
)
_SUBJECT = st.fixed_dictionaries(
    {
        "@id": st.sampled_from(["https://d.example/a/b", "http://[", "", "_:b0"])
        | st.text(max_size=10),
        "@type": st.sampled_from(["dcat:Dataset", "dcat:DataService"]),
    },
    optional={term: _JSON for term in _TERMS[4:]},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=st.lists(_SUBJECT, max_size=3))
def test_odd_catalogues_only_raise_record_error(graph: list[object]) -> None:
    document = {"@context": CONTEXT, "@graph": graph}
    try:
        result = parse_catalogue(json.dumps(document).encode(), JSONLD)
    except RecordError as exc:
        assert "\n" not in str(exc)
    else:
        for refusal in result.refused:
            assert refusal.reason
