"""Catalogue records as published documents, as RDF, and back from RDF.

Three jobs, all pure (no I/O; contexts come from the bundled files):

* :func:`dataset_record` / :func:`service_record` turn an authored
  :class:`~protocol.records.Dataset` or :class:`~protocol.records.Service`
  into one compact JSON-LD object that is at the same time an ActivityStreams
  ``Article`` (Mastodon shows its ``name``, ``summary`` and ``url``) and a
  DCAT-AP 3.0.1 ``dcat:Dataset`` or ``dcat:DataService``.  A service carries
  its contract as an ODRL 2.2 ``odrl:Offer`` plus the Bocage profile terms
  (``https://w3id.org/bocage/ns#``; vocabulary and SHACL shapes in
  ``protocol/profile/``).  The caller signs the result (protocol.integrity).
* :func:`to_graph`, :func:`catalog_graph` and :func:`serialize` give the RDF
  exports (Turtle, RDF/XML, JSON-LD) that the DCAT-AP shapes validate.
* :func:`parse_catalogue` reads a DCAT catalogue (Turtle, JSON-LD, RDF/XML)
  into authored records, refusing subjects that do not validate.

Nothing here fetches a context or any other URL: JSON-LD is expanded with the
offline loader of :mod:`protocol.jsonld` before rdflib sees it, so rdflib never
meets an ``@context``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

from rdflib import BNode, Graph, Namespace, URIRef
from rdflib import Literal as RdfLiteral
from rdflib.namespace import RDF, XSD
from rdflib.term import Node

from protocol.jsonld import (
    ACTIVITYSTREAMS,
    AS_PUBLIC,
    ContextLoadError,
    DocumentError,
    JsonLdProcessingError,
    check_raw_depth,
    expand,
)
from protocol.records import (
    AUDIENCE_TERMS,
    AUTHENTICATION_TERMS,
    AUTO_ACCEPT_TERMS,
    DUTY_ACTION_TERMS,
    QUOTA_UNIT_TERMS,
    SLUG_RE,
    TRANSPORT_TERMS,
    Constraint,
    Dataset,
    Distribution,
    Duty,
    Hours,
    Offer,
    Quota,
    RecordError,
    Rule,
    Service,
    decode_dataset,
    decode_service,
)

__all__ = [
    "BOCAGE",
    "CONTEXT",
    "MEDIA_TYPES",
    "ImportResult",
    "Refusal",
    "catalog_graph",
    "dataset_record",
    "parse_catalogue",
    "serialize",
    "service_record",
    "to_graph",
]

BOCAGE: Final = "https://w3id.org/bocage/ns#"
DATA_INTEGRITY_V1: Final = "https://w3id.org/security/data-integrity/v1"
MEDIA_TYPES: Final = {
    "turtle": "text/turtle",
    "xml": "application/rdf+xml",
    "json-ld": "application/ld+json",
}
SUMMARY_MAX: Final = 500
# Imports are off the hot path but still bounded (body size, JSON nesting).
MAX_IMPORT_BYTES: Final = 16 * 1024 * 1024
MAX_JSON_DEPTH: Final = 64

_PREFIXES: Final = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "schema": "http://schema.org/",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "adms": "http://www.w3.org/ns/adms#",
    "locn": "http://www.w3.org/ns/locn#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "bocage": BOCAGE,
}
_ID: Final = {"@type": "@id"}
_IRI_TERMS: Final = (
    "dcat:accessURL",
    "dcat:downloadURL",
    "dcat:endpointURL",
    "dcat:endpointDescription",
    "dcat:servesDataset",
    "dcat:landingPage",
    "dcat:theme",
    "dcat:themeTaxonomy",
    "dcat:mediaType",
    "dct:format",
    "dct:license",
    "dct:accessRights",
    "dct:language",
    "dct:spatial",
    "dct:accrualPeriodicity",
    "dct:conformsTo",
    "foaf:homepage",
    "vcard:hasEmail",
    "spdx:algorithm",
    "skos:inScheme",
    "odrl:assigner",
    "odrl:target",
    "odrl:action",
    "odrl:leftOperand",
    "odrl:operator",
    "odrl:unit",
    "schema:dayOfWeek",
    "bocage:authentication",
    "bocage:transportSecurity",
    "bocage:audience",
    "bocage:autoAccept",
    "bocage:unit",
)

# The inline context every record embeds (and protocol/profile/context.jsonld
# serves).  Terms are the prefixed names themselves, so a reader sees the
# vocabulary in the keys; definitions only add what RDF needs: IRIs as @id
# (DCAT-AP 3.0.1 asks BlankNodeOrIRI for these) and literal datatypes.
CONTEXT: Final[dict[str, Any]] = {
    **_PREFIXES,
    **{term: dict(_ID) for term in _IRI_TERMS},
    "dct:issued": {"@type": "xsd:dateTime"},
    "dct:modified": {"@type": "xsd:dateTime"},
    "dcat:byteSize": {"@type": "xsd:nonNegativeInteger"},
    "spdx:checksumValue": {"@type": "xsd:hexBinary"},
    "schema:opens": {"@type": "xsd:time"},
    "schema:closes": {"@type": "xsd:time"},
    "bocage:limit": {"@type": "xsd:nonNegativeInteger"},
    "bocage:period": {"@type": "xsd:duration"},
}

_NS = {prefix: Namespace(iri) for prefix, iri in _PREFIXES.items()}
DCAT, DCT, ODRL = _NS["dcat"], _NS["dct"], _NS["odrl"]
FOAF, VCARD, SCHEMA, SPDX = _NS["foaf"], _NS["vcard"], _NS["schema"], _NS["spdx"]
SKOS, BOC = _NS["skos"], _NS["bocage"]

# EU Publications Office authority tables, the vocabularies DCAT-AP 3.0.1
# recommends ("Controlled vocabularies"); shapes_recommended.ttl asks for them.
_EU = "http://publications.europa.eu/resource/authority/"
_EU_THEMES: Final = _EU + "data-theme"
_EU_LANGUAGE: Final = _EU + "language/"
_EU_FILE_TYPE: Final = _EU + "file-type/"
_EU_CURRENCY: Final = _EU + "currency/"
_ISO639_1: Final = "http://id.loc.gov/vocabulary/iso639-1/"
_IANA_MEDIA: Final = "https://www.iana.org/assignments/media-types/"
_LANGUAGES: Final = {
    "fr": "FRA",
    "en": "ENG",
    "de": "DEU",
    "es": "SPA",
    "it": "ITA",
    "nl": "NLD",
    "pt": "POR",
    "br": "BRE",
    "oc": "OCI",
    "co": "COS",
    "eu": "EUS",
    "ca": "CAT",
}
_LANGUAGE_CODES: Final = {code3: code2 for code2, code3 in _LANGUAGES.items()}
# The EU data-theme scheme, so a theme can be typed skos:Concept with the
# skos:prefLabel that DCAT-AP 3.0.1 requires of a Category (shapes.ttl).
_THEME_LABELS: Final = {
    "AGRI": (
        "Agriculture, pêche, sylviculture et alimentation",
        "Agriculture, fisheries, forestry and food",
    ),
    "ECON": ("Économie et finances", "Economy and finance"),
    "EDUC": ("Éducation, culture et sport", "Education, culture and sport"),
    "ENER": ("Énergie", "Energy"),
    "ENVI": ("Environnement", "Environment"),
    "GOVE": ("Gouvernement et secteur public", "Government and public sector"),
    "HEAL": ("Santé", "Health"),
    "INTR": ("Questions internationales", "International issues"),
    "JUST": (
        "Justice, système juridique et sécurité publique",
        "Justice, legal system and public safety",
    ),
    "OP_DATPRO": ("Données provisoires", "Provisional data"),
    "REGI": ("Régions et villes", "Regions and cities"),
    "SOCI": ("Population et société", "Population and society"),
    "TECH": ("Science et technologie", "Science and technology"),
    "TRAN": ("Transports", "Transport"),
}
_DAYS: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
# Profile enumerations: authored value -> IRI (shared with protocol.odrl).
_AUTHENTICATION: Final = AUTHENTICATION_TERMS
_TRANSPORT: Final = TRANSPORT_TERMS
_AUDIENCE: Final = AUDIENCE_TERMS
_AUTO_ACCEPT: Final = AUTO_ACCEPT_TERMS
_QUOTA_UNIT: Final = QUOTA_UNIT_TERMS
_DUTY_ACTION: Final = DUTY_ACTION_TERMS


# --- published records ------------------------------------------------------


def _expand_iri(compact: str) -> str:
    prefix, _, local = compact.partition(":")
    return _PREFIXES[prefix] + local if prefix in _PREFIXES else compact


def _is_iri(value: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$", value))


def _datetime(value: datetime) -> str:
    """Format an aware datetime as xsd:dateTime in UTC with a ``Z``."""
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(text: str) -> str:
    """Plain text of at most SUMMARY_MAX characters, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= SUMMARY_MAX:
        return flat
    cut = flat[: SUMMARY_MAX - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def _html(text: str) -> str:
    """Paragraphs as ``<p>``, line breaks as ``<br>``; everything escaped."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip())]
    return "".join(
        "<p>"
        + "<br>".join(html.escape(line, quote=False) for line in p.splitlines())
        + "</p>"
        for p in paragraphs
        if p
    )


def _typed(iri: str, rdf_type: str) -> dict[str, Any]:
    return {"id": iri, "type": rdf_type}


def _language_iri(code: str) -> str:
    if _is_iri(code):
        return code
    # The EU table names languages, not regional variants: fr-FR is FRA.
    base = code.lower().split("-", 1)[0]
    code3 = _LANGUAGES.get(base)
    return _EU_LANGUAGE + code3 if code3 else _ISO639_1 + base


def _theme(iri: str) -> dict[str, Any] | str:
    # Only themes of the EU scheme are typed: the range shapes want a
    # skos:Concept, and the core shapes want its skos:prefLabel, which we know
    # only for that scheme.  Other theme IRIs are published as bare IRIs.
    prefix = _EU_THEMES + "/"
    labels = (
        _THEME_LABELS.get(iri.removeprefix(prefix)) if iri.startswith(prefix) else None
    )
    if labels is None:
        return iri
    return {
        **_typed(iri, "skos:Concept"),
        "skos:prefLabel": [
            {"@value": labels[0], "@language": "fr"},
            {"@value": labels[1], "@language": "en"},
        ],
        "skos:inScheme": _EU_THEMES,
    }


def _media_type(value: str) -> str:
    return value if _is_iri(value) else _IANA_MEDIA + value.lower()


def _file_type(value: str) -> str:
    return value if _is_iri(value) else _EU_FILE_TYPE + value.upper()


def _date_value(value: str) -> dict[str, str]:
    datatype = "xsd:dateTime" if "T" in value else "xsd:date"
    return {"@value": value, "@type": datatype}


def _contact(iri: str, name: str, email: str) -> dict[str, Any] | None:
    if not (name or email):
        return None
    contact: dict[str, Any] = _typed(f"{iri}#contact", "vcard:Kind")
    if name:
        contact["vcard:fn"] = name
    if email:
        contact["vcard:hasEmail"] = f"mailto:{email}"
    return contact


def _put(document: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is empty (absent beats an empty literal)."""
    if value not in ("", None, [], {}):
        document[key] = value


def _activity_part(
    *,
    kind: str,
    iri: str,
    title: str,
    description: str,
    actor: str,
    followers: str,
    html_url: str,
    published: datetime,
    updated: datetime,
    language: str,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": [ACTIVITYSTREAMS, DATA_INTEGRITY_V1, CONTEXT],
        "id": iri,
        "type": ["Article", kind],
        "attributedTo": actor,
    }
    _put(document, "name", title)
    _put(document, "summary", _summary(description))
    content = _html(description)
    _put(document, "content", content)
    if content and language:
        # INTEROP.md, "Activities": send content and a one-entry contentMap.
        document["contentMap"] = {language: content}
    document["url"] = html_url
    document["published"] = _datetime(published)
    document["updated"] = _datetime(updated)
    document["to"] = [AS_PUBLIC]
    document["cc"] = [followers]
    return document


def _common_dcat(
    document: dict[str, Any],
    record: Dataset | Service,
    *,
    iri: str,
    actor: str,
    actor_name: str,
    published: datetime,
    updated: datetime,
) -> None:
    # DCAT-AP 3.0.1, classes Dataset and Data Service: title and
    # description are mandatory; the rest is recommended or optional.
    _put(document, "dct:title", record.title)
    _put(document, "dct:description", record.description)
    document["dct:publisher"] = {
        **_typed(actor, "foaf:Agent"),
        "foaf:name": actor_name,
    }
    _put(document, "dct:issued", _datetime(published))
    _put(document, "dct:modified", _datetime(updated))
    _put(document, "dcat:keyword", list(record.keywords))
    _put(document, "dcat:theme", [_theme(t) for t in record.themes])
    if record.license:
        document["dct:license"] = _typed(record.license, "dct:LicenseDocument")
    if record.access_rights:
        document["dct:accessRights"] = _typed(
            record.access_rights, "dct:RightsStatement"
        )
    _put(
        document,
        "dcat:contactPoint",
        _contact(iri, record.contact_name, record.contact_email),
    )
    _put(
        document,
        "dct:conformsTo",
        [_typed(c, "dct:Standard") for c in record.conforms_to if _is_iri(c)],
    )


def _distribution(
    dist: Distribution,
    *,
    iri: str,
    index: int,
    default_license: str,
    file_url: Callable[[str], str],
) -> dict[str, Any]:
    stored = file_url(dist.stored_file) if dist.stored_file else ""
    download = dist.download_url or stored
    # DCAT-AP 3.0.1, class Distribution: accessURL is mandatory; for a file it
    # is the download URL itself.
    access = dist.access_url or download
    node: dict[str, Any] = _typed(f"{iri}#dist-{index}", "dcat:Distribution")
    _put(node, "dct:title", dist.title)
    node["dcat:accessURL"] = access
    _put(node, "dcat:downloadURL", download)
    if dist.media_type:
        node["dcat:mediaType"] = _typed(_media_type(dist.media_type), "dct:MediaType")
    if dist.format:
        node["dct:format"] = _typed(_file_type(dist.format), "dct:MediaTypeOrExtent")
    if dist.byte_size is not None:
        node["dcat:byteSize"] = dist.byte_size
    checksum = dist.checksum_sha256 or dist.stored_file
    if checksum:
        node["spdx:checksum"] = {
            **_typed(f"{iri}#dist-{index}-checksum", "spdx:Checksum"),
            "spdx:algorithm": "spdx:checksumAlgorithm_sha256",
            "spdx:checksumValue": checksum.lower(),
        }
    license_iri = dist.license or default_license
    if license_iri:
        node["dct:license"] = _typed(license_iri, "dct:LicenseDocument")
    return node


def dataset_record(
    ds: Dataset,
    *,
    iri: str,
    actor: str,
    actor_name: str,
    followers: str,
    html_url: str,
    published: datetime,
    updated: datetime,
    file_url: Callable[[str], str],
    default_language: str = "",
) -> dict[str, Any]:
    """Build the published JSON-LD document of a dataset (Article + dcat:Dataset).

    ``file_url`` maps a stored file's sha256 to its download URL;
    ``default_language`` keys ``contentMap`` when the dataset names no
    language of its own (the publisher's).  The record is
    deterministic: the same input gives the same document.  Not checked here:
    that ``ds`` was validated (use :func:`~protocol.records.decode_dataset`).
    """
    own = ds.language[0] if ds.language and not _is_iri(ds.language[0]) else ""
    language = own or default_language
    document = _activity_part(
        kind="dcat:Dataset",
        iri=iri,
        title=ds.title,
        description=ds.description,
        actor=actor,
        followers=followers,
        html_url=html_url,
        published=published,
        updated=updated,
        language=language,
    )
    _common_dcat(
        document,
        ds,
        iri=iri,
        actor=actor,
        actor_name=actor_name,
        published=published,
        updated=updated,
    )
    _put(
        document,
        "dct:language",
        [_typed(_language_iri(code), "dct:LinguisticSystem") for code in ds.language],
    )
    _put(
        document,
        "dct:spatial",
        [_typed(place, "dct:Location") for place in ds.spatial],
    )
    if ds.temporal_start or ds.temporal_end:
        period: dict[str, Any] = _typed(f"{iri}#temporal", "dct:PeriodOfTime")
        if ds.temporal_start:
            period["dcat:startDate"] = _date_value(ds.temporal_start)
        if ds.temporal_end:
            period["dcat:endDate"] = _date_value(ds.temporal_end)
        document["dct:temporal"] = period
    if ds.accrual_periodicity:
        document["dct:accrualPeriodicity"] = _typed(
            ds.accrual_periodicity, "dct:Frequency"
        )
    if ds.landing_page:
        document["dcat:landingPage"] = _typed(ds.landing_page, "foaf:Document")
    _put(
        document,
        "dcat:distribution",
        [
            _distribution(
                dist, iri=iri, index=n, default_license=ds.license, file_url=file_url
            )
            for n, dist in enumerate(ds.distributions, start=1)
        ],
    )
    return document


def _right_operand(constraint: Constraint) -> Any:
    # ODRL 2.2 Information Model, "Constraint": a typed literal, or an IRI
    # for operands that name things (a place, a party).
    values = (
        constraint.right if isinstance(constraint.right, list) else [constraint.right]
    )
    out: list[Any] = []
    for value in values:
        if isinstance(value, int) or (
            constraint.left == "count" and re.fullmatch(r"\d{1,30}", value)
        ):
            out.append({"@value": int(value), "@type": "xsd:integer"})
        elif constraint.left == "dateTime":
            out.append(_date_value(str(value)))
        elif constraint.left in ("spatial", "recipient") or _is_iri(str(value)):
            out.append({"id": str(value)})
        else:
            out.append(str(value))
    return out[0] if len(out) == 1 else out


def _duty(duty: Duty, node_id: str) -> dict[str, Any]:
    node: dict[str, Any] = _typed(node_id, "odrl:Duty")
    if duty.action == "compensate" and duty.amount is not None:
        # ODRL 2.2 Vocabulary, "compensate": the amount is a refinement of
        # the action, with payAmount as left operand and odrl:unit naming
        # the currency (Information Model, "Duty" and its compensation example).
        refinement: dict[str, Any] = {
            **_typed(f"{node_id}-amount", "odrl:Constraint"),
            "odrl:leftOperand": "odrl:payAmount",
            "odrl:operator": "odrl:eq",
            "odrl:rightOperand": {
                # The shortest decimal that reads back as the same float:
                # a price per call may be 0.002 (two decimals would say 0.00).
                "@value": format(Decimal(repr(duty.amount)), "f"),
                "@type": "xsd:decimal",
            },
        }
        if duty.currency:
            refinement["odrl:unit"] = _EU_CURRENCY + duty.currency.upper()
        node["odrl:action"] = {
            "id": f"{node_id}-action",
            "rdf:value": {"id": "odrl:compensate"},
            "odrl:refinement": refinement,
        }
    else:
        node["odrl:action"] = _DUTY_ACTION[duty.action]
    _put(node, "bocage:per", duty.unit)
    _put(node, "bocage:note", duty.note)
    return node


def _rule(rule: Rule, node_id: str, rdf_type: str) -> dict[str, Any]:
    node: dict[str, Any] = _typed(node_id, rdf_type)
    node["odrl:action"] = f"odrl:{rule.action}"
    _put(
        node,
        "odrl:constraint",
        [
            {
                **_typed(f"{node_id}-c{n}", "odrl:Constraint"),
                "odrl:leftOperand": f"odrl:{c.left}",
                "odrl:operator": f"odrl:{c.operator}",
                "odrl:rightOperand": _right_operand(c),
            }
            for n, c in enumerate(rule.constraints, start=1)
        ],
    )
    _put(
        node,
        "odrl:duty",
        [_duty(d, f"{node_id}-d{n}") for n, d in enumerate(rule.duties, start=1)],
    )
    return node


def _hours(hours: Hours, node_id: str) -> dict[str, Any]:
    # schema.org OpeningHoursSpecification: a closing time earlier than the
    # opening time means the window ends the next day.
    return {
        **_typed(node_id, "schema:OpeningHoursSpecification"),
        "schema:dayOfWeek": [f"schema:{day}" for day in hours.days],
        "schema:opens": f"{hours.opens}:00",
        "schema:closes": f"{hours.closes}:00",
    }


def _quota(quota: Quota, node_id: str) -> dict[str, Any]:
    return {
        **_typed(node_id, "bocage:Quota"),
        "bocage:limit": quota.limit,
        "bocage:period": quota.period,
        "bocage:unit": _QUOTA_UNIT[quota.unit],
    }


def _offer(offer: Offer, *, iri: str, actor: str) -> dict[str, Any]:
    base = f"{iri}#offer"
    policy: dict[str, Any] = {
        **_typed(base, "odrl:Offer"),
        # ODRL 2.2 Information Model, "Offer Policy": an Offer names its
        # assigner; a policy-level target applies to every rule.
        "odrl:assigner": actor,
        "odrl:target": iri,
        "odrl:permission": [
            _rule(r, f"{base}-p{n}", "odrl:Permission")
            for n, r in enumerate(offer.permissions, start=1)
        ],
    }
    _put(
        policy,
        "odrl:prohibition",
        [
            _rule(r, f"{base}-x{n}", "odrl:Prohibition")
            for n, r in enumerate(offer.prohibitions, start=1)
        ],
    )
    # The Bocage profile: what ODRL cannot say (DESIGN.md, "Data and service
    # offers"), on the Offer because it is part of the contract.
    policy["bocage:timezone"] = offer.timezone
    _put(
        policy,
        "schema:hoursAvailable",
        [_hours(h, f"{base}-h{n}") for n, h in enumerate(offer.hours, start=1)],
    )
    _put(
        policy,
        "bocage:quota",
        [_quota(q, f"{base}-q{n}") for n, q in enumerate(offer.quotas, start=1)],
    )
    policy["bocage:authentication"] = [_AUTHENTICATION[a] for a in offer.authentication]
    policy["bocage:transportSecurity"] = _TRANSPORT[offer.transport]
    policy["bocage:audience"] = _AUDIENCE[offer.audience]
    accept = offer.auto_accept
    policy["bocage:autoAccept"] = (
        _AUTO_ACCEPT.get(accept, accept) if isinstance(accept, str) else list(accept)
    )
    return policy


def service_record(
    sv: Service,
    *,
    iri: str,
    actor: str,
    actor_name: str,
    followers: str,
    html_url: str,
    published: datetime,
    updated: datetime,
    file_url: Callable[[str], str],
    default_language: str = "",
) -> dict[str, Any]:
    """Build the published JSON-LD document of a service offer.

    The document is an Article and a ``dcat:DataService`` whose
    ``odrl:hasPolicy`` is the ODRL 2.2 ``odrl:Offer`` with the profile terms.
    ``file_url`` is accepted for symmetry with :func:`dataset_record` and not
    used; ``default_language`` keys ``contentMap`` (the publisher's).  Not
    checked here: that ``sv`` was validated.
    """
    del file_url
    document = _activity_part(
        kind="dcat:DataService",
        iri=iri,
        title=sv.title,
        description=sv.description,
        actor=actor,
        followers=followers,
        html_url=html_url,
        published=published,
        updated=updated,
        language=default_language,
    )
    _common_dcat(
        document,
        sv,
        iri=iri,
        actor=actor,
        actor_name=actor_name,
        published=published,
        updated=updated,
    )
    # DCAT-AP 3.0.1, class Data Service: endpointURL is mandatory.
    document["dcat:endpointURL"] = sv.endpoint_url
    _put(document, "dcat:endpointDescription", sv.endpoint_description)
    _put(
        document,
        "dct:format",
        [_typed(_file_type(f), "dct:MediaTypeOrExtent") for f in sv.formats],
    )
    _put(document, "dcat:servesDataset", list(sv.serves_datasets))
    document["odrl:hasPolicy"] = _offer(sv.offer, iri=iri, actor=actor)
    return document


# --- RDF ---------------------------------------------------------------------


def _new_graph() -> Graph:
    graph = Graph()
    for prefix, iri in {**_PREFIXES, "as": ACTIVITYSTREAMS + "#"}.items():
        graph.bind(prefix, Namespace(iri), override=True, replace=True)
    return graph


def _graph_from_expanded(expanded: list[dict[str, Any]]) -> Graph:
    graph = _new_graph()
    # Expanded JSON-LD has no @context left, so rdflib's parser has nothing
    # it could fetch.
    graph.parse(data=json.dumps(expanded), format="json-ld")
    return graph


def to_graph(document: Mapping[str, Any]) -> Graph:
    """Load a record document into an rdflib Graph, with bundled contexts only.

    Raises :class:`~protocol.jsonld.JsonLdProcessingError` if the document
    uses a context that is not bundled; nothing is fetched.
    """
    return _graph_from_expanded(expand(document))


def catalog_graph(
    *,
    iri: str,
    title: str,
    description: str,
    publisher_iri: str,
    publisher_name: str,
    records: Iterable[Mapping[str, Any]],
    homepage: str | None,
    license: str | None = None,
) -> Graph:
    """Build a ``dcat:Catalog`` graph listing ``records`` (and holding them).

    Recommended catalogue properties (DCAT-AP 3.0.1, class Catalogue) are derived
    from the records where that is truthful: dct:language and dct:spatial are
    the union of the records', dct:issued the earliest, dct:modified the
    latest, dcat:themeTaxonomy the EU data-theme scheme if a record uses it.
    ``license`` is the catalogue metadata's own licence, if given.
    """
    graph = _new_graph()
    catalog = URIRef(iri)
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCT.title, RdfLiteral(title)))
    graph.add((catalog, DCT.description, RdfLiteral(description)))
    publisher = URIRef(publisher_iri)
    graph.add((catalog, DCT.publisher, publisher))
    graph.add((publisher, RDF.type, FOAF.Agent))
    graph.add((publisher, FOAF.name, RdfLiteral(publisher_name)))
    if homepage:
        graph.add((catalog, FOAF.homepage, URIRef(homepage)))
        graph.add((URIRef(homepage), RDF.type, FOAF.Document))
    if license:
        graph.add((catalog, DCT.license, URIRef(license)))
        graph.add((URIRef(license), RDF.type, DCT.LicenseDocument))

    for record in records:
        part = to_graph(record)
        graph += part
        subject = URIRef(str(record["id"]))
        if (subject, RDF.type, DCAT.Dataset) in part:
            graph.add((catalog, DCAT.dataset, subject))
        if (subject, RDF.type, DCAT.DataService) in part:
            graph.add((catalog, DCAT.service, subject))

    members = [
        o for p in (DCAT.dataset, DCAT.service) for o in graph.objects(catalog, p)
    ]
    for prop in (DCT.language, DCT.spatial):
        for member in members:
            for value in graph.objects(member, prop):
                graph.add((catalog, prop, value))
    for prop, pick in ((DCT.issued, min), (DCT.modified, max)):
        dates = [
            o
            for member in members
            for o in graph.objects(member, prop)
            if isinstance(o, RdfLiteral) and o.datatype == XSD.dateTime
        ]
        if dates:
            graph.add((catalog, prop, pick(dates, key=str)))
    themes = URIRef(_EU_THEMES)
    if any(
        str(t).startswith(_EU_THEMES + "/")
        for member in members
        for t in graph.objects(member, DCAT.theme)
    ):
        graph.add((catalog, DCAT.themeTaxonomy, themes))
        graph.add((themes, RDF.type, SKOS.ConceptScheme))
        graph.add((themes, DCT.title, RdfLiteral("Data theme", lang="en")))
        graph.add((themes, DCT.title, RdfLiteral("Thème des données", lang="fr")))
    return graph


