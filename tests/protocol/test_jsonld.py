"""Tests for protocol.jsonld: plain-JSON accessors and the offline loader."""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import jsonld
from protocol.jsonld import ContextLoadError, DocumentError, JsonLdProcessingError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
CONTEXTS = Path(jsonld.__file__).parent / "contexts"
# pyld has no type information; importing by name keeps mypy quiet either way.
pyld_jsonld = importlib.import_module("pyld.jsonld")
AS = "https://www.w3.org/ns/activitystreams#"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if anything tries to open a connection or resolve a name."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


# --- bundled contexts ---------------------------------------------------------


def test_bundled_contexts_are_copies_of_the_vectors() -> None:
    folder = VECTORS / "jsonld-contexts"
    if not folder.is_dir():
        pytest.skip(f"test vectors not found at {folder}")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert json.loads((CONTEXTS / "manifest.json").read_text()) == manifest
    for name in manifest.values():
        assert (CONTEXTS / name).read_bytes() == (folder / name).read_bytes()


def test_every_manifest_url_is_served(no_network: None) -> None:
    manifest = json.loads((CONTEXTS / "manifest.json").read_text())
    assert set(manifest) <= jsonld.bundled_context_urls()
    for url, name in manifest.items():
        remote = jsonld.offline_document_loader(url, {})
        assert remote["documentUrl"] == url
        assert remote["document"] == json.loads((CONTEXTS / name).read_text())
        assert "@context" in remote["document"]


def test_loader_returns_fresh_copies() -> None:
    first = jsonld.load_bundled_context(jsonld.ACTIVITYSTREAMS)
    first["@context"] = "spoiled"
    assert jsonld.load_bundled_context(jsonld.ACTIVITYSTREAMS)["@context"] != "spoiled"


def test_http_activitystreams_alias() -> None:
    assert jsonld.load_bundled_context(
        "http://www.w3.org/ns/activitystreams"
    ) == jsonld.load_bundled_context(jsonld.ACTIVITYSTREAMS)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/context.jsonld",
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/activitystreams/",
        "file:///etc/passwd",
        "",
    ],
)
def test_loader_refuses_unknown_urls(no_network: None, url: str) -> None:
    with pytest.raises(ContextLoadError) as info:
        jsonld.offline_document_loader(url)
    assert info.value.url == url


# --- pyld, offline --------------------------------------------------------------


def test_pyld_expands_with_bundled_activitystreams(no_network: None) -> None:
    note = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://bocage.example/notes/1",
        "type": "Note",
        "content": "Bonjour",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    expanded = jsonld.expand(note)
    assert expanded[0]["@type"] == [AS + "Note"]
    assert expanded[0][AS + "content"] == [{"@value": "Bonjour"}]
    assert expanded[0][AS + "to"] == [{"@id": jsonld.AS_PUBLIC}]

    # The same loader passed to pyld directly, as other code may do.
    direct = pyld_jsonld.expand(
        note, {"documentLoader": jsonld.offline_document_loader}
    )
    assert direct == expanded


def test_pyld_expands_fep_8b32_document(no_network: None) -> None:
    path = VECTORS / "fep-8b32" / "current.signed.json"
    if not path.is_file():
        pytest.skip(f"test vectors not found at {path}")
    expanded = jsonld.expand(json.loads(path.read_text()))
    proof = expanded[0]["https://w3id.org/security#proof"]
    assert proof  # the data-integrity/v2 context was served offline


def test_unbundled_context_is_refused_through_pyld(no_network: None) -> None:
    document = {"@context": "https://example.com/ctx", "name": "x"}
    with pytest.raises(JsonLdProcessingError) as info:
        jsonld.expand(document)
    assert "https://example.com/ctx" in info.value.reason

    with pytest.raises(pyld_jsonld.JsonLdError) as raw:
        pyld_jsonld.expand(document, {"documentLoader": jsonld.offline_document_loader})
    causes = []
    cause: BaseException | None = raw.value
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    assert any(isinstance(c, ContextLoadError) for c in causes)


def test_invalid_json_ld_is_a_protocol_error() -> None:
    with pytest.raises(JsonLdProcessingError):
        jsonld.expand({"@context": 5, "name": "x"})


