"""What a Mastodon user sees of what we publish, and the rules that keeps it right.

A pure model of Mastodon's reading of an incoming object (its
``ActivityPub::Activity::Create``, ``Parser::StatusParser``,
``Parser::PollParser`` and ``ProcessStatusUpdateService``, summarised in
INTEROP.md, "Activities" and "Polls"):

* :func:`status_of` / :func:`view`: the status Mastodon would make of an object
  or of a Create/Update: its sanitised text, content warning, language,
  visibility, mentions and poll — or ``None`` when Mastodon shows nothing;
* :func:`check_publication`: every way an activity or object we are about to
  send breaks those rules, one readable line each (an empty list is a pass);
* :func:`mention`: how to name an account so that Mastodon shows a mention.

The model is for our own output: it assumes a well-formed document and does
not verify ids, signatures or that an actor exists.  It follows Mastodon 4.x;
details a reader cannot see (emoji, media, hashtags, quote posts, edits
history) are left out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from protocol.html import LINK_REL, lost_markup, plain_text, sanitise
from protocol.jsonld import (
    ACTIVITYSTREAMS,
    as_list,
    first_id,
    id_of,
    ids,
    parse_instant,
    types,
)

__all__ = [
    "CONVERTED_TYPES",
    "SUPPORTED_TYPES",
    "Mention",
    "Poll",
    "PollOption",
    "Status",
    "Visibility",
    "check_publication",
    "status_of",
    "view",
]

# INTEROP.md, "Activities": Note and Question are shown in full; the others
# become name + summary + a link, their content dropped.
SUPPORTED_TYPES: Final = ("Note", "Question")
CONVERTED_TYPES: Final = ("Article", "Page", "Event", "Image", "Audio", "Video")
# Mastodon's names: "private" is followers-only.
Visibility = Literal["public", "unlisted", "private", "direct"]

_PUBLIC_NAMES: Final = frozenset({f"{ACTIVITYSTREAMS}#Public", "as:Public", "Public"})
_LANGUAGE_TAG: Final = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_HANDLE: Final = re.compile(r"^@[^@\s]+@[^@\s]+$")
# Markup in a field Mastodon treats as plain text: a tag or an entity.
_MARKUP: Final = re.compile(r"<[A-Za-z/!]|&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_ACTIVITY_TYPES: Final = frozenset(
    {"Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Announce",
     "Like", "Join", "Leave", "Invite", "Remove", "Add", "Offer", "Flag", "Block",
     "Move", "TentativeAccept", "TentativeReject"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PollOption:
    title: str
    votes_count: int


@dataclass(frozen=True, slots=True)
class Poll:
    options: tuple[PollOption, ...]
    multiple: bool
    expires_at: str | None
    closed: bool
    voters_count: int | None


@dataclass(frozen=True, slots=True)
class Mention:
    href: str
    name: str


@dataclass(frozen=True, slots=True)
class Status:
    """One status as Mastodon stores and shows it.

    ``text`` is the sanitised HTML of the body; ``spoiler_text`` the content
    warning (plain text; empty when there is none); ``converted`` tells an
    Article-like object shown as title, summary and link.
    """

    uri: str
    url: str
    type: str
    converted: bool
    text: str
    spoiler_text: str
    sensitive: bool
    language: str | None
    visibility: Visibility
    mentions: tuple[Mention, ...]
    poll: Poll | None
    published: str | None
    edited_at: str | None


# --- reading ---------------------------------------------------------------------


def mention(actor: str, username: str | None = None) -> tuple[str, dict[str, str]]:
    """The HTML link and the ``Mention`` tag that name ``actor`` in a post.

    Mastodon shows a mention when the tag's ``name`` is ``@user@host`` and the
    content carries the h-card link (INTEROP.md, "Activities"); the actor
    must also be addressed.  ``username`` is the actor's preferredUsername,
    else the last segment of its IRI stands for it.
    """
    user = username or actor.rstrip("/").rsplit("/", 1)[-1]
    link = (
        f'<span class="h-card"><a href="{html.escape(actor)}" class="u-url mention">'
        f"@<span>{html.escape(user)}</span></a></span>"
    )
    tag = {
        "type": "Mention",
        "href": actor,
        "name": f"@{user}@{urlsplit(actor).netloc}",
    }
    return link, tag


def _is_public(value: str) -> bool:
    return value in _PUBLIC_NAMES


def _audience(
    obj: Mapping[str, Any], activity: Mapping[str, Any] | None, key: str
) -> list[str]:
    # StatusParser: the object's to/cc, else the activity's.
    value = obj.get(key)
    if value is None and activity is not None:
        value = activity.get(key)
    return ids(value)


def _followers_of(obj: Mapping[str, Any], activity: Mapping[str, Any] | None) -> str:
    actor = first_id(obj.get("attributedTo"))
    if actor is None and activity is not None:
        actor = first_id(activity.get("actor"))
    return f"{actor}/followers" if actor else ""


def _visibility(
    obj: Mapping[str, Any], activity: Mapping[str, Any] | None, followers: str
) -> Visibility:
    to, cc = _audience(obj, activity, "to"), _audience(obj, activity, "cc")
    if any(_is_public(x) for x in to):
        return "public"
    if any(_is_public(x) for x in cc):
        return "unlisted"
    if followers and followers in to:
        return "private"
    return "direct"


def _text_field(obj: Mapping[str, Any], key: str) -> str:
    """``content`` / ``summary`` / ``name``, else the first value of its map."""
    value = obj.get(key)
    if isinstance(value, str) and value:
        return value
    mapped = obj.get(f"{key}Map")
    if isinstance(mapped, Mapping):
        for found in mapped.values():
            return found if isinstance(found, str) else ""
    return ""


def _language(obj: Mapping[str, Any]) -> str | None:
    for key in ("contentMap", "nameMap", "summaryMap"):
        mapped = obj.get(key)
        if isinstance(mapped, Mapping) and mapped:
            return str(next(iter(mapped)))
    return None


def _url(obj: Mapping[str, Any]) -> str | None:
    for item in as_list(obj.get("url")):
        if isinstance(item, str):
            return item
        if isinstance(item, Mapping) and isinstance(item.get("href"), str):
            return str(item["href"])
    return None


def _same_host(url: str, actor: str) -> bool:
    return urlsplit(url).netloc.lower() == urlsplit(actor).netloc.lower()


def _poll(obj: Mapping[str, Any]) -> Poll | None:
    multiple = isinstance(obj.get("anyOf"), list)
    items = obj.get("anyOf") if multiple else obj.get("oneOf")
    if not isinstance(items, list):
        return None
    options = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        title = item.get("name") or item.get("content")
        if not isinstance(title, str) or not title:
            continue
        replies = item.get("replies")
        total = replies.get("totalItems") if isinstance(replies, Mapping) else None
        options.append(PollOption(title, total if isinstance(total, int) else 0))
    closed = obj.get("closed")
    expires = closed if isinstance(closed, str) else obj.get("endTime")
    voters = obj.get("votersCount")
    return Poll(
        options=tuple(options),
        multiple=multiple,
        expires_at=expires if isinstance(expires, str) else None,
        closed=closed not in (None, False),
        voters_count=voters if isinstance(voters, int) else None,
    )


def _mentions(obj: Mapping[str, Any]) -> tuple[Mention, ...]:
    found = []
    for tag in as_list(obj.get("tag")):
        if isinstance(tag, Mapping) and "Mention" in types(tag):
            href = tag.get("href")
            if isinstance(href, str) and href:
                found.append(Mention(href, str(tag.get("name") or "")))
    return tuple(found)


def _converted_text(obj: Mapping[str, Any], link: str) -> str:
    # Mastodon links the title, the summary and the url as plain text:
    # markup in name or summary shows as written.
    parts = [_text_field(obj, "name"), _text_field(obj, "summary")]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in parts if p)
    anchor = f'<a href="{html.escape(link)}" rel="{LINK_REL}">{html.escape(link)}</a>'
    return sanitise(body + f"<p>{anchor}</p>")


def status_of(
    obj: Mapping[str, Any],
    *,
    activity: Mapping[str, Any] | None = None,
    followers: str | None = None,
) -> Status | None:
    """The status Mastodon makes of ``obj``, or None if it makes none.

    ``followers`` is the author's followers collection (default: the
    ``/followers`` of ``attributedTo``, as Bocage names it).
    """
    kinds = types(obj)
    supported = next((t for t in kinds if t in SUPPORTED_TYPES), None)
    converted = next((t for t in kinds if t in CONVERTED_TYPES), None)
    uri = id_of(obj)
    if uri is None or (supported is None and converted is None):
        return None
    url = _url(obj) or uri
    if converted is not None and supported is None:
        text, spoiler = _converted_text(obj, url), ""
    else:
        text, spoiler = (
            sanitise(_text_field(obj, "content")),
            _text_field(obj, "summary"),
        )
    published, updated = obj.get("published"), obj.get("updated")
    return Status(
        uri=uri,
        url=url,
        type=supported or converted or "",
        converted=supported is None,
        text=text,
        spoiler_text=spoiler,
        sensitive=obj.get("sensitive") is True,
        language=_language(obj),
        visibility=_visibility(
            obj, activity, followers or _followers_of(obj, activity)
        ),
        mentions=_mentions(obj),
        poll=_poll(obj) if "Question" in kinds else None,
        published=published if isinstance(published, str) else None,
        edited_at=updated if isinstance(updated, str) else None,
    )


def view(activity: Mapping[str, Any], *, followers: str | None = None) -> Status | None:
    """What a Mastodon follower sees after receiving ``activity``.

    Create shows its object; Update changes a Note or a Question and is
    ignored for every other type ("Only native types can be updated",
    ``ProcessStatusUpdateService``): None then, and for other activities.
    """
    obj = activity.get("object")
    if not isinstance(obj, Mapping):
        return None
    kind = types(activity)
    if "Update" in kind and not any(t in SUPPORTED_TYPES for t in types(obj)):
        return None
    if "Create" in kind or "Update" in kind:
        return status_of(obj, activity=activity, followers=followers)
    return None


# --- checking --------------------------------------------------------------------


def _instant(value: object) -> datetime | None:
    moment = parse_instant(value)
    return moment if moment is not None and moment.tzinfo is not None else None


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _under(iri: str | None, origin: str) -> bool:
    return iri is not None and (iri == origin or iri.startswith(origin + "/"))


def _is_activity(document: Mapping[str, Any]) -> bool:
    return "actor" in document and any(t in _ACTIVITY_TYPES for t in types(document))


def check_publication(
    document: Mapping[str, Any],
    *,
    origin: str | None = None,
    previous: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every rule ``document`` (an activity or an object) breaks; [] if none.

    ``origin`` is our node's (default: the actor's or author's origin).
    ``previous`` is the last version sent of the same object, or its
    activity, to check that an Update is newer.  Rules come from INTEROP.md
    ("Activities", "Polls") and the ActivityStreams vocabulary; each line
    names the property at fault.
    """
    problems: list[str] = []
    if _is_activity(document):
        actor = first_id(document.get("actor"))
        origin = origin or _origin_of(actor) or ""
        _check_activity(document, origin, previous, problems)
    else:
        author = first_id(document.get("attributedTo"))
        origin = origin or _origin_of(author) or ""
        _check_object(document, None, origin, previous, problems)
    return problems


