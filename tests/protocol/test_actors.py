"""Tests for protocol.actors: our actor documents and reading a peer's."""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from protocol import actors, integrity, jsonld, keys
from protocol.actors import ActorSpec
from protocol.jsonld import DocumentError
from protocol.keys import WeakKeyError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
BASE = "https://bocage.example"
ACTOR = f"{BASE}/actors/node"
SEC = "https://w3id.org/security#"
AS = "https://www.w3.org/ns/activitystreams#"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return keys.generate_rsa()


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return keys.generate_ed25519()


@pytest.fixture
def spec(rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey) -> ActorSpec:
    return ActorSpec(
        id=ACTOR,
        type="Organization",
        username="bocage",
        name="Bocage du Perche",
        summary="<p>Coopérative</p>",
        url=f"{BASE}/@bocage",
        inbox=f"{ACTOR}/inbox",
        outbox=f"{ACTOR}/outbox",
        followers=f"{ACTOR}/followers",
        following=f"{ACTOR}/following",
        shared_inbox=f"{BASE}/inbox",
        rsa_public_key=rsa_key.public_key(),
        ed25519_public_key=ed_key.public_key(),
        manually_approves_followers=True,
        fields=[("Site", '<a href="https://bocage.example">bocage.example</a>')],
    )


def der(pub: keys.PublicKey) -> bytes:
    return pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- usernames ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["bocage", "Bocage", "a", "a_b", "a.b", "a-b", "a..b", "_x_", "x" * 128]
)
def test_valid_usernames(name: str) -> None:
    assert actors.validate_username(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".a", "a.", "-a", "a-", "a b", "a@b", "été", "ａ", "x" * 129, "a\n", "١٢"],
)
def test_invalid_usernames(name: str) -> None:
    with pytest.raises(DocumentError):
        actors.validate_username(name)


def test_username_length_limit_is_configurable() -> None:
    with pytest.raises(DocumentError):
        actors.validate_username("x" * 31, max_length=30)


