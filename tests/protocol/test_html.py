"""The sanitiser keeps what Mastodon keeps, and nothing that runs."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.html import lost_markup, plain_text, sanitise

REL = 'rel="nofollow noopener noreferrer"'

# What Mastodon itself sends: kept as it is, links aside (rel is ours).
MASTODON_NOTE = (
    '<p><span class="h-card" translate="no"><a href="https://m.example/@alice" '
    'class="u-url mention">@<span>alice</span></a></span> Bonjour ! '
    '<a href="https://m.example/tags/donn%C3%A9es" class="mention hashtag" '
    'rel="tag">#<span>données</span></a></p><p>Ligne 1<br>Ligne 2</p>'
)


def test_mastodon_markup_is_kept() -> None:
    expected = (
        MASTODON_NOTE.replace(' rel="tag"', "")
        .replace('mention">', f'mention" {REL}>')
        .replace('hashtag">', f'hashtag" {REL}>')
    )
    assert sanitise(MASTODON_NOTE) == expected
    assert lost_markup(MASTODON_NOTE) == []


@pytest.mark.parametrize(
    "kept",
    [
        "<p>Un <strong>mot</strong>, <em>deux</em>, <b>trois</b>, <i>quatre</i>, "
        "<u>cinq</u>, <del>six</del>, <s>sept</s>.</p>",
        "<pre><code>bocage verify-log\n  --allow-private</code></pre>",
        "<blockquote><p>Citation</p></blockquote>",
        '<ol start="3" reversed=""><li value="3">c</li><li>b</li></ol>',
        "<ul><li>un</li><li>deux</li></ul>",
        '<p lang="br">Demat</p>',
        '<p><span class="invisible">https://</span><span class="ellipsis">'
        "exemple.org/tres/long</span></p>",
        "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>",
    ],
)
def test_allowed_markup_is_kept_byte_for_byte(kept: str) -> None:
    assert sanitise(kept) == kept
    assert lost_markup(kept) == []


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),
        ("<style>p{color:red}</style><p>x</p>", "<p>x</p>"),
        ('<iframe src="https://evil.example"></iframe><p>x</p>', "<p>x</p>"),
        ('<p onclick="steal()" style="color:red">x</p>', "<p>x</p>"),
        ('<img src="x" onerror="steal()">', ""),
        ('<a href="javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="data:text/html,<script>x</script>">x</a>', f"<a {REL}>x</a>"),
        ('<a href="/relative">x</a>', f"<a {REL}>x</a>"),
        ('<a href="mailto:a@b.example">x</a>', f"<a {REL}>x</a>"),
        ("<svg><script>x</script></svg><p>y</p>", "<p>y</p>"),
        ("<p>a<!-- hidden -->b</p>", "<p>ab</p>"),
        ('<form action="https://e.example"><input name="q"></form>t', "t"),
        ("<h1>Titre</h1>", "Titre"),
    ],
)
def test_dangerous_or_unknown_markup_is_removed(dirty: str, clean: str) -> None:
    assert sanitise(dirty) == clean
    assert lost_markup(dirty) != []


def test_classes_are_filtered_one_by_one() -> None:
    html = '<p class="h-entry e-content custom">x</p><span class="big">y</span>'
    assert sanitise(html) == '<p class="h-entry e-content">x</p><span>y</span>'
    assert lost_markup(html) == [
        'class="custom" removed from <p>',
        'class="big" removed from <span>',
    ]


def test_translate_is_kept_only_as_no() -> None:
    assert sanitise('<span translate="yes">x</span>') == "<span>x</span>"
    assert sanitise('<span translate="no">x</span>') == '<span translate="no">x</span>'


def test_links_get_our_rel_whatever_they_had() -> None:
    html = '<a href="https://e.example/?a=1&amp;b=2" rel="me" target="_top">e</a>'
    assert sanitise(html) == f'<a href="https://e.example/?a=1&amp;b=2" {REL}>e</a>'
    # rel and target belong to the receiving server: not a loss.
    assert lost_markup(html) == []


def test_nesting_and_unclosed_tags() -> None:
    assert sanitise("<p>a<p>b") == "<p>a</p><p>b</p>"
    assert sanitise("<ul><li>a<ul><li>b</li></ul></li></ul>") == (
        "<ul><li>a<ul><li>b</li></ul></li></ul>"
    )
    assert sanitise("<b><i>x</b></i>") == "<b><i>x</i></b>"
    assert lost_markup("<p>a<p>b") == []


def test_entities_keep_their_meaning() -> None:
    html = "<p>Tom &amp; Jerry &lt;3 &#39;quoted&#39; &eacute;t&eacute; &nbsp;</p>"
    assert sanitise(html) == "<p>Tom &amp; Jerry &lt;3 'quoted' été &nbsp;</p>"
    assert lost_markup(html) == []
    # A raw "<" starting a tag name is a tag, and it goes.
    assert lost_markup("<p>publier <budget.csv> ?</p>") == ["<budget.csv> removed"]


def test_plain_text() -> None:
    assert plain_text("<p>Bonjour</p>") == "Bonjour"
    assert plain_text("<p>a</p><p>b &amp; c</p>") == "a\n\nb & c"
    assert plain_text("<p> un <br> deux </p>\n<p>trois</p>") == "un\ndeux\n\ntrois"
    assert plain_text("<ul><li>un</li><li>deux</li></ul>fin") == "un\ndeux\n\nfin"
    assert plain_text("<pre>a\n  b</pre>") == "a\n  b"
    assert plain_text("<script>x()</script>t&eacute;") == "té"
    assert plain_text("a &lt;b&gt; &#x27;c&#x27;") == "a <b> 'c'"
    assert plain_text("yes") == "yes"
    assert plain_text("") == ""


_TAGS = st.sampled_from(
    ["p", "br", "span", "a", "script", "style", "iframe", "img", "svg", "math", "b",
     "i", "pre", "code", "ul", "li", "h1", "div", "textarea", "title", "noscript",
     "template", "object", "table", "td", "select", "option", "form"]
)  # fmt: skip
_ATTRS = st.sampled_from(
    [
        "",
        ' href="javascript:alert(1)"',
        ' href="https://e.example/"',
        " onclick=x",
        ' class="mention evil"',
        ' src="x" onerror="y"',
        " style=x",
    ]
)
_PIECES = st.one_of(
    st.builds(lambda t, a: f"<{t}{a}>", _TAGS, _ATTRS),
    st.builds(lambda t: f"</{t}>", _TAGS),
    st.sampled_from(["<!--", "-->", "<", ">", "&", "&lt;script", "<scr", "ipt>"]),
    st.text(max_size=8),
)
_HTML = st.lists(_PIECES, max_size=30).map("".join)


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [(tag, name, value or "") for name, value in attrs]


def attributes(html: str) -> list[tuple[str, str, str]]:
    parser = _Attributes()
    parser.feed(html)
    parser.close()
    return parser.found


@settings(max_examples=2000, deadline=None)
@given(_HTML)
def test_output_never_runs_and_sanitising_is_idempotent(html: str) -> None:
    clean = sanitise(html)
    assert "<script" not in clean.lower()
    for tag, name, value in attributes(clean):
        assert not name.startswith("on"), (tag, name)
        assert name not in ("style", "src"), (tag, name)
        if name == "href":
            assert value.startswith(("http://", "https://")), value
    assert sanitise(clean) == clean
    assert lost_markup(clean) == []


@settings(max_examples=200, deadline=None)
@given(_HTML)
def test_plain_text_is_trimmed_text(html: str) -> None:
    text = plain_text(sanitise(html))
    assert text == text.strip()
    assert "\n\n\n" not in text