def serialize(graph: Graph, fmt: Literal["turtle", "xml", "json-ld"]) -> bytes:
    """Serialise a graph to bytes; see :data:`MEDIA_TYPES` for the media type."""
    if fmt == "json-ld":
        text = graph.serialize(format="json-ld", context=dict(_PREFIXES))
    else:
        text = graph.serialize(format=fmt)
    return text.encode("utf-8")


# --- import ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """A catalogue subject that was not imported, and why."""

    subject: str
    reason: str


@dataclass(slots=True)
class ImportResult:
    """What :func:`parse_catalogue` found: valid records and refused subjects."""

    datasets: list[Dataset] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _parse_graph(data: bytes, media_type: str) -> Graph:
    kind = media_type.split(";", 1)[0].strip().lower()
    if kind not in ("text/turtle", "application/ld+json", "application/rdf+xml"):
        raise RecordError("", f"unsupported media type {kind!r}")
    if len(data) > MAX_IMPORT_BYTES:
        raise RecordError("", f"catalogue is larger than {MAX_IMPORT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError("", f"not UTF-8 text (byte {exc.start})") from None

    if kind == "application/ld+json":
        try:
            check_raw_depth(data, MAX_JSON_DEPTH)
            document = json.loads(text)
        except (DocumentError, ValueError, RecursionError) as exc:
            raise RecordError("", _one_line(f"not JSON: {exc}")) from None
        if not isinstance(document, dict | list):
            raise RecordError("", "JSON-LD must be an object or an array")
        try:
            expanded = (
                expand(document)
                if isinstance(document, dict)
                else expand({"@graph": document})
            )
        except JsonLdProcessingError as exc:
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, ContextLoadError):
                cause = cause.__cause__
            if isinstance(cause, ContextLoadError):
                raise RecordError(
                    "",
                    f"@context {cause.url!r} is not bundled; remote contexts "
                    "are never fetched",
                ) from None
            raise RecordError("", _one_line(f"JSON-LD: {exc.reason}")) from None
        except Exception as exc:  # noqa: BLE001 - pyld raises arbitrary types on odd input
            raise RecordError("", _one_line(f"JSON-LD: {exc!r}")) from None
        try:
            return _graph_from_expanded(expanded)
        except Exception as exc:  # noqa: BLE001 - rdflib's parser errors are untyped
            raise RecordError("", _one_line(f"JSON-LD: {exc}")) from None

    if kind == "application/rdf+xml" and re.search(r"<!DOCTYPE", text, re.IGNORECASE):
        # A DTD serves no purpose in a catalogue; its entities are how XML
        # bombs and external-entity reads start.  Refuse it outright.
        raise RecordError("", "RDF/XML with a DOCTYPE is refused (no DTD is read)")
    graph = _new_graph()
    fmt = "turtle" if kind == "text/turtle" else "xml"
    try:
        graph.parse(data=text, format=fmt)
    except Exception as exc:  # noqa: BLE001 - rdflib parsers raise many types
        raise RecordError("", _one_line(f"{fmt}: {exc}")) from None
    return graph


