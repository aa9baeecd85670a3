"""JSON-LD, the cheap way and the offline way.

Two halves:

* Plain-JSON accessors for the hot path (inbox, fetch, delivery).  ActivityPub
  documents are compacted JSON-LD, so a property may be a string, an object or a
  list of either; :func:`as_list`, :func:`first_id`, :func:`ids`,
  :func:`has_type` and :func:`get_str` read all three shapes without any JSON-LD
  processing.  :func:`check_depth` and :func:`check_raw_depth` bound nesting
  before anything recursive touches a peer's document.
* An offline document loader for ``pyld`` (exports and off-path processing
  only) that serves the bundled context files in ``protocol/contexts/`` and
  refuses every other URL.  Bocage never fetches a context over the network
  (DESIGN.md, "Protocols"; STYLE.md, "Secure defaults").

``pyld`` is imported lazily, so the accessors cost nothing to import.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

from protocol.errors import ProtocolError

__all__ = [
    "ACTIVITYSTREAMS",
    "AS_PUBLIC",
    "ContextLoadError",
    "DocumentError",
    "JsonLdProcessingError",
    "as_list",
    "bundled_context_urls",
    "check_depth",
    "check_raw_depth",
    "expand",
    "first_id",
    "get_dict",
    "get_str",
    "has_type",
    "id_of",
    "ids",
    "load_bundled_context",
    "offline_document_loader",
    "types",
]

ACTIVITYSTREAMS: Final = "https://www.w3.org/ns/activitystreams"
AS_PUBLIC: Final = "https://www.w3.org/ns/activitystreams#Public"

# Some peers still write the activitystreams URL with http:, which names the
# same document (ActivityStreams 2.0 Core, section 2.1: both forms are used).
_ALIASES: Final = {"http://www.w3.org/ns/activitystreams": ACTIVITYSTREAMS}


class DocumentError(ProtocolError):
    """A JSON document does not have the shape the protocol requires."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ContextLoadError(ProtocolError):
    """A JSON-LD context was asked for that is not bundled; nothing was fetched."""

    def __init__(self, url: str, reason: str = "context is not bundled") -> None:
        super().__init__(f"{reason}: {url!r}")
        self.url = url
        self.reason = reason


class JsonLdProcessingError(ProtocolError):
    """pyld refused a document (bad syntax or an unbundled context)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- plain-JSON accessors --------------------------------------------------


def as_list(value: object) -> list[object]:
    """Return ``value`` as a list: ``None`` -> ``[]``, scalar -> ``[value]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def id_of(value: object) -> str | None:
    """Return the id a value names: a string itself, an object its ``id``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def first_id(value: object) -> str | None:
    """Return the id of the first element of a property, or ``None``.

    Only the first element is looked at: a list whose first element has no id
    gives ``None`` even if a later one has one.
    """
    items = as_list(value)
    return id_of(items[0]) if items else None


def ids(value: object) -> list[str]:
    """Return every id a property names, skipping elements that have none."""
    return [found for item in as_list(value) if (found := id_of(item)) is not None]


def types(obj: object) -> list[str]:
    """Return the ``type`` values of an object (string or list), or ``[]``."""
    if not isinstance(obj, Mapping):
        return []
    return [t for t in as_list(obj.get("type")) if isinstance(t, str)]


def has_type(obj: object, name: str) -> bool:
    """Tell whether an object's ``type`` is, or contains, ``name``."""
    return name in types(obj)


def get_str(obj: object, key: str) -> str | None:
    """Return a string property, or the first string of a list; else ``None``."""
    if not isinstance(obj, Mapping):
        return None
    for item in as_list(obj.get(key)):
        if isinstance(item, str):
            return item
    return None


def get_dict(obj: object, key: str) -> dict[str, Any] | None:
    """Return an object-valued property, or the first object of a list."""
    if not isinstance(obj, Mapping):
        return None
    for item in as_list(obj.get(key)):
        if isinstance(item, dict):
            return item
    return None