def _check_activity(
    activity: Mapping[str, Any],
    origin: str,
    previous: Mapping[str, Any] | None,
    problems: list[str],
) -> None:
    kind = next(t for t in types(activity) if t in _ACTIVITY_TYPES)
    actor = first_id(activity.get("actor"))
    context = as_list(activity.get("@context"))
    if ACTIVITYSTREAMS not in context:
        problems.append(f"{kind}: @context does not name {ACTIVITYSTREAMS}")
    if not _under(id_of(activity), origin):
        problems.append(f"{kind}: id {id_of(activity)!r} is not under {origin}")
    if not _under(actor, origin):
        problems.append(f"{kind}: actor {actor!r} is not under {origin}")
    if _instant(activity.get("published")) is None:
        problems.append(f"{kind}: no valid published")
    obj = activity.get("object")
    if obj is None:
        problems.append(f"{kind}: no object")
        return

    if kind in ("Create", "Update"):
        if not isinstance(obj, Mapping):
            # F fetches what is not embedded; M needs the object to show it.
            problems.append(f"{kind}: the object must be embedded, not {obj!r}")
            return
        _check_object(obj, activity, origin, previous, problems, verb=kind)
    elif kind == "Delete":
        # INTEROP.md, "Activities": Delete carries a Tombstone or a URI.
        target = id_of(obj)
        if isinstance(obj, Mapping) and "Tombstone" not in types(obj):
            problems.append("Delete: the object is neither a URI nor a Tombstone")
        if not _under(target, origin):
            problems.append(f"Delete: {target!r} is not one of ours ({origin})")
    elif kind in ("Accept", "Reject", "Undo"):
        if isinstance(obj, Mapping):
            missing = [k for k in ("id", "type", "actor") if not obj.get(k)]
            if missing:
                problems.append(
                    f"{kind}: the embedded activity has no {', '.join(missing)}"
                )
            if "Follow" in types(obj) and not obj.get("object"):
                problems.append(f"{kind}: the embedded Follow has no object")
        elif id_of(obj) is None:
            problems.append(f"{kind}: the object is neither an id nor an activity")
    elif kind == "Invite" and not ids(activity.get("target")):
        # ActivityStreams Vocabulary, Invite: ``target`` names who is invited.
        problems.append("Invite: no target (the actor invited)")