# --- accessors ------------------------------------------------------------------


def test_as_list() -> None:
    assert jsonld.as_list(None) == []
    assert jsonld.as_list("a") == ["a"]
    assert jsonld.as_list({"id": "a"}) == [{"id": "a"}]
    assert jsonld.as_list(["a", "b"]) == ["a", "b"]
    assert jsonld.as_list(0) == [0]


def test_ids() -> None:
    assert jsonld.first_id("https://a") == "https://a"
    assert jsonld.first_id({"id": "https://a", "type": "Person"}) == "https://a"
    assert jsonld.first_id([{"id": "https://a"}, "https://b"]) == "https://a"
    assert jsonld.first_id([]) is None
    assert jsonld.first_id(None) is None
    assert jsonld.first_id({"type": "Note"}) is None
    assert jsonld.first_id({"id": 5}) is None
    assert jsonld.ids(["https://a", {"id": "https://b"}, {"x": 1}, 5]) == [
        "https://a",
        "https://b",
    ]
    assert jsonld.ids("https://a") == ["https://a"]


def test_types() -> None:
    assert jsonld.has_type({"type": "Note"}, "Note")
    assert jsonld.has_type({"type": ["Object", "Note"]}, "Note")
    assert not jsonld.has_type({"type": "Article"}, "Note")
    assert not jsonld.has_type({}, "Note")
    assert not jsonld.has_type("Note", "Note")
    assert jsonld.types({"type": ["A", 5, "B"]}) == ["A", "B"]


def test_get_str_and_get_dict() -> None:
    obj = {"name": "x", "names": [5, "y"], "n": 5, "endpoints": {"sharedInbox": "s"}}
    assert jsonld.get_str(obj, "name") == "x"
    assert jsonld.get_str(obj, "names") == "y"
    assert jsonld.get_str(obj, "n") is None
    assert jsonld.get_str(obj, "missing") is None
    assert jsonld.get_str("x", "name") is None
    assert jsonld.get_dict(obj, "endpoints") == {"sharedInbox": "s"}
    assert jsonld.get_dict({"e": [1, {"a": 1}]}, "e") == {"a": 1}
    assert jsonld.get_dict(obj, "name") is None


def nest(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_check_depth() -> None:
    jsonld.check_depth("x", 0)
    jsonld.check_depth(nest(5), 5)
    with pytest.raises(DocumentError, match="deeper than 4"):
        jsonld.check_depth(nest(5), 4)
    # Far deeper than the recursion limit: no RecursionError.
    with pytest.raises(DocumentError):
        jsonld.check_depth(nest(100_000), 64)
    with pytest.raises(DocumentError, match="more than 3"):
        jsonld.check_depth([1, 2, 3], 5, max_nodes=3)


def test_check_raw_depth() -> None:
    jsonld.check_raw_depth(b'{"a": "[[[[[[[[[[[[", "b": [1, {"c": "\\"[["}]}', 3)
    with pytest.raises(DocumentError):
        jsonld.check_raw_depth(b'{"a": [[[1]]]}', 3)
    with pytest.raises(DocumentError):
        jsonld.check_raw_depth(b"[" * 1_000_000, 100)


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


@given(JSON, st.integers(min_value=0, max_value=6))
def test_depth_checks_agree_with_reference(value: Any, limit: int) -> None:
    deep = reference_depth(value) > limit
    raw = json.dumps(value).encode()
    if deep:
        with pytest.raises(DocumentError):
            jsonld.check_depth(value, limit)
        with pytest.raises(DocumentError):
            jsonld.check_raw_depth(raw, limit)
    else:
        jsonld.check_depth(value, limit)
        jsonld.check_raw_depth(raw, limit)


@given(JSON, st.text(max_size=5))
def test_accessors_never_raise(value: Any, key: str) -> None:
    jsonld.as_list(value)
    jsonld.first_id(value)
    jsonld.ids(value)
    jsonld.types(value)
    jsonld.has_type(value, "Note")
    jsonld.get_str(value, key)
    jsonld.get_dict(value, key)


@given(st.binary(max_size=200))
def test_raw_depth_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        jsonld.check_raw_depth(data, 3)
