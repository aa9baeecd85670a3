"""Discovery documents: WebFinger (RFC 7033), NodeInfo 2.0/2.1 and host-meta.

Builders return plain ``dict``s (or XML bytes for host-meta) ready to serialise;
parsers take decoded JSON (or raw XML) from a peer and raise
:class:`~protocol.jsonld.DocumentError` with a reason on anything they cannot
use.  Nothing here does I/O.

The WebFinger parser follows what Mastodon requires (INTEROP.md, "Discovery"):
a ``subject``, and exactly one ``self`` link typed as ActivityStreams.  It does
not re-query the handle against the actor's host; the caller does that.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from protocol.jsonld import DocumentError

__all__ = [
    "ACTIVITY_JSON",
    "AS_MEDIA_TYPES",
    "JRD_JSON",
    "NODEINFO_SCHEMAS",
    "XRD_NS",
    "WebFinger",
    "build_host_meta",
    "build_nodeinfo",
    "build_nodeinfo_links",
    "build_webfinger",
    "parse_acct",
    "parse_host_meta",
    "parse_nodeinfo_links",
    "parse_webfinger",
]

ACTIVITY_JSON: Final = "application/activity+json"
LD_JSON_AS: Final = (
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
)
JRD_JSON: Final = "application/jrd+json"
PROFILE_PAGE_REL: Final = "http://webfinger.net/rel/profile-page"
XRD_NS: Final = "http://docs.oasis-open.org/ns/xri/xrd-1.0"
NODEINFO_SCHEMAS: Final = {
    "2.0": "http://nodeinfo.diaspora.software/ns/schema/2.0",
    "2.1": "http://nodeinfo.diaspora.software/ns/schema/2.1",
}
#: Link types that name an ActivityStreams actor (ActivityPub section 3.2).
AS_MEDIA_TYPES: Final = frozenset({ACTIVITY_JSON, LD_JSON_AS})

# NodeInfo 2.x schema: software.name pattern (also INTEROP.md, "Discovery").
_SOFTWARE_NAME: Final = re.compile(r"[a-z0-9-]+", re.ASCII)
_MAX_XML_BYTES: Final = 64 * 1024
_MAX_LINKS: Final = 256


# --- WebFinger -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebFinger:
    """The parts of a JRD that federation uses."""

    subject: str
    actor_id: str
    aliases: tuple[str, ...]
    profile_url: str | None


def parse_acct(resource: str) -> tuple[str, str]:
    """Split ``acct:user@host`` (or ``user@host``, ``@user@host``) into parts.

    The host is lower-cased.  Only the shape is checked, not the username
    rules (a peer's usernames are its own business).
    """
    text = resource.removeprefix("acct:").removeprefix("@")
    user, sep, host = text.rpartition("@")
    if not sep or not user or not host or "@" in user:
        raise DocumentError(f"not an acct: resource: {resource!r}")
    if not host.isascii() or any(c in host for c in "/?#\\ ") or len(host) > 253:
        raise DocumentError(f"invalid host in acct: resource: {resource!r}")
    if any(c.isspace() or c in "/?#" for c in user):
        raise DocumentError(f"invalid user in acct: resource: {resource!r}")
    return user, host.lower()


def build_webfinger(
    username: str,
    host: str,
    actor_id: str,
    *,
    profile_url: str | None = None,
    aliases: Sequence[str] = (),
) -> dict[str, Any]:
    """Build the JRD for ``acct:username@host`` (RFC 7033 section 4.4).

    ``aliases`` defaults to the actor id and the profile page.
    """
    links: list[dict[str, str]] = [
        {"rel": "self", "type": ACTIVITY_JSON, "href": actor_id},
    ]
    if profile_url is not None:
        links.append(
            {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url}
        )
    if not aliases:
        aliases = [actor_id] + ([profile_url] if profile_url else [])
    return {
        "subject": f"acct:{username}@{host}",
        "aliases": list(aliases),
        "links": links,
    }


def _link_type_is_activitystreams(value: object) -> bool:
    if not isinstance(value, str):
        return False
    media, _, params = value.partition(";")
    media = media.strip().lower()
    if media == ACTIVITY_JSON:
        return True
    # application/ld+json counts only with the ActivityStreams profile.
    return media == "application/ld+json" and "www.w3.org/ns/activitystreams" in params


def parse_webfinger(document: object) -> WebFinger:
    """Read a peer's JRD strictly.

    Requires a string ``subject`` and exactly one ``rel: self`` link whose type
    is ``application/activity+json`` or ActivityStreams ``application/ld+json``,
    with a string ``href``.  ``self`` links of other types are ignored.  Does
    not check that ``subject`` is the resource asked for: compare it yourself.
    """
    if not isinstance(document, Mapping):
        raise DocumentError("WebFinger document is not a JSON object")
    subject = document.get("subject")
    if not isinstance(subject, str) or not subject:
        raise DocumentError("WebFinger document has no subject")

    links = document.get("links")
    if not isinstance(links, list):
        raise DocumentError("WebFinger links must be a list")
    if len(links) > _MAX_LINKS:
        raise DocumentError("WebFinger document has too many links")

    self_links: list[Mapping[str, Any]] = []
    profile_url: str | None = None
    for link in links:
        if not isinstance(link, Mapping):
            continue
        rel = link.get("rel")
        if rel == "self" and _link_type_is_activitystreams(link.get("type")):
            self_links.append(link)
        elif rel == PROFILE_PAGE_REL and profile_url is None:
            href = link.get("href")
            profile_url = href if isinstance(href, str) else None
    if len(self_links) != 1:
        raise DocumentError(
            f"WebFinger document has {len(self_links)} ActivityStreams self links,"
            " expected exactly one"
        )
    actor_id = self_links[0].get("href")
    if not isinstance(actor_id, str) or not actor_id:
        raise DocumentError("WebFinger self link has no href")

    raw_aliases = document.get("aliases", [])
    if not isinstance(raw_aliases, list):
        raise DocumentError("WebFinger aliases must be a list")
    aliases = tuple(a for a in raw_aliases if isinstance(a, str))
    return WebFinger(subject, actor_id, aliases, profile_url)


# --- NodeInfo (nodeinfo.diaspora.software, schemas 2.0 and 2.1) ------------


def build_nodeinfo_links(base_url: str) -> dict[str, Any]:
    """Build the ``/.well-known/nodeinfo`` document linking to 2.0 and 2.1."""
    base = base_url.rstrip("/")
    return {
        "links": [
            {"rel": schema, "href": f"{base}/nodeinfo/{version}"}
            for version, schema in NODEINFO_SCHEMAS.items()
        ]
    }


def parse_nodeinfo_links(document: object) -> dict[str, str]:
    """Map NodeInfo version (``"2.0"``, ``"2.1"``…) to document URL."""
    if not isinstance(document, Mapping) or not isinstance(document.get("links"), list):
        raise DocumentError("NodeInfo links document has no links list")
    prefix = "http://nodeinfo.diaspora.software/ns/schema/"
    found: dict[str, str] = {}
    for link in document["links"][:_MAX_LINKS]:
        if not isinstance(link, Mapping):
            continue
        rel, href = link.get("rel"), link.get("href")
        if isinstance(rel, str) and rel.startswith(prefix) and isinstance(href, str):
            found.setdefault(rel.removeprefix(prefix), href)
    if not found:
        raise DocumentError("NodeInfo links document names no schema")
    return found


def build_nodeinfo(
    version: Literal["2.0", "2.1"],
    *,
    software_name: str,
    software_version: str,
    open_registrations: bool,
    users_total: int,
    users_active_month: int,
    users_active_halfyear: int,
    local_posts: int,
    local_comments: int | None = None,
    repository: str | None = None,
    homepage: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a NodeInfo 2.0 or 2.1 document.

    ``repository`` and ``homepage`` appear only in 2.1 (they are not in the 2.0
    schema).  ``software_name`` must match ``^[a-z0-9-]+$``.
    """
    if version not in NODEINFO_SCHEMAS:
        raise DocumentError(f"unsupported NodeInfo version {version!r}")
    if not _SOFTWARE_NAME.fullmatch(software_name):
        raise DocumentError("NodeInfo software.name must match ^[a-z0-9-]+$")
    counts = (users_total, users_active_month, users_active_halfyear, local_posts)
    if any(n < 0 for n in counts) or (local_comments or 0) < 0:
        raise DocumentError("NodeInfo usage counts must not be negative")

    software: dict[str, str] = {"name": software_name, "version": software_version}
    if version == "2.1":
        if repository is not None:
            software["repository"] = repository
        if homepage is not None:
            software["homepage"] = homepage
    usage: dict[str, Any] = {
        "users": {
            "total": users_total,
            "activeMonth": users_active_month,
            "activeHalfyear": users_active_halfyear,
        },
        "localPosts": local_posts,
    }
    if local_comments is not None:
        usage["localComments"] = local_comments
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": usage,
        "metadata": dict(metadata or {}),
    }