def _check_object(
    obj: Mapping[str, Any],
    activity: Mapping[str, Any] | None,
    origin: str,
    previous: Mapping[str, Any] | None,
    problems: list[str],
    *,
    verb: str = "",
) -> None:
    kinds = types(obj)
    name = "/".join(kinds) or "object"
    where = f"{verb}({name})" if verb else name
    supported = any(t in SUPPORTED_TYPES for t in kinds)
    converted = not supported and any(t in CONVERTED_TYPES for t in kinds)
    obj_id = id_of(obj)

    # Identity and authorship: M refuses an object off its actor's host.
    if not _under(obj_id, origin):
        problems.append(f"{where}: id {obj_id!r} is not under {origin}")
    author = first_id(obj.get("attributedTo"))
    actor = first_id(activity.get("actor")) if activity is not None else None
    if author is None:
        problems.append(f"{where}: no attributedTo")
    elif actor is not None and author != actor:
        problems.append(f"{where}: attributedTo {author} is not the actor {actor}")
    if not (supported or converted) and verb == "Create":
        problems.append(f"{where}: Mastodon shows nothing for this type")
    if verb != "Update" and _instant(obj.get("published")) is None:
        problems.append(f"{where}: no valid published")
    url = _url(obj)
    if url is not None and author is not None and not _same_host(url, author):
        problems.append(f"{where}: url {url} is on another host (M ignores it)")

    _check_text(obj, where, supported=supported, converted=converted, out=problems)
    if "Question" in kinds:
        _check_poll(obj, where, problems)
    _check_audience(obj, activity, where, problems)
    if verb == "Update":
        _check_newer(obj, previous, where, problems)