def _pick_literal(values: Iterable[Node]) -> str:
    """The preferred literal: French, then English, then untagged, then any."""
    literals = sorted((v for v in values if isinstance(v, RdfLiteral)), key=str)
    for wanted in ("fr", "en", None):
        for value in literals:
            lang = value.language.lower().split("-")[0] if value.language else None
            if lang == wanted:
                return str(value)
    return str(literals[0]) if literals else ""


def _preferred_group(values: Iterable[Node]) -> list[str]:
    literals = [v for v in values if isinstance(v, RdfLiteral)]
    for wanted in ("fr", "en", None):
        group = sorted(
            str(v)
            for v in literals
            if (v.language.lower().split("-")[0] if v.language else None) == wanted
        )
        if group:
            return group
    return sorted(str(v) for v in literals)


class _Reader:
    """Reads one subject's properties out of a graph as plain strings."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def text(self, node: Node, prop: URIRef) -> str:
        return _pick_literal(self.graph.objects(node, prop))

    def iris(self, node: Node, prop: URIRef) -> list[str]:
        return sorted(
            str(o) for o in self.graph.objects(node, prop) if isinstance(o, URIRef)
        )

    def iri(self, node: Node, prop: URIRef) -> str:
        found = self.iris(node, prop)
        return found[0] if found else ""

    def nodes(self, node: Node, prop: URIRef) -> list[Node]:
        found = [
            o for o in self.graph.objects(node, prop) if isinstance(o, URIRef | BNode)
        ]
        return sorted(found, key=self._order)

    def _order(self, node: Node) -> tuple[Any, ...]:
        # Blank node labels change from parse to parse: order those by what
        # they say instead, so the same catalogue always imports the same way.
        if isinstance(node, BNode):
            said = sorted(
                (str(p), "" if isinstance(o, BNode) else str(o))
                for p, o in self.graph.predicate_objects(node)
            )
            return (1, said)
        return (0, _natural_key(node))

    def value(self, node: Node, prop: URIRef) -> str:
        """An IRI or a literal, whichever comes first."""
        iri = self.iri(node, prop)
        return iri or self.text(node, prop)

    def contact(self, node: Node) -> dict[str, str]:
        out: dict[str, str] = {}
        for point in self.nodes(node, DCAT.contactPoint)[:1]:
            name = self.text(point, VCARD.fn) or self.text(
                point, VCARD["organization-name"]
            )
            email = self.value(point, VCARD.hasEmail).removeprefix("mailto:")
            if name:
                out["contact_name"] = name
            if email:
                out["contact_email"] = unquote(email)
        return out


def _natural_key(node: Node) -> tuple[Any, ...]:
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", str(node))
    )


def _local(iri: str, namespace: str) -> str:
    return iri[len(namespace) :] if iri.startswith(namespace) else iri


def _language_code(iri: str) -> str:
    if iri.startswith(_EU_LANGUAGE):
        code3 = iri.removeprefix(_EU_LANGUAGE)
        return _LANGUAGE_CODES.get(code3, iri)
    if iri.startswith(_ISO639_1):
        return iri.removeprefix(_ISO639_1)
    return iri


def _format_code(value: str) -> str:
    return value.removeprefix(_EU_FILE_TYPE)


def _common_fields(reader: _Reader, node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": reader.text(node, DCT.title),
        "description": reader.text(node, DCT.description),
    }
    optional: dict[str, Any] = {
        "keywords": _preferred_group(reader.graph.objects(node, DCAT.keyword)),
        "themes": reader.iris(node, DCAT.theme),
        "license": reader.iri(node, DCT.license),
        "access_rights": reader.iri(node, DCT.accessRights),
        "conforms_to": reader.iris(node, DCT.conformsTo),
        **reader.contact(node),
    }
    out.update({k: v for k, v in optional.items() if v})
    return out


def _import_distribution(reader: _Reader, node: Node) -> dict[str, Any]:
    media = reader.value(node, DCAT.mediaType)
    out: dict[str, Any] = {
        "title": reader.text(node, DCT.title),
        "access_url": reader.iri(node, DCAT.accessURL),
        "download_url": reader.iri(node, DCAT.downloadURL),
        "media_type": media.removeprefix(_IANA_MEDIA),
        "format": _format_code(reader.value(node, DCT["format"])),
        "license": reader.iri(node, DCT.license),
    }
    size = reader.text(node, DCAT.byteSize)
    if size:
        # A non-integer is passed on as text so decode_dataset names the field.
        out["byte_size"] = int(size) if re.fullmatch(r"-?\d{1,30}", size) else size
    for checksum in reader.nodes(node, SPDX.checksum)[:1]:
        algorithm = reader.iri(checksum, SPDX.algorithm)
        if algorithm.endswith("checksumAlgorithm_sha256"):
            out["checksum_sha256"] = reader.text(checksum, SPDX.checksumValue).lower()
    return {k: v for k, v in out.items() if v != ""}


def _import_dataset(reader: _Reader, node: Node, slug: str) -> Dataset:
    record = {"slug": slug, **_common_fields(reader, node)}
    optional: dict[str, Any] = {
        "language": [_language_code(i) for i in reader.iris(node, DCT.language)],
        "spatial": reader.iris(node, DCT.spatial),
        "accrual_periodicity": reader.iri(node, DCT.accrualPeriodicity),
        "landing_page": reader.iri(node, DCAT.landingPage),
    }
    for period in reader.nodes(node, DCT.temporal)[:1]:
        optional["temporal_start"] = reader.text(period, DCAT.startDate) or reader.text(
            period, SCHEMA.startDate
        )
        optional["temporal_end"] = reader.text(period, DCAT.endDate) or reader.text(
            period, SCHEMA.endDate
        )
    optional["distributions"] = [
        _import_distribution(reader, d) for d in reader.nodes(node, DCAT.distribution)
    ]
    record.update({k: v for k, v in optional.items() if v})
    return decode_dataset(record)


def _action_name(reader: _Reader, node: Node) -> tuple[str, Node | None]:
    """An ODRL action's local name, and the node carrying its refinement."""
    for action in reader.nodes(node, ODRL.action)[:1]:
        # ODRL 2.2 Information Model, "Action": a refined action is a node (blank or
        # not) whose rdf:value is the action itself.
        value = reader.iri(action, RDF.value)
        if value:
            return value, action
        return (str(action), None) if isinstance(action, URIRef) else ("", None)
    return "", None