def parse_instant(value: object) -> datetime | None:
    """An ISO 8601 date-time (``published``, ``updated``…), ``Z`` included.

    None when ``value`` is not one; the result is naive when the text names
    no offset (callers decide whether that is acceptable).
    """
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def check_depth(obj: object, max_depth: int, max_nodes: int | None = None) -> None:
    """Raise :class:`DocumentError` if parsed JSON nests deeper than ``max_depth``.

    Depth counts containers: a scalar is depth 0, ``[]`` and ``{}`` are 1.  With
    ``max_nodes``, also refuse documents with more values than that in total.
    Iterative, so it is safe on documents that would overflow recursion.
    """
    stack: list[tuple[object, int]] = [(obj, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            raise DocumentError(f"JSON document has more than {max_nodes} values")
        children: list[object]
        if isinstance(value, Mapping):
            children = list(value.values())
        elif isinstance(value, list | tuple):
            children = list(value)
        else:
            continue
        if depth + 1 > max_depth:
            raise DocumentError(f"JSON nesting is deeper than {max_depth}")
        stack.extend((child, depth + 1) for child in children)


# One token at a time: a whole string literal (so brackets inside strings do not
# count), or a single bracket.  The string branch is possessive and also takes an
# unterminated string up to the end, so no input makes the scan backtrack or
# restart inside a string (which would be quadratic).
_JSON_TOKEN: Final = re.compile(rb'"(?:[^"\\]++|\\.?)*+"?|[\[\]{}]', re.DOTALL)


def check_raw_depth(data: bytes, max_depth: int) -> None:
    """Raise :class:`DocumentError` if raw JSON bytes nest deeper than ``max_depth``.

    Meant to run before ``json.loads`` on a request body; the scan is linear in
    the size of ``data``.  It does not validate the JSON otherwise.
    """
    depth = 0
    for match in _JSON_TOKEN.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise DocumentError(f"JSON nesting is deeper than {max_depth}")
        elif token in (b"]", b"}"):
            depth -= 1


# --- bundled contexts and the offline loader -------------------------------


@cache
def _manifest() -> dict[str, str]:
    text = resources.files("protocol").joinpath("contexts/manifest.json").read_text()
    manifest = json.loads(text)
    assert isinstance(manifest, dict)
    return {str(url): str(name) for url, name in manifest.items()}


@cache
def _context_text(url: str) -> str:
    name = _manifest()[url]
    return resources.files("protocol").joinpath("contexts", name).read_text()


def bundled_context_urls() -> frozenset[str]:
    """Return the context URLs served offline (see ``contexts/manifest.json``)."""
    return frozenset(_manifest()) | frozenset(_ALIASES)


def load_bundled_context(url: str) -> dict[str, Any]:
    """Return a fresh copy of a bundled context document, or raise.

    Raises :class:`ContextLoadError` for any URL not in the manifest; this
    function never touches the network.
    """
    canonical = _ALIASES.get(url, url)
    if canonical not in _manifest():
        raise ContextLoadError(url)
    document = json.loads(_context_text(canonical))
    assert isinstance(document, dict)
    return document


def offline_document_loader(
    url: str, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``pyld`` ``documentLoader`` that serves only bundled contexts.

    Returns pyld's RemoteDocument shape.  Raises :class:`ContextLoadError` for
    any other URL; pyld wraps it in its own ``JsonLdError`` (``loading remote
    context failed``) with ours as ``__cause__``.
    """
    del options  # pyld passes request headers; nothing here is fetched.
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": load_bundled_context(url),
        "contentType": "application/ld+json",
    }


def expand(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Expand a JSON-LD document with pyld, using only bundled contexts.

    For exports and tests, never for the inbox hot path.  Raises
    :class:`JsonLdProcessingError` (its ``__cause__`` is pyld's error, whose own
    cause is a :class:`ContextLoadError` when a context is not bundled).
    """
    # pyld ships no type information; importing it by name keeps mypy --strict
    # clean whether or not a pyld override is configured.
    pyld_jsonld = importlib.import_module("pyld.jsonld")
    try:
        expanded = pyld_jsonld.expand(
            copy.deepcopy(dict(document)),
            {"documentLoader": offline_document_loader},
        )
    except pyld_jsonld.JsonLdError as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, ContextLoadError):
            cause = cause.__cause__
        reason = str(cause) if cause is not None else f"JSON-LD error: {exc.type}"
        raise JsonLdProcessingError(reason) from exc
    except RecursionError as exc:
        raise JsonLdProcessingError("document is nested too deeply") from exc
    assert isinstance(expanded, list)
    return expanded