def _check_text(
    obj: Mapping[str, Any],
    where: str,
    *,
    supported: bool,
    converted: bool,
    out: list[str],
) -> None:
    content = obj.get("content")
    content_map = obj.get("contentMap")
    if content is not None and not isinstance(content, str):
        out.append(f"{where}: content is not a string")
        content = None
    # INTEROP.md, "Activities": send content and a one-entry contentMap.
    if content:
        if not isinstance(content_map, Mapping) or not content_map:
            out.append(f"{where}: no contentMap (Mastodon cannot tell the language)")
        elif len(content_map) != 1:
            out.append(f"{where}: contentMap has {len(content_map)} entries, not one")
        else:
            ((language, mapped),) = content_map.items()
            if not _LANGUAGE_TAG.match(str(language)):
                out.append(f"{where}: contentMap key {language!r} is no language tag")
            if mapped != content:
                out.append(f"{where}: contentMap[{language!r}] differs from content")
        for loss in lost_markup(content):
            out.append(f"{where}: content loses markup on Mastodon: {loss}")
    elif content_map:
        out.append(f"{where}: contentMap without content")
    elif supported:
        out.append(f"{where}: no content (Mastodon shows an empty status)")

    summary = obj.get("summary")
    if supported and isinstance(summary, str) and summary:
        # A summary on a Note or Question is a content warning (INTEROP.md).
        if obj.get("sensitive") is not True:
            out.append(
                f"{where}: summary becomes a content warning; set sensitive: true "
                "if it is one, else drop it"
            )
        if _MARKUP.search(summary):
            out.append(f"{where}: the content warning shows its markup as text")
    if converted:
        # Mastodon shows name, summary and a link, as plain text.
        if not isinstance(obj.get("name"), str) or not obj.get("name"):
            out.append(f"{where}: no name (Mastodon shows only a link)")
        if _url(obj) is None:
            out.append(f"{where}: no url (Mastodon links to the id)")
        if not isinstance(summary, str) or not summary:
            out.append(f"{where}: no summary (its content is dropped on Mastodon)")
        for key in ("name", "summary"):
            value = obj.get(key)
            if isinstance(value, str) and _MARKUP.search(value):
                out.append(f"{where}: {key} shows its markup as text on Mastodon")


