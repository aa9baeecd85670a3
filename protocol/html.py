"""HTML as Mastodon keeps it: one sanitiser for what we send and what we show.

:func:`sanitise` keeps what Mastodon's ``MASTODON_STRICT`` configuration keeps
(INTEROP.md, "Activities": the tags, and the classes ``h-*``, ``mention``,
``hashtag``, ``ellipsis``, ``invisible``), built on nh3, the Python binding of
the maintained Ammonia sanitiser: the parsing is html5ever's, as a browser
parses.  Two uses:

* before our pages display a peer's ``content`` (never trust a peer's HTML);
* to check our own ``content`` before sending it: :func:`lost_markup` says
  what a Mastodon reader would not see (``protocol.mastodon``).

:func:`plain_text` turns HTML into text for titles, previews and ballots.

What Mastodon keeps beyond the list in INTEROP.md, read from its
``lib/sanitize_ext/sanitize_config.rb`` and kept here too: ``s``, ``ruby``,
``rt``, ``rp``; ``lang`` on every tag; ``start``/``reversed`` on ``ol``,
``value`` on ``li``, ``class`` on ``p``; ``translate="no"``; the microformats
prefixes ``p-``, ``u-``, ``dt-``, ``e-`` and the class ``quote-inline``.

Where we differ from Mastodon, deliberately (stricter, never looser):

* links: only ``http`` and ``https`` (Mastodon also keeps ``dat:``,
  ``gemini:``, ``xmpp:`` and a few others; it drops ``mailto:`` as we do).
  A link with another scheme, or a relative one, loses its ``href`` and stays
  as text in an ``<a>`` without target, where Mastodon replaces it by its text;
* every kept link gets ``rel="nofollow noopener noreferrer"`` (Mastodon sets
  ``nofollow noopener`` and ``target="_blank"``);
* ``h1``–``h6`` lose their tag and keep their text (Mastodon makes them
  ``<p><strong>``).

Not checked here: that the HTML means anything, or its length.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from typing import Final

import nh3

__all__ = [
    "ALLOWED_CLASSES",
    "ALLOWED_TAGS",
    "LINK_REL",
    "URL_SCHEMES",
    "lost_markup",
    "plain_text",
    "sanitise",
]

ALLOWED_TAGS: Final = frozenset(
    {"p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong",
     "u", "i", "em", "ul", "ol", "li", "ruby", "rt", "rp"}
)  # fmt: skip
_ATTRIBUTES: Final = {
    "*": {"lang"},
    "a": {"href", "class", "translate"},
    "span": {"class", "translate"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "p": {"class"},
}
# Microformats prefixes, then semantic and link-formatting classes.
_CLASS_PREFIX: Final = re.compile(r"^(?:h|p|u|dt|e)-")
ALLOWED_CLASSES: Final = frozenset(
    {"mention", "hashtag", "ellipsis", "invisible", "quote-inline"}
)
URL_SCHEMES: Final = frozenset({"http", "https"})
LINK_REL: Final = "nofollow noopener noreferrer"
# Their content goes with them (the Ruby Sanitize gem's remove_contents list,
# which Mastodon uses); Ammonia keeps the text of any other dropped tag.
_DROPPED_WITH_CONTENT: Final = frozenset(
    {"iframe", "math", "noembed", "noframes", "noscript", "plaintext", "script",
     "style", "svg", "xmp", "template", "textarea", "title"}
)  # fmt: skip
# HTML's whitespace (not Python's, which counts the no-break space).
_SPACES: Final = re.compile(r"[ \t\n\r\f]+")


def _keep_class(value: str) -> str | None:
    kept = [
        name
        for name in _SPACES.split(value)
        if name and (_CLASS_PREFIX.match(name) or name in ALLOWED_CLASSES)
    ]
    return " ".join(kept) or None


def _filter(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: Mastodon's class and ``translate`` rules."""
    if attribute == "class":
        return _keep_class(value)
    if attribute == "translate":
        return value if value == "no" else None
    return value


def sanitise(html: str) -> str:
    """The HTML Mastodon would keep of ``html``, safe to put in our pages.

    Idempotent: ``sanitise(sanitise(x)) == sanitise(x)``.  Entities are
    re-serialised (``&#39;`` becomes ``'``), so compare the result with its
    input through :func:`lost_markup`, not as bytes.
    """
    # Twice: dropping a tag can leave a nesting the parser will not rebuild
    # (``<p><object><p>`` gives ``<p><p></p></p>``); the second pass cleans
    # the tree a browser would actually make of the first one's output.
    return _clean(_clean(html))


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        attribute_filter=_filter,
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        link_rel=LINK_REL,
        strip_comments=True,
    )