def _import_rule(reader: _Reader, node: Node) -> dict[str, Any]:
    action, _ = _action_name(reader, node)
    rule: dict[str, Any] = {"action": _local(action, str(ODRL))}
    constraints = []
    for c in reader.nodes(node, ODRL.constraint):
        left = _local(reader.iri(c, ODRL.leftOperand), str(ODRL))
        rights = sorted(
            reader.graph.objects(c, ODRL.rightOperand),
            key=str,
        )
        values: list[Any] = []
        for right in rights:
            if left == "count" and isinstance(right, RdfLiteral):
                try:
                    values.append(int(str(right)))
                except ValueError:
                    values.append(str(right))
            else:
                values.append(str(right))
        constraints.append(
            {
                "left": left,
                "operator": _local(reader.iri(c, ODRL.operator), str(ODRL)),
                "right": values[0] if len(values) == 1 else values,
            }
        )
    if constraints:
        rule["constraints"] = constraints
    duties = []
    for d in reader.nodes(node, ODRL.duty):
        name, refined = _action_name(reader, d)
        names = {_expand_iri(v): k for k, v in _DUTY_ACTION.items()}
        duty: dict[str, Any] = {"action": names.get(name, _local(name, str(ODRL)))}
        for refinement in reader.nodes(refined, ODRL.refinement) if refined else []:
            if reader.iri(refinement, ODRL.leftOperand) == str(ODRL.payAmount):
                amount = reader.text(refinement, ODRL.rightOperand)
                try:
                    duty["amount"] = float(amount)
                except ValueError:
                    duty["amount"] = amount
                currency = reader.value(refinement, ODRL.unit)
                if currency:
                    duty["currency"] = _local(currency, _EU_CURRENCY)
        per, note = reader.text(d, BOC.per), reader.text(d, BOC.note)
        duty.update({k: v for k, v in (("unit", per), ("note", note)) if v})
        duties.append(duty)
    if duties:
        rule["duties"] = duties
    return rule