def _check_poll(obj: Mapping[str, Any], where: str, out: list[str]) -> None:
    # INTEROP.md, "Polls".
    one, many = obj.get("oneOf"), obj.get("anyOf")
    if (one is None) == (many is None):
        out.append(f"{where}: needs exactly one of oneOf and anyOf")
    items = one if one is not None else many
    if not isinstance(items, list) or not items:
        out.append(f"{where}: no poll options")
        items = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        label = f"{where}: option {index + 1}"
        if not isinstance(item, Mapping) or "Note" not in types(item):
            out.append(f"{label} is not a Note")
            continue
        title = item.get("name")
        if not isinstance(title, str) or not title:
            out.append(f"{label} has no name")
        elif title in seen:
            out.append(f"{label} repeats {title!r} (votes are told apart by name)")
        else:
            seen.add(title)
            if _MARKUP.search(title):
                out.append(f"{label} name shows its markup as text")
        replies = item.get("replies")
        total = replies.get("totalItems") if isinstance(replies, Mapping) else None
        if not isinstance(replies, Mapping) or "Collection" not in types(replies):
            out.append(f"{label} has no replies Collection")
        elif not isinstance(total, int) or isinstance(total, bool) or total < 0:
            out.append(f"{label} replies.totalItems is not a count")
    if _instant(obj.get("endTime")) is None:
        out.append(f"{where}: no valid endTime")
    voters = obj.get("votersCount")
    if not isinstance(voters, int) or isinstance(voters, bool) or voters < 0:
        out.append(f"{where}: no votersCount")
    closed = obj.get("closed")
    if closed is not None and not isinstance(closed, bool) and _instant(closed) is None:
        out.append(f"{where}: closed is neither a date nor a boolean")


def _check_audience(
    obj: Mapping[str, Any],
    activity: Mapping[str, Any] | None,
    where: str,
    out: list[str],
) -> None:
    to, cc = _audience(obj, activity, "to"), _audience(obj, activity, "cc")
    if not to and not cc:
        out.append(f"{where}: no to or cc (Mastodon makes it a direct message)")
    if activity is not None and ("to" in obj or "cc" in obj):
        said = set(ids(activity.get("to"))) | set(ids(activity.get("cc")))
        if set(to) | set(cc) != said:
            out.append(f"{where}: the activity is addressed otherwise than its object")
    followers = _followers_of(obj, activity)
    public = any(_is_public(x) for x in to + cc)
    if followers and not public and followers in cc and followers not in to:
        # INTEROP.md: followers-only means the followers collection in `to`.
        out.append(f"{where}: followers only in cc (Mastodon makes it direct)")

    # INTEROP.md, "Activities": a Mention names the actor, who is addressed.
    text = plain_text(_text_field(obj, "content"))
    for tag in as_list(obj.get("tag")):
        if not isinstance(tag, Mapping) or "Mention" not in types(tag):
            continue
        href, handle = tag.get("href"), tag.get("name")
        if not isinstance(href, str) or not href:
            out.append(f"{where}: a Mention without href")
            continue
        if not isinstance(handle, str) or not _HANDLE.match(handle):
            out.append(f"{where}: Mention of {href} is not named @user@host")
        elif "@" + handle.split("@")[1] not in text:
            out.append(f"{where}: Mention {handle} does not appear in the content")
        if href not in to and href not in cc:
            out.append(f"{where}: Mention of {href} without the actor in to or cc")


def _check_newer(
    obj: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    where: str,
    out: list[str],
) -> None:
    # INTEROP.md, "Activities": Update needs a newer `updated`.
    updated = _instant(obj.get("updated"))
    if updated is None:
        out.append(f"{where}: no valid updated")
        return
    if previous is None:
        return
    before = previous.get("object") if _is_activity(previous) else previous
    if not isinstance(before, Mapping):
        return
    last = _instant(before.get("updated")) or _instant(before.get("published"))
    if last is not None and updated <= last:
        out.append(
            f"{where}: updated {obj.get('updated')} is not after the previous "
            f"version's {before.get('updated') or before.get('published')}"
        )