# --- building ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Organization", "Group", "Service", "Application"])
def test_build_actor_has_required_fields(spec: ActorSpec, kind: Any) -> None:
    doc = actors.build_actor(replace(spec, type=kind))
    assert doc["type"] == kind
    for member in (
        "id",
        "preferredUsername",
        "name",
        "summary",
        "url",
        "inbox",
        "outbox",
        "followers",
        "following",
        "manuallyApprovesFollowers",
        "discoverable",
    ):
        assert member in doc
    assert doc["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert doc["publicKey"]["id"] == f"{ACTOR}#main-key"
    assert doc["publicKey"]["owner"] == ACTOR
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    [multikey] = doc["assertionMethod"]
    assert multikey["id"] == f"{ACTOR}#ed25519-key"
    assert multikey["type"] == "Multikey"
    assert multikey["controller"] == ACTOR
    assert multikey["publicKeyMultibase"].startswith("z6Mk")
    assert doc["attachment"] == [
        {
            "type": "PropertyValue",
            "name": "Site",
            "value": '<a href="https://bocage.example">bocage.example</a>',
        }
    ]
    context = doc["@context"]
    assert context[:3] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    assert context[3]["schema"] == "http://schema.org#"
    json.dumps(doc)  # plain JSON all the way down


def test_built_actor_expands_offline_to_the_right_terms(spec: ActorSpec) -> None:
    [node] = jsonld.expand(actors.build_actor(spec))
    assert node["@id"] == ACTOR
    assert node["@type"] == [AS + "Organization"]
    assert node[AS + "manuallyApprovesFollowers"] == [{"@value": True}]
    [key] = node[SEC + "publicKey"]
    assert SEC + "publicKeyPem" in key
    assert key[SEC + "owner"] == [{"@id": ACTOR}]
    [method] = node[SEC + "assertionMethod"]
    assert method["@type"] == [SEC + "Multikey"]
    assert SEC + "publicKeyMultibase" in method
    [field] = node[AS + "attachment"]
    assert field["@type"] == ["http://schema.org#PropertyValue"]
    assert "http://schema.org#value" in field
    # Nothing fell through to the activitystreams context's "_:" vocabulary.
    assert not any(k.startswith("_:") for k in json.dumps(node).split('"'))


def test_build_actor_without_optional_parts(spec: ActorSpec) -> None:
    doc = actors.build_actor(
        replace(
            spec, ed25519_public_key=None, fields=(), summary=None, url=None, name=None
        )
    )
    assert "assertionMethod" not in doc
    assert "attachment" not in doc
    assert "summary" not in doc and "url" not in doc
    assert doc["name"] == "bocage"


def test_build_actor_refuses_weak_rsa_key(spec: ActorSpec) -> None:
    path = VECTORS / "cavage-12" / "test-key.pub.pem"
    if not path.is_file():
        pytest.skip(f"test vectors not found at {path}")
    weak = keys.load_public_pem(path.read_text())
    assert isinstance(weak, rsa.RSAPublicKey)
    with pytest.raises(WeakKeyError):
        actors.build_actor(replace(spec, rsa_public_key=weak))


@pytest.mark.parametrize(
    "change",
    [
        {"username": "été"},
        {"id": "bocage.example/actor"},
        {"inbox": "https://elsewhere.example/inbox"},
        {"shared_inbox": "http://bocage.example/inbox"},
        {"followers": "https://bocage.example:8443/f"},
    ],
)
def test_build_actor_refusals(spec: ActorSpec, change: dict[str, Any]) -> None:
    with pytest.raises(DocumentError):
        actors.build_actor(replace(spec, **change))


# --- parsing -----------------------------------------------------------------------


def test_build_then_parse_then_keys(
    spec: ActorSpec, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    remote = actors.parse_actor(actors.build_actor(spec))
    assert remote.id == ACTOR
    assert remote.types == ("Organization",)
    assert remote.inbox == f"{ACTOR}/inbox"
    assert remote.shared_inbox == f"{BASE}/inbox"
    assert remote.outbox == f"{ACTOR}/outbox"
    assert remote.followers == f"{ACTOR}/followers"
    assert remote.following == f"{ACTOR}/following"
    assert remote.preferred_username == "bocage"
    assert remote.rejected_keys == ()

    main = remote.key(f"{ACTOR}#main-key")
    assert main.source == "publicKey" and main.owner == ACTOR
    assert der(main.public_key) == der(rsa_key.public_key())
    ed = remote.key(f"{ACTOR}#ed25519-key")
    assert ed.source == "assertionMethod" and ed.owner == ACTOR
    assert der(ed.public_key) == der(ed_key.public_key())

    # The published Ed25519 key verifies our integrity proofs end to end.
    note = {"id": f"{BASE}/notes/1", "type": "Note", "attributedTo": ACTOR}
    signed = integrity.create_proof(note, ed_key, ed.id)
    integrity.verify_proof(signed, lambda method: remote.key(method).public_key)


def test_parse_tolerates_json_ld_shapes(spec: ActorSpec) -> None:
    doc = actors.build_actor(spec)
    doc["type"] = ["Organization", "Thing"]
    doc["inbox"] = {"id": f"{ACTOR}/inbox", "type": "OrderedCollection"}
    doc["endpoints"] = [{"sharedInbox": {"id": f"{BASE}/inbox"}}]
    doc["publicKey"] = [dict(doc["publicKey"], owner={"id": ACTOR})]
    doc["assertionMethod"] = dict(doc["assertionMethod"][0], controller=[ACTOR])
    remote = actors.parse_actor(doc)
    assert remote.types == ("Organization", "Thing")
    assert remote.inbox == f"{ACTOR}/inbox"
    assert remote.shared_inbox == f"{BASE}/inbox"
    assert len(remote.public_keys) == 1
    assert len(remote.assertion_methods) == 1


def test_parse_without_optional_members() -> None:
    remote = actors.parse_actor({"id": ACTOR, "type": "Person", "inbox": f"{ACTOR}/i"})
    assert remote.shared_inbox is None
    assert remote.public_keys == remote.assertion_methods == ()
    with pytest.raises(DocumentError, match="does not list"):
        remote.key(f"{ACTOR}#main-key")


def test_owner_mismatch_is_refused(spec: ActorSpec) -> None:
    doc = actors.build_actor(spec)
    doc["publicKey"]["owner"] = "https://evil.example/actor"
    doc["assertionMethod"][0]["controller"] = "https://evil.example/actor"
    remote = actors.parse_actor(doc)
    assert remote.public_keys == () and remote.assertion_methods == ()
    with pytest.raises(DocumentError, match="owner"):
        remote.key(f"{ACTOR}#main-key")
    with pytest.raises(DocumentError, match="controller"):
        remote.key(f"{ACTOR}#ed25519-key")


def test_missing_owner_is_refused(spec: ActorSpec) -> None:
    doc = actors.build_actor(spec)
    del doc["publicKey"]["owner"]
    remote = actors.parse_actor(doc)
    assert remote.public_keys == ()
    assert "owner" in remote.rejected_keys[0].reason


def test_weak_peer_key_is_rejected_by_default(spec: ActorSpec) -> None:
    path = VECTORS / "cavage-12" / "test-key.pub.pem"
    if not path.is_file():
        pytest.skip(f"test vectors not found at {path}")
    doc = actors.build_actor(spec)
    doc["publicKey"]["publicKeyPem"] = path.read_text()
    with pytest.raises(DocumentError, match="1024"):
        actors.parse_actor(doc).key(f"{ACTOR}#main-key")
    lenient = actors.parse_actor(doc, min_rsa_bits=None)
    assert lenient.key(f"{ACTOR}#main-key").public_key.key_size == 1024  # type: ignore[union-attr]


def test_non_conformant_entries_are_skipped_with_reasons(spec: ActorSpec) -> None:
    doc = actors.build_actor(spec)
    good = doc["assertionMethod"][0]
    doc["publicKey"] = [
        f"{ACTOR}#ref",
        doc["publicKey"],
        {"id": f"{ACTOR}#nopem", "owner": ACTOR},
    ]
    doc["assertionMethod"] = [
        f"{ACTOR}#ref2",
        dict(good, id=f"{ACTOR}#jwk", type="JsonWebKey"),
        dict(good, id=f"{ACTOR}#bad", publicKeyMultibase="zzzz"),
        {"type": "Multikey"},
        good,
        good,
    ]
    remote = actors.parse_actor(doc)
    assert [k.id for k in remote.public_keys] == [f"{ACTOR}#main-key"]
    assert [k.id for k in remote.assertion_methods] == [f"{ACTOR}#ed25519-key"]
    reasons = {r.id: r.reason for r in remote.rejected_keys}
    assert "reference" in reasons[f"{ACTOR}#ref"]
    assert "reference" in reasons[f"{ACTOR}#ref2"]
    assert "publicKeyPem" in reasons[f"{ACTOR}#nopem"]
    assert "Multikey" in reasons[f"{ACTOR}#jwk"]
    assert reasons[None] == "Multikey has no id"
    assert any(r.reason == "key id listed twice" for r in remote.rejected_keys)
    with pytest.raises(DocumentError, match="rejected"):
        remote.key(f"{ACTOR}#bad")


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], "JSON object"),
        ({"type": "Person", "inbox": "x"}, "id"),
        ({"id": "acct:a@b", "type": "Person", "inbox": "x"}, "id"),
        ({"id": ACTOR, "inbox": "x"}, "type"),
        ({"id": ACTOR, "type": "Person"}, "inbox"),
        ({"id": ACTOR, "type": "Person", "inbox": {"type": "Collection"}}, "inbox"),
    ],
)
def test_parse_refusals(doc: Any, reason: str) -> None:
    with pytest.raises(DocumentError) as info:
        actors.parse_actor(doc)
    assert reason in info.value.reason


