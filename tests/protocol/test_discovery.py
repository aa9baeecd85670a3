"""Tests for protocol.discovery: WebFinger, NodeInfo and host-meta."""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import discovery
from protocol.jsonld import DocumentError

ACTOR = "https://bocage.example/actor"
PROFILE = "https://bocage.example/@bocage"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


# --- WebFinger ------------------------------------------------------------------


def jrd() -> dict[str, Any]:
    return discovery.build_webfinger(
        "bocage", "bocage.example", ACTOR, profile_url=PROFILE
    )


def test_build_webfinger() -> None:
    doc = jrd()
    assert doc["subject"] == "acct:bocage@bocage.example"
    assert doc["aliases"] == [ACTOR, PROFILE]
    selfs = [link for link in doc["links"] if link["rel"] == "self"]
    assert selfs == [
        {"rel": "self", "type": "application/activity+json", "href": ACTOR}
    ]
    assert {
        "rel": "http://webfinger.net/rel/profile-page",
        "type": "text/html",
        "href": PROFILE,
    } in doc["links"]


def test_webfinger_build_then_parse() -> None:
    parsed = discovery.parse_webfinger(jrd())
    assert parsed == discovery.WebFinger(
        subject="acct:bocage@bocage.example",
        actor_id=ACTOR,
        aliases=(ACTOR, PROFILE),
        profile_url=PROFILE,
    )


def test_webfinger_without_profile_page() -> None:
    doc = discovery.build_webfinger("a", "h.example", ACTOR)
    assert doc["aliases"] == [ACTOR]
    assert discovery.parse_webfinger(doc).profile_url is None


def test_ld_json_with_activitystreams_profile_is_accepted() -> None:
    doc = jrd()
    doc["links"][0]["type"] = discovery.LD_JSON_AS
    assert discovery.parse_webfinger(doc).actor_id == ACTOR


def test_self_link_of_another_type_is_ignored() -> None:
    doc = jrd()
    doc["links"].append({"rel": "self", "type": "text/html", "href": PROFILE})
    assert discovery.parse_webfinger(doc).actor_id == ACTOR


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("subject"), "subject"),
        (lambda d: d.update(subject=""), "subject"),
        (lambda d: d.update(subject=["acct:a@b"]), "subject"),
        (lambda d: d["links"].append(dict(d["links"][0])), "2 ActivityStreams self"),
        (lambda d: d["links"][0].update(type="text/html"), "0 ActivityStreams self"),
        (lambda d: d["links"][0].update(type="application/ld+json"), "0 Activity"),
        (lambda d: d["links"][0].pop("type"), "0 ActivityStreams self"),
        (lambda d: d["links"][0].pop("href"), "href"),
        (lambda d: d.pop("links"), "links"),
        (lambda d: d.update(links={"rel": "self"}), "links"),
        (lambda d: d.update(aliases="x"), "aliases"),
    ],
)
def test_webfinger_strict_failures(mutate: Any, reason: str) -> None:
    doc = jrd()
    mutate(doc)
    with pytest.raises(DocumentError) as info:
        discovery.parse_webfinger(doc)
    assert reason in info.value.reason


def test_webfinger_not_an_object() -> None:
    with pytest.raises(DocumentError):
        discovery.parse_webfinger(["subject"])


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:alice@Example.ORG", ("alice", "example.org")),
        ("alice@example.org", ("alice", "example.org")),
        ("@alice@example.org", ("alice", "example.org")),
        ("acct:alice@example.org:8443", ("alice", "example.org:8443")),
    ],
)
def test_parse_acct(resource: str, expected: tuple[str, str]) -> None:
    assert discovery.parse_acct(resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "alice",
        "acct:@example.org",
        "acct:alice@",
        "a@b@c",
        "a b@c",
        "a@exa/mple",
        "a@é.fr",
    ],
)
def test_parse_acct_refusals(resource: str) -> None:
    with pytest.raises(DocumentError):
        discovery.parse_acct(resource)


# --- NodeInfo -------------------------------------------------------------------


def nodeinfo(version: Any, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "software_name": "bocage",
        "software_version": "0.1.0",
        "open_registrations": False,
        "users_total": 3,
        "users_active_month": 2,
        "users_active_halfyear": 3,
        "local_posts": 10,
        "repository": "https://git.example/bocage",
        "homepage": "https://bocage.example/",
        "metadata": {"nodeName": "Bocage du Perche"},
    }
    arguments.update(overrides)
    return discovery.build_nodeinfo(version, **arguments)


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_nodeinfo_schema_basics(version: str) -> None:
    doc = nodeinfo(version)
    assert doc["version"] == version
    assert set(doc) == {
        "version",
        "software",
        "protocols",
        "services",
        "openRegistrations",
        "usage",
        "metadata",
    }
    assert re.fullmatch(r"[a-z0-9-]+", doc["software"]["name"])
    assert doc["protocols"] == ["activitypub"]
    assert doc["services"] == {"inbound": [], "outbound": []}
    assert doc["openRegistrations"] is False
    assert doc["usage"]["users"] == {"total": 3, "activeMonth": 2, "activeHalfyear": 3}
    assert doc["usage"]["localPosts"] == 10
    assert doc["metadata"] == {"nodeName": "Bocage du Perche"}
    # repository and homepage exist only in the 2.1 schema.
    extra = {"repository", "homepage"} & set(doc["software"])
    assert extra == (set() if version == "2.0" else {"repository", "homepage"})


