"""Catalogue records as authored: the typed input for datasets and service offers.

These structures are what the admin API, the CLI and the importer accept, and
what :mod:`protocol.dcat` turns into published JSON-LD records (DCAT-AP 3
classes, ODRL policies, and the Bocage profile for what ODRL cannot say).
Decoding with :func:`decode_dataset` / :func:`decode_service` validates them
and raises :class:`RecordError` naming the field and what was expected.

Pure: no I/O.  Dates are ISO 8601 strings, durations ISO 8601 (``P1D``),
times of day ``HH:MM``, time zones IANA names (``Europe/Paris``).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from protocol.errors import ProtocolError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")
_TIME_RE = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_DURATION_RE = re.compile(
    r"^P(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$"
)

Day = Literal[
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
]
Action = Literal["read", "modify", "delete", "use", "distribute", "aggregate"]
Operator = Literal["eq", "neq", "lt", "lteq", "gt", "gteq", "isAnyOf", "isNoneOf"]
# ODRL 2.2 left operands we publish and enforce, plus the Bocage profile's own.
LeftOperand = Literal[
    "dateTime",  # odrl:dateTime — validity window
    "count",  # odrl:count — total uses
    "purpose",  # odrl:purpose
    "spatial",  # odrl:spatial — an IRI (e.g. a territory)
    "recipient",  # odrl:recipient — an actor IRI or a group of actors
]
Authentication = Literal["none", "http-signature", "agreement-token"]
Audience = Literal["public", "members", "agreement"]


# How the authored enumerations are written in the Bocage profile
# (protocol/profile/bocage.ttl); protocol.dcat writes these, protocol.odrl
# reads them back.
AUTHENTICATION_TERMS: dict[str, str] = {
    "none": "bocage:NoAuthentication",
    "http-signature": "bocage:HttpSignature",
    "agreement-token": "bocage:AgreementToken",
}
TRANSPORT_TERMS: dict[str, str] = {"tls": "bocage:TLS", "any": "bocage:AnyTransport"}
AUDIENCE_TERMS: dict[str, str] = {
    "public": "bocage:Public",
    "members": "bocage:Members",
    "agreement": "bocage:AgreementHolders",
}
AUTO_ACCEPT_TERMS: dict[str, str] = {
    "any": "bocage:Anyone",
    "members": "bocage:Members",
}
QUOTA_UNIT_TERMS: dict[str, str] = {"request": "bocage:Request", "byte": "bocage:Byte"}
# Duties: ODRL 2.2 actions, the Creative Commons share-alike action the ODRL
# Common Vocabulary includes (a full IRI: "cc" is an ActivityStreams term),
# and the profile's own reciprocity action.
DUTY_ACTION_TERMS: dict[str, str] = {
    "compensate": "odrl:compensate",
    "attribute": "odrl:attribute",
    "shareAlike": "http://creativecommons.org/ns#ShareAlike",
    "reciprocate": "bocage:reciprocate",
}


class RecordError(ProtocolError):
    """An authored record is invalid; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class _Input(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    pass


class Distribution(_Input):
    """A way to get the data: a file the node stores, or a link."""

    title: str = ""
    access_url: str = ""  # dcat:accessURL (mandatory in DCAT-AP); defaults to download
    download_url: str = ""  # dcat:downloadURL, for files
    media_type: str = ""  # IANA media type, e.g. text/csv
    format: str = ""  # EU file type, e.g. CSV (dct:format)
    byte_size: int | None = None
    checksum_sha256: str = ""
    license: str = ""  # an IRI; defaults to the dataset's
    # Set when the node stores the file itself (its sha256 in the file store).
    stored_file: str = ""


class Constraint(_Input):
    left: LeftOperand
    operator: Operator
    right: str | int | list[str]


class Duty(_Input):
    """Something the assignee must do: pay, or give back (reciprocity)."""

    action: Literal["compensate", "attribute", "shareAlike", "reciprocate"]
    amount: float | None = None  # compensate: the price…
    currency: str = ""  # …in ISO 4217 (EUR)
    unit: str = ""  # per what: "request", "month", "GB"
    note: str = ""  # reciprocate: what is given back, in words


class Rule(_Input):
    """An ODRL permission or prohibition on one action."""

    action: Action
    constraints: list[Constraint] = msgspec.field(default_factory=list)
    duties: list[Duty] = msgspec.field(default_factory=list)


class Hours(_Input):
    """Opening hours: these days, from ``opens`` to ``closes`` (schema.org)."""

    days: list[Day]
    opens: str  # HH:MM
    closes: str  # HH:MM (may be earlier than opens: the window crosses midnight)


class Quota(_Input):
    """At most ``limit`` uses of ``unit`` per ``period`` (ISO 8601 duration)."""

    limit: int
    period: str = "P1D"
    unit: Literal["request", "byte"] = "request"


class Offer(_Input):
    """The contract of a service offer: ODRL policy plus the Bocage profile."""

    permissions: list[Rule]
    prohibitions: list[Rule] = msgspec.field(default_factory=list)
    timezone: str = "Europe/Paris"
    hours: list[Hours] = msgspec.field(default_factory=list)
    quotas: list[Quota] = msgspec.field(default_factory=list)
    authentication: list[Authentication] = msgspec.field(
        default_factory=lambda: ["http-signature"]
    )
    transport: Literal["tls", "any"] = "tls"
    audience: Audience = "agreement"
    # Who may get an agreement without a human approving it: "any", "members",
    # or a list of actor IRIs.
    auto_accept: str | list[str] = "members"


class Dataset(_Input):
    """A dataset (dcat:Dataset) with its distributions."""

    slug: str
    title: str
    description: str
    keywords: list[str] = msgspec.field(default_factory=list)
    themes: list[str] = msgspec.field(default_factory=list)  # IRIs (EU data themes)
    license: str = (
        ""  # an IRI, e.g. https://www.etalab.gouv.fr/licence-ouverte-open-licence
    )
    access_rights: str = ""  # an IRI (EU access-right vocabulary)
    language: list[str] = msgspec.field(default_factory=list)  # e.g. ["fr"]
    spatial: list[str] = msgspec.field(default_factory=list)  # IRIs
    temporal_start: str = ""
    temporal_end: str = ""
    accrual_periodicity: str = ""  # an IRI (EU frequency vocabulary)
    contact_name: str = ""
    contact_email: str = ""
    landing_page: str = ""
    conforms_to: list[str] = msgspec.field(default_factory=list)
    distributions: list[Distribution] = msgspec.field(default_factory=list)


class Service(_Input):
    """A service offer: a data service (dcat:DataService) and its contract."""

    slug: str
    title: str
    description: str
    endpoint_url: str
    offer: Offer
    endpoint_description: str = ""  # e.g. the OpenAPI document's URL
    conforms_to: list[str] = msgspec.field(default_factory=list)
    formats: list[str] = msgspec.field(default_factory=list)
    serves_datasets: list[str] = msgspec.field(default_factory=list)  # IRIs
    keywords: list[str] = msgspec.field(default_factory=list)
    themes: list[str] = msgspec.field(default_factory=list)
    license: str = ""
    access_rights: str = ""
    contact_name: str = ""
    contact_email: str = ""


def _fail(exc: msgspec.ValidationError) -> RecordError:
    text = str(exc)
    message, _, where = text.partition(" - at `$")
    field = where.rstrip("`").lstrip(".")
    return RecordError(field, message[0].lower() + message[1:] if message else text)


def _check_url(field: str, value: str, *, required: bool = False) -> None:
    if not value:
        if required:
            raise RecordError(field, "required")
        return
    if not re.match(r"^https?://[^\s/]+[^\s]*$", value):
        raise RecordError(field, f"{value!r} is not an http(s) URL")


def _check_common(record: Dataset | Service) -> None:
    if not SLUG_RE.match(record.slug):
        raise RecordError("slug", "expected lower-case letters, digits and dashes")
    if not record.title.strip():
        raise RecordError("title", "required")
    if not record.description.strip():
        raise RecordError("description", "required")
    for name in ("license", "access_rights"):
        _check_url(name, getattr(record, name))
    for index, theme in enumerate(record.themes):
        _check_url(f"themes[{index}]", theme)
    if record.contact_email and "@" not in record.contact_email:
        raise RecordError("contact_email", "not an e-mail address")


def decode_dataset(data: Any) -> Dataset:
    """Validate a dataset given as parsed JSON (a dict)."""
    try:
        dataset = msgspec.convert(data, Dataset)
    except msgspec.ValidationError as exc:
        raise _fail(exc) from None
    _check_common(dataset)
    _check_url("landing_page", dataset.landing_page)
    for index, dist in enumerate(dataset.distributions):
        where = f"distributions[{index}]"
        _check_url(f"{where}.access_url", dist.access_url)
        _check_url(f"{where}.download_url", dist.download_url)
        if not (dist.access_url or dist.download_url or dist.stored_file):
            raise RecordError(where, "needs an access_url, a download_url or a file")
        if dist.byte_size is not None and dist.byte_size < 0:
            raise RecordError(f"{where}.byte_size", "must not be negative")
    return dataset


def decode_service(data: Any) -> Service:
    """Validate a service offer given as parsed JSON (a dict)."""
    try:
        service = msgspec.convert(data, Service)
    except msgspec.ValidationError as exc:
        raise _fail(exc) from None
    _check_common(service)
    _check_url("endpoint_url", service.endpoint_url, required=True)
    _check_url("endpoint_description", service.endpoint_description)
    offer = service.offer
    if not offer.permissions:
        raise RecordError("offer.permissions", "an offer permits at least one action")
    try:
        ZoneInfo(offer.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecordError(
            "offer.timezone", f"unknown time zone {offer.timezone!r}"
        ) from None
    for index, hours in enumerate(offer.hours):
        for name in ("opens", "closes"):
            if not _TIME_RE.match(getattr(hours, name)):
                raise RecordError(f"offer.hours[{index}].{name}", "expected HH:MM")
        if not hours.days:
            raise RecordError(f"offer.hours[{index}].days", "name at least one day")
    for index, quota in enumerate(offer.quotas):
        if quota.limit < 0:
            raise RecordError(f"offer.quotas[{index}].limit", "must not be negative")
        if not _DURATION_RE.match(quota.period) or quota.period in ("P", "PT"):
            raise RecordError(
                f"offer.quotas[{index}].period", "expected an ISO 8601 duration (P1D)"
            )
    return service