@pytest.mark.parametrize("name", ["current", "previous_2024"])
def test_fep_8b32_actor_is_read_as_plain_json(name: str) -> None:
    path = VECTORS / "fep-8b32" / f"{name}.actor.json"
    if not path.is_file():
        pytest.skip(f"test vectors not found at {path}")
    remote = actors.parse_actor(json.loads(path.read_text()))
    [key] = remote.assertion_methods
    assert key.id == "https://server.example/users/alice#ed25519-key"
    assert keys.public_key_to_multibase(key.public_key) == (
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    )
    assert remote.shared_inbox is None


# --- properties -----------------------------------------------------------------------

KEY_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "id": st.just(f"{ACTOR}#k") | JSON,
        "type": st.just("Multikey") | JSON,
        "owner": st.just(ACTOR) | JSON,
        "controller": st.just(ACTOR) | JSON,
        "publicKeyPem": st.just(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )
        | JSON,
        "publicKeyMultibase": st.just(
            "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
        )
        | st.text(alphabet="z123456789ABCabc", max_size=60)
        | JSON,
    },
)
ACTOR_DOC = st.fixed_dictionaries(
    {},
    optional={
        "id": st.just(ACTOR) | JSON,
        "type": st.just("Person") | JSON,
        "inbox": st.just(f"{ACTOR}/inbox") | JSON,
        "endpoints": JSON,
        "preferredUsername": JSON,
        "publicKey": KEY_ENTRY | st.lists(KEY_ENTRY | JSON, max_size=3) | JSON,
        "assertionMethod": KEY_ENTRY | st.lists(KEY_ENTRY | JSON, max_size=3) | JSON,
    },
)


@given(st.one_of(JSON, ACTOR_DOC))
def test_actor_parser_raises_only_document_errors(doc: Any) -> None:
    try:
        remote = actors.parse_actor(copy.deepcopy(doc))
    except DocumentError:
        return
    for key_id in (f"{ACTOR}#k", "x"):
        with contextlib.suppress(DocumentError):
            remote.key(key_id)


@given(st.text(max_size=140))
def test_username_validator_raises_only_document_errors(name: str) -> None:
    try:
        actors.validate_username(name)
    except DocumentError:
        return
    assert name.isascii()