# --- comparing markup ----------------------------------------------------------

_VOID: Final = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr"})
_RAW_TEXT: Final = frozenset({"script", "style"})


class _Events(HTMLParser):
    """What a reader gets from HTML: start tags with attributes, and text.

    End tags are left out: they carry no content, and a parser may imply them
    (``<p>a<p>b``).  ``rel`` and ``target`` on links are left out too: every
    server sets its own.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kept: list[tuple[str, str]] = []
        for name, value in attrs:
            if tag == "a" and name in ("rel", "target"):
                continue
            if name == "class":
                kept += [("class", c) for c in _SPACES.split(value or "") if c]
            else:
                kept.append((name, value or ""))
        self.tags.append((tag, tuple(sorted(kept))))
        if tag in _VOID:
            self.text.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", ()))


def _read(html: str) -> _Events:
    events = _Events()
    events.feed(html)
    events.close()
    return events


def _flat(parts: list[str]) -> str:
    return _SPACES.sub(" ", "".join(parts)).strip()


def lost_markup(html: str) -> list[str]:
    """What Mastodon would drop from ``html``, one readable line per loss.

    Empty when :func:`sanitise` keeps every tag, attribute, class and the
    text.  Whitespace differences and the link ``rel``/``target`` (which the
    receiving server sets) are not losses.  Not a security check: use
    :func:`sanitise` for that.
    """
    before, after = _read(html), _read(sanitise(html))
    losses: list[str] = []
    names_before = Counter(tag for tag, _ in before.tags)
    names_after = Counter(tag for tag, _ in after.tags)
    for name in sorted(names_before - names_after):
        losses.append("comments removed" if name == "!--" else f"<{name}> removed")
    attrs_before = Counter((t, a) for t, attrs in before.tags for a in attrs)
    attrs_after = Counter((t, a) for t, attrs in after.tags for a in attrs)
    for (tag, (name, value)), _ in sorted((attrs_before - attrs_after).items()):
        if tag not in names_after:
            continue  # already said: the tag itself goes
        losses.append(f'{name}="{value}" removed from <{tag}>')
    text_before, text_after = _flat(before.text), _flat(after.text)
    if text_before != text_after:
        at = next(
            (
                i
                for i, (x, y) in enumerate(zip(text_before, text_after, strict=False))
                if x != y
            ),
            min(len(text_before), len(text_after)),
        )
        losses.append(f"text changes from {text_before[at : at + 40]!r}")
    if not losses and before.tags != after.tags:
        losses.append("markup rearranged")
    return losses


# --- plain text -------------------------------------------------------------------

_PARAGRAPH: Final = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5",
     "h6", "table", "section", "article"}
)  # fmt: skip
_LINE: Final = frozenset({"li", "tr", "dt", "dd"})
_SKIPPED: Final = _RAW_TEXT | frozenset({"template", "noscript", "title"})


class _Text(HTMLParser):
    """Text pieces, and line breaks as numbers (1: a line, 2: a paragraph)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str | int] = []
        self.skipping = 0
        self.in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.parts.append(1)
        elif tag in _PARAGRAPH:
            self.parts.append(2)
        elif tag in _LINE:
            self.parts.append(1)
        if tag == "pre":
            self.in_pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _PARAGRAPH:
            self.parts.append(2)
        if tag == "pre":
            self.in_pre = max(0, self.in_pre - 1)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data if self.in_pre else _SPACES.sub(" ", data))


def plain_text(html: str) -> str:
    """The text of ``html``: tags gone, entities decoded, blocks on their own lines.

    ``<p>`` and other blocks are separated by a blank line, ``<br>`` and list
    items by a line break; other whitespace collapses to one space, except
    inside ``<pre>``.  Script and style contents are dropped.  The result is
    text, not HTML: escape it before putting it in a page.
    """
    parser = _Text()
    parser.feed(html)
    parser.close()
    out = ""
    pending = 0  # line breaks owed before the next text
    for part in parser.parts:
        if isinstance(part, int):
            pending = max(pending, part)
            continue
        text = part
        if pending:
            out = out.rstrip(" ")
            if out:
                out += "\n" * max(0, pending - (len(out) - len(out.rstrip("\n"))))
            text = text.lstrip(" ")
            pending = 0
        out += text
    return out.strip()