def _reverse(table: Mapping[str, str], iri: str) -> str:
    for authored, compact in table.items():
        if _expand_iri(compact) == iri:
            return authored
    return iri


def _import_offer(reader: _Reader, policy: Node) -> dict[str, Any]:
    offer: dict[str, Any] = {
        "permissions": [
            _import_rule(reader, r) for r in reader.nodes(policy, ODRL.permission)
        ],
    }
    prohibitions = [
        _import_rule(reader, r) for r in reader.nodes(policy, ODRL.prohibition)
    ]
    if prohibitions:
        offer["prohibitions"] = prohibitions
    timezone = reader.text(policy, BOC.timezone)
    if timezone:
        offer["timezone"] = timezone
    hours = [
        {
            "days": sorted(
                (_local(day, str(SCHEMA)) for day in reader.iris(h, SCHEMA.dayOfWeek)),
                key=lambda day: _DAYS.index(day) if day in _DAYS else len(_DAYS),
            ),
            "opens": reader.text(h, SCHEMA.opens)[:5],
            "closes": reader.text(h, SCHEMA.closes)[:5],
        }
        for h in reader.nodes(policy, SCHEMA.hoursAvailable)
    ]
    if hours:
        offer["hours"] = hours
    quotas = []
    for q in reader.nodes(policy, BOC.quota):
        limit = reader.text(q, BOC.limit)
        quota: dict[str, Any] = {
            "limit": int(limit) if re.fullmatch(r"-?\d{1,30}", limit) else limit
        }
        period = reader.text(q, BOC.period)
        if period:
            quota["period"] = period
        unit = reader.iri(q, BOC.unit)
        if unit:
            quota["unit"] = _reverse(_QUOTA_UNIT, unit)
        quotas.append(quota)
    if quotas:
        offer["quotas"] = quotas
    auth = reader.iris(policy, BOC.authentication)
    if auth:
        offer["authentication"] = [_reverse(_AUTHENTICATION, a) for a in auth]
    for key, prop, table in (
        ("transport", BOC.transportSecurity, _TRANSPORT),
        ("audience", BOC.audience, _AUDIENCE),
    ):
        value = reader.iri(policy, prop)
        if value:
            offer[key] = _reverse(table, value)
    accept = [_reverse(_AUTO_ACCEPT, a) for a in reader.iris(policy, BOC.autoAccept)]
    if len(accept) == 1 and accept[0] in _AUTO_ACCEPT:
        offer["auto_accept"] = accept[0]
    elif accept:
        offer["auto_accept"] = accept
    return offer


