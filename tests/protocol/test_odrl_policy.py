"""Policies over the wire: reading odrl:hasPolicy back, comparing contracts."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from protocol.dcat import service_record
from protocol.odrl import (
    AccessRequest,
    PolicyError,
    evaluate,
    narrower_or_equal,
    offer_from_policy,
)
from protocol.records import Offer, Service, decode_service

NODE = "https://data.redon-agglomeration.example"
ACTOR = f"{NODE}/actor"
IRI = f"{NODE}/services/api-collecte"
PEER = "https://peer.example/actor"
TERRITORY = "https://geo.api.gouv.fr/epcis/243500741"

RICH_OFFER: dict[str, Any] = {
    "permissions": [
        {
            "action": "read",
            "constraints": [
                {"left": "dateTime", "operator": "gteq", "right": "2026-01-01"},
                {"left": "dateTime", "operator": "lt", "right": "2027-01-01T00:00:00Z"},
                {"left": "count", "operator": "lteq", "right": 5000},
                {"left": "purpose", "operator": "isAnyOf", "right": ["research"]},
                {"left": "spatial", "operator": "eq", "right": TERRITORY},
                {"left": "recipient", "operator": "isNoneOf", "right": [PEER]},
            ],
            "duties": [
                {
                    "action": "compensate",
                    "amount": 12.5,
                    "currency": "EUR",
                    "unit": "month",
                },
                {"action": "attribute"},
                {"action": "reciprocate", "note": "share your counts back"},
            ],
        },
        {"action": "use", "duties": [{"action": "shareAlike"}]},
    ],
    "prohibitions": [
        {
            "action": "distribute",
            "constraints": [{"left": "purpose", "operator": "eq", "right": "ads"}],
        }
    ],
    "timezone": "Pacific/Chatham",
    "hours": [
        {"days": ["Monday", "Friday"], "opens": "08:30", "closes": "18:00"},
        {"days": ["Saturday"], "opens": "22:00", "closes": "06:00"},
    ],
    "quotas": [
        {"limit": 1000, "period": "P1D"},
        {"limit": 10_000_000, "period": "P1M", "unit": "byte"},
    ],
    "authentication": ["http-signature", "agreement-token"],
    "transport": "any",
    "audience": "public",
    "auto_accept": [PEER, "https://other.example/actor"],
}


def service(offer: dict[str, Any]) -> Service:
    return decode_service(
        {
            "slug": "api-collecte",
            "title": "API des tournées de collecte",
            "description": "Position des bennes, en temps réel.",
            "endpoint_url": "https://api.redon-agglomeration.example/collecte/v1",
            "offer": offer,
        }
    )


def published(sv: Service) -> dict[str, Any]:
    record = service_record(
        sv,
        iri=IRI,
        actor=ACTOR,
        actor_name="Redon Agglomération",
        followers=f"{ACTOR}/followers",
        html_url=IRI.replace("/services/", "/s/"),
        published=datetime(2026, 1, 6, 9, 30, tzinfo=UTC),
        updated=datetime(2026, 1, 6, 9, 30, tzinfo=UTC),
        file_url=lambda sha: f"{NODE}/files/{sha}",
    )
    policy: dict[str, Any] = record["odrl:hasPolicy"]
    return policy


@pytest.mark.parametrize(
    "offer",
    [
        pytest.param(RICH_OFFER, id="rich"),
        pytest.param({"permissions": [{"action": "read"}]}, id="defaults"),
        pytest.param(
            {
                "permissions": [{"action": "modify"}],
                "auto_accept": "any",
                "authentication": ["none"],
                "audience": "members",
                "hours": [{"days": ["Sunday"], "opens": "00:00", "closes": "00:00"}],
                "quotas": [{"limit": 0, "period": "PT1H"}],
            },
            id="open",
        ),
    ],
)
def test_round_trip(offer: dict[str, Any]) -> None:
    sv = service(offer)
    assert offer_from_policy(published(sv)) == sv.offer


def test_round_trip_survives_json() -> None:
    sv = service(RICH_OFFER)
    wire = msgspec.json.decode(msgspec.json.encode(published(sv)))
    assert offer_from_policy(wire) == sv.offer


def test_tolerates_other_forms() -> None:
    odrl = "http://www.w3.org/ns/odrl/2/"
    policy = {
        "type": "Offer",
        "permission": {
            "action": {"@id": odrl + "read"},
            "constraint": {
                "leftOperand": odrl + "count",
                "operator": {"id": "odrl:lt"},
                "rightOperand": {"@value": "10", "@type": "xsd:integer"},
            },
        },
        "https://w3id.org/bocage/ns#timezone": {"@value": "Europe/Paris"},
        "schema:hoursAvailable": {
            "schema:dayOfWeek": "http://schema.org/Tuesday",
            "schema:opens": {"@value": "09:00:00", "@type": "xsd:time"},
            "schema:closes": "12:00",
        },
        "bocage:authentication": "https://w3id.org/bocage/ns#NoAuthentication",
        "bocage:transportSecurity": {"id": "bocage:TLS"},
    }
    offer = offer_from_policy(policy)
    assert offer.permissions[0].action == "read"
    assert offer.permissions[0].constraints[0].right == 10
    assert offer.hours[0].days == ["Tuesday"]
    assert (offer.hours[0].opens, offer.hours[0].closes) == ("09:00", "12:00")
    assert offer.authentication == ["none"]
    assert offer.timezone == "Europe/Paris"


def _broken(path: list[str | int], value: Any) -> dict[str, Any]:
    policy = copy.deepcopy(published(service(RICH_OFFER)))
    node: Any = policy
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return policy


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(_broken(["odrl:permission"], []), id="no permission"),
        pytest.param(
            _broken(["odrl:permission", 0, "odrl:action"], ...), id="no action"
        ),
        pytest.param(
            _broken(["odrl:permission", 0, "odrl:action"], "odrl:fly"),
            id="unknown action",
        ),
        pytest.param(
            _broken(
                ["odrl:permission", 0, "odrl:action"],
                {"rdf:value": {"id": "odrl:read"}, "odrl:refinement": {}},
            ),
            id="refined action",
        ),
        pytest.param(
            _broken(
                ["odrl:permission", 0, "odrl:constraint", 0, "odrl:operator"],
                "odrl:isA",
            ),
            id="bad operator",
        ),
        pytest.param(
            _broken(
                ["odrl:permission", 0, "odrl:constraint", 0, "odrl:rightOperand"], ...
            ),
            id="no right operand",
        ),
        pytest.param(_broken(["bocage:timezone"], "Mars/Olympus"), id="unknown zone"),
        pytest.param(
            _broken(["bocage:quota", 0, "bocage:period"], "daily"), id="bad period"
        ),
        pytest.param(
            _broken(["bocage:quota", 0, "bocage:limit"], -1), id="negative limit"
        ),
        pytest.param(
            _broken(["schema:hoursAvailable", 0, "schema:opens"], "25:00:00"),
            id="bad time",
        ),
        pytest.param(
            _broken(["schema:hoursAvailable", 0, "schema:opens"], "09:00:30"),
            id="seconds",
        ),
        pytest.param(
            _broken(["bocage:authentication"], ["bocage:Password"]), id="unknown auth"
        ),
        pytest.param(_broken(["bocage:transportSecurity"], 3), id="not an IRI"),
        pytest.param(_broken(["odrl:permission"], ["read"]), id="rule not an object"),
    ],
)
def test_malformed_policies(policy: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as caught:
        offer_from_policy(policy)
    assert caught.value.reason


def test_not_an_object() -> None:
    with pytest.raises(PolicyError):
        offer_from_policy("odrl:Offer")  # type: ignore[arg-type]


# --- narrower_or_equal ----------------------------------------------------------

BASE: dict[str, Any] = {
    "permissions": [
        {
            "action": "use",
            "constraints": [
                {"left": "dateTime", "operator": "lteq", "right": "2026-12-31"},
                {"left": "purpose", "operator": "isAnyOf", "right": ["a", "b"]},
                {"left": "recipient", "operator": "isNoneOf", "right": [PEER]},
            ],
            "duties": [{"action": "attribute"}],
        }
    ],
    "prohibitions": [{"action": "distribute"}],
    "hours": [{"days": ["Monday", "Tuesday"], "opens": "22:00", "closes": "06:00"}],
    "quotas": [{"limit": 100, "period": "P1D"}],
    "authentication": ["http-signature", "agreement-token"],
}


def derive(**changes: Any) -> Offer:
    data = copy.deepcopy(BASE)
    rule = data["permissions"][0]
    for key, value in changes.items():
        if key in ("action", "constraints", "duties"):
            rule[key] = value
        else:
            data[key] = value
    return msgspec.convert(data, Offer)


OFFERED = derive()
C_END = {"left": "dateTime", "operator": "lteq", "right": "2026-12-31"}
C_PURPOSE = {"left": "purpose", "operator": "isAnyOf", "right": ["a", "b"]}
C_NOT_PEER = {"left": "recipient", "operator": "isNoneOf", "right": [PEER]}


@pytest.mark.parametrize(
    ("requested", "narrower"),
    [
        pytest.param(OFFERED, True, id="equal"),
        pytest.param(derive(action="read"), True, id="read under use"),
        pytest.param(
            derive(
                constraints=[
                    {**C_END, "operator": "lt", "right": "2026-06-30"},
                    C_PURPOSE,
                    C_NOT_PEER,
                ]
            ),
            True,
            id="earlier end",
        ),
        pytest.param(
            derive(
                constraints=[{**C_END, "right": "2027-06-30"}, C_PURPOSE, C_NOT_PEER]
            ),
            False,
            id="later end",
        ),
        pytest.param(derive(constraints=[C_PURPOSE, C_NOT_PEER]), False, id="no end"),
        pytest.param(
            derive(
                constraints=[
                    C_END,
                    {"left": "purpose", "operator": "eq", "right": "a"},
                    C_NOT_PEER,
                ]
            ),
            True,
            id="one purpose of two",
        ),
        pytest.param(
            derive(constraints=[C_END, {**C_PURPOSE, "right": ["a", "c"]}, C_NOT_PEER]),
            False,
            id="another purpose",
        ),
        pytest.param(
            derive(
                constraints=[
                    C_END,
                    C_PURPOSE,
                    {**C_NOT_PEER, "right": [PEER, "https://x.example/"]},
                ]
            ),
            True,
            id="more exclusions",
        ),
        pytest.param(
            derive(
                constraints=[
                    C_END,
                    C_PURPOSE,
                    {
                        "left": "recipient",
                        "operator": "eq",
                        "right": "https://x.example/",
                    },
                ]
            ),
            False,
            id="positive recipient does not exclude",
        ),
        pytest.param(
            derive(
                constraints=[
                    C_END,
                    C_PURPOSE,
                    C_NOT_PEER,
                    {"left": "count", "operator": "lt", "right": 3},
                ]
            ),
            True,
            id="extra constraint",
        ),
        pytest.param(derive(duties=[]), False, id="dropped duty"),
        pytest.param(derive(prohibitions=[]), False, id="dropped prohibition"),
        pytest.param(
            derive(prohibitions=[{"action": "use"}]), True, id="wider prohibition"
        ),
        pytest.param(
            derive(hours=[{"days": ["Monday"], "opens": "23:00", "closes": "05:00"}]),
            True,
            id="fewer hours",
        ),
        pytest.param(
            derive(hours=[{"days": ["Tuesday"], "opens": "22:00", "closes": "07:00"}]),
            False,
            id="hours past closing",
        ),
        pytest.param(derive(hours=[]), False, id="no hours asks for all week"),
        pytest.param(
            derive(quotas=[{"limit": 10, "period": "P1D"}]), True, id="lower quota"
        ),
        pytest.param(
            derive(quotas=[{"limit": 101, "period": "P1D"}]), False, id="higher quota"
        ),
        pytest.param(
            derive(quotas=[{"limit": 10, "period": "PT1H"}]), False, id="other period"
        ),
        pytest.param(derive(quotas=[]), False, id="no quota"),
        pytest.param(derive(authentication=["agreement-token"]), True, id="one method"),
        pytest.param(derive(authentication=["none"]), False, id="anonymous"),
        pytest.param(derive(transport="any"), False, id="no TLS"),
        pytest.param(derive(timezone="Europe/London"), False, id="other zone"),
    ],
)
def test_narrower_or_equal(requested: Offer, narrower: bool) -> None:
    reason = narrower_or_equal(requested, OFFERED)
    assert (reason is None) is narrower, reason
    if reason is not None:
        assert "\n" not in reason


def test_narrower_than_an_open_offer() -> None:
    offered = msgspec.convert(
        {"permissions": [{"action": "read"}], "authentication": ["none"]}, Offer
    )
    requested = msgspec.convert(
        {
            "permissions": [
                {
                    "action": "read",
                    "constraints": [{"left": "count", "operator": "lteq", "right": 9}],
                }
            ],
            "authentication": ["http-signature"],
            "hours": [{"days": ["Monday"], "opens": "09:00", "closes": "10:00"}],
        },
        Offer,
    )
    assert narrower_or_equal(requested, offered) is None
    assert narrower_or_equal(offered, requested) is not None


def test_evaluate_a_policy_read_back() -> None:
    offer = offer_from_policy(published(service(RICH_OFFER)))
    # Monday 2026-06-15 10:00 in Chatham (+12:45), inside 08:30-18:00.
    at = datetime(2026, 6, 14, 21, 15, tzinfo=UTC)
    request = AccessRequest(
        action="read",
        at=at,
        caller="https://third.example/actor",
        authentication="agreement-token",
        secure=False,
        purpose="research",
        spatial=TERRITORY,
        period_uses={"P1D": 999},
    )
    assert evaluate(offer, request).permitted
    spent = dataclasses.replace(request, period_uses={"P1D": 1000})
    decision = evaluate(offer, spent)
    assert (decision.status, decision.constraint) == (429, "quota:P1D")