@pytest.mark.parametrize("name", ["Bocage", "bocage node", "bocage_node", "", "bocagé"])
def test_nodeinfo_refuses_bad_software_name(name: str) -> None:
    with pytest.raises(DocumentError, match=r"software\.name"):
        nodeinfo("2.1", software_name=name)


def test_nodeinfo_refuses_bad_version_and_counts() -> None:
    with pytest.raises(DocumentError):
        nodeinfo("1.0")
    with pytest.raises(DocumentError):
        nodeinfo("2.1", users_total=-1)


def test_nodeinfo_links_build_then_parse() -> None:
    doc = discovery.build_nodeinfo_links("https://bocage.example/")
    assert doc["links"] == [
        {
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
            "href": "https://bocage.example/nodeinfo/2.0",
        },
        {
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": "https://bocage.example/nodeinfo/2.1",
        },
    ]
    assert discovery.parse_nodeinfo_links(doc) == {
        "2.0": "https://bocage.example/nodeinfo/2.0",
        "2.1": "https://bocage.example/nodeinfo/2.1",
    }


@pytest.mark.parametrize(
    "doc", [{}, {"links": []}, {"links": [{"rel": "x", "href": "y"}]}, []]
)
def test_nodeinfo_links_refusals(doc: Any) -> None:
    with pytest.raises(DocumentError):
        discovery.parse_nodeinfo_links(doc)


# --- host-meta ------------------------------------------------------------------


def test_host_meta_build_then_parse() -> None:
    data = discovery.build_host_meta("https://bocage.example/")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(data)
    assert root.tag == f"{{{discovery.XRD_NS}}}XRD"
    assert b"ns0:" not in data
    template = discovery.parse_host_meta(data)
    assert template == "https://bocage.example/.well-known/webfinger?resource={uri}"
    assert discovery.parse_host_meta(data.decode()) == template


def test_host_meta_escapes_attribute_values() -> None:
    base = 'https://bocage.example/a&b"<c>'
    data = discovery.build_host_meta(base)
    assert b"&amp;" in data and b"&quot;" in data and b"&lt;" in data
    assert discovery.parse_host_meta(data).startswith(base)


def test_host_meta_without_namespace_is_accepted() -> None:
    doc = (
        '<XRD><Link rel="lrdd" '
        'template="https://h.example/.well-known/webfinger?resource={uri}"/></XRD>'
    )
    assert discovery.parse_host_meta(doc).startswith("https://h.example/")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
<Link rel="lrdd" template="https://h.example/?resource={uri}&lol2;"/></XRD>"""


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (BILLION_LAUGHS, "DTD"),
        ("<XRD>", "well-formed"),
        ("", "well-formed"),
        ("<Other/>", "not XRD"),
        ('<XRD><Link rel="lrdd"/></XRD>', "no lrdd"),
        ('<XRD><Link rel="x" template="https://h.example/{uri}"/></XRD>', "no lrdd"),
        ('<XRD><Link rel="lrdd" template="javascript:{uri}"/></XRD>', "http(s)"),
        ('<XRD><Link rel="lrdd" template="https://h.example/"/></XRD>', "http(s)"),
        ('<XRD><Link rel="lrdd" template="https://[h/{uri}"/></XRD>', "http(s)"),
        ("<XRD>" + " " * 70_000 + "</XRD>", "too large"),
    ],
)
def test_host_meta_refusals(doc: str, reason: str) -> None:
    with pytest.raises(DocumentError) as info:
        discovery.parse_host_meta(doc)
    assert reason in info.value.reason


# --- properties -------------------------------------------------------------------

LINK = st.fixed_dictionaries(
    {},
    optional={
        "rel": st.sampled_from(["self", discovery.PROFILE_PAGE_REL, "x"]) | JSON,
        "type": st.sampled_from(
            [discovery.ACTIVITY_JSON, discovery.LD_JSON_AS, "application/ld+json"]
        )
        | JSON,
        "href": st.just(ACTOR) | JSON,
    },
)
JRD = st.fixed_dictionaries(
    {},
    optional={
        "subject": st.just("acct:a@b.example") | JSON,
        "aliases": st.lists(JSON, max_size=3) | JSON,
        "links": st.lists(LINK | JSON, max_size=4) | JSON,
    },
)


@given(st.one_of(JSON, JRD))
def test_webfinger_parser_raises_only_document_errors(doc: Any) -> None:
    try:
        result = discovery.parse_webfinger(doc)
    except DocumentError:
        return
    assert isinstance(result.actor_id, str)


@given(st.text(max_size=40))
def test_parse_acct_raises_only_document_errors(text: str) -> None:
    with contextlib.suppress(DocumentError):
        discovery.parse_acct(text)


@given(st.one_of(JSON, st.fixed_dictionaries({"links": st.lists(LINK | JSON)})))
def test_nodeinfo_links_parser_raises_only_document_errors(doc: Any) -> None:
    with contextlib.suppress(DocumentError):
        discovery.parse_nodeinfo_links(doc)


XML_PIECES = st.sampled_from(
    [
        "<XRD>",
        "</XRD>",
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">',
        '<Link rel="lrdd" template="',
        "https://h.example/{uri}",
        '"/>',
        "<!DOCTYPE x>",
        "&amp;",
        "&x;",
        "<?xml version='1.0'?>",
        "\x00",
        "é",
    ]
)


@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        st.lists(XML_PIECES).map("".join),
    )
)
def test_host_meta_parser_raises_only_document_errors(data: str | bytes) -> None:
    with contextlib.suppress(DocumentError):
        discovery.parse_host_meta(data)