def _import_service(reader: _Reader, node: Node, slug: str) -> Service:
    record = {"slug": slug, **_common_fields(reader, node)}
    record["endpoint_url"] = reader.iri(node, DCAT.endpointURL)
    optional: dict[str, Any] = {
        "endpoint_description": reader.iri(node, DCAT.endpointDescription),
        "formats": [_format_code(f) for f in reader.iris(node, DCT["format"])],
        "serves_datasets": reader.iris(node, DCAT.servesDataset),
    }
    record.update({k: v for k, v in optional.items() if v})
    policies = reader.nodes(node, ODRL.hasPolicy)
    record["offer"] = (
        _import_offer(reader, policies[0])
        if policies
        else {"permissions": [{"action": "read"}]}
    )
    return decode_service(record)


def _slug(subject: Node, taken: set[str]) -> str:
    text = str(subject) if isinstance(subject, URIRef) else ""
    try:
        path = urlsplit(text).path
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        path = ""
    segments = [s for s in path.split("/") if s]
    raw = unquote(segments[-1]).lower() if segments else ""
    raw = re.sub(r"\.(ttl|rdf|xml|jsonld|json|html)$", "", raw)
    slug = re.sub(r"[^a-z0-9]+", "-", raw).strip("-")[:100].strip("-")
    if not slug or slug in taken or not SLUG_RE.match(slug):
        digest = hashlib.sha256(str(subject).encode()).hexdigest()[:8]
        slug = f"{slug[:91].strip('-')}-{digest}" if slug else digest
    taken.add(slug)
    return slug