# --- host-meta (RFC 6415) --------------------------------------------------


def _is_http_url(text: str) -> bool:
    if not text.isascii():
        return False
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def build_host_meta(base_url: str) -> bytes:
    """Build a host-meta XRD whose ``lrdd`` template points at WebFinger."""
    template = f"{base_url.rstrip('/')}/.well-known/webfinger?resource={{uri}}"
    # The namespace is written as a plain xmlns attribute: ElementTree's
    # default_namespace option refuses unqualified attributes such as rel.
    root = ET.Element("XRD", {"xmlns": XRD_NS})
    ET.SubElement(
        root,
        "Link",
        {"rel": "lrdd", "type": "application/xrd+xml", "template": template},
    )
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()


def parse_host_meta(data: bytes | str) -> str:
    """Return the ``lrdd`` template of a host-meta XRD document.

    Refuses documents over 64 KiB and any DTD (so no entity expansion can
    happen), and templates that are not http(s) URLs containing ``{uri}``.
    """
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if len(raw) > _MAX_XML_BYTES:
        raise DocumentError("host-meta document is too large")
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise DocumentError("host-meta document contains a DTD")
    try:
        root = ET.fromstring(raw)  # noqa: S314 - size-capped, DTDs refused above
    except (ET.ParseError, ValueError) as exc:
        raise DocumentError("host-meta document is not well-formed XML") from exc

    if root.tag not in (f"{{{XRD_NS}}}XRD", "XRD"):
        raise DocumentError("host-meta root element is not XRD")
    for link in root:
        if link.tag not in (f"{{{XRD_NS}}}Link", "Link"):
            continue
        if link.get("rel") != "lrdd":
            continue
        template = link.get("template")
        if template is None:
            continue
        if not _is_http_url(template) or "{uri}" not in template:
            raise DocumentError("host-meta lrdd template is not an http(s) URL")
        return template
    raise DocumentError("host-meta document has no lrdd template")