def parse_catalogue(data: bytes, media_type: str) -> ImportResult:
    """Read a DCAT catalogue into authored datasets and services.

    Accepts ``text/turtle``, ``application/ld+json`` (expanded with bundled
    contexts only: a document naming any other context is refused, never
    fetched) and ``application/rdf+xml``.  Every ``dcat:Dataset`` and
    ``dcat:DataService`` subject becomes one record, validated with
    :func:`~protocol.records.decode_dataset` / ``decode_service``; a subject
    that fails is listed in ``refused`` with the validation message.  Slugs
    come from the IRI's last path segment (a short hash of the IRI is added
    when that is empty or already taken).  A data service without an ODRL
    policy gets a default Offer that permits ``read`` and nothing else.
    Literals are taken in French, else English, else untagged.

    Raises :class:`~protocol.records.RecordError` (field ``""``, a one-line
    reason) when the input cannot be parsed at all.
    """
    graph = _parse_graph(data, media_type)
    reader = _Reader(graph)
    result = ImportResult()
    taken: set[str] = set()
    datasets = sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=_natural_key)
    services = sorted(
        set(graph.subjects(RDF.type, DCAT.DataService)) - set(datasets),
        key=_natural_key,
    )
    for subject in datasets:
        try:
            result.datasets.append(
                _import_dataset(reader, subject, _slug(subject, taken))
            )
        except RecordError as exc:
            result.refused.append(Refusal(str(subject), str(exc)))
    for subject in services:
        try:
            result.services.append(
                _import_service(reader, subject, _slug(subject, taken))
            )
        except RecordError as exc:
            result.refused.append(Refusal(str(subject), str(exc)))
    return result
