"""French and English: negotiation, and a French message for every English one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from node.web import messages
from node.web.i18n import Translator, negotiate
from tests.web.conftest import Site

WEB = Path(messages.__file__).parent
# _("…"), _('…'), gettext("…"), ngettext("…", "…") in templates and page code.
CALL = re.compile(
    r"""(?:\b_|gettext|ngettext)\(\s*(?P<q>["'])(?P<msg>(?:(?!(?P=q)).)+)(?P=q)"""
    r"""(?:\s*,\s*(?P<q2>["'])(?P<plural>(?:(?!(?P=q2)).)+)(?P=q2))?""",
    re.S,
)


def _python_messages(path: Path) -> set[str]:
    """Literal arguments of gettext/ngettext/_ calls (ast joins "a" "b")."""
    found: set[str] = set()
    for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in ("_", "gettext", "ngettext"):
            continue
        for arg in call.args[: 2 if name == "ngettext" else 1]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return found


def used_messages() -> set[str]:
    found: set[str] = set()
    for path in WEB.glob("templates/*.html"):
        for match in CALL.finditer(path.read_text(encoding="utf-8")):
            found.add(match["msg"])
            if match["plural"]:
                found.add(match["plural"])
    for path in WEB.glob("*.py"):
        found |= _python_messages(path)
    return found


def test_every_message_has_a_french_translation() -> None:
    used = used_messages()
    assert len(used) > 50  # the pattern still finds the messages
    missing = sorted(m for m in used if m not in messages.FRENCH)
    assert missing == []


def test_french_keeps_the_placeholders() -> None:
    for english, french in messages.FRENCH.items():
        names = set(re.findall(r"%\((\w+)\)s", english))
        assert set(re.findall(r"%\((\w+)\)s", french)) == names, english


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("de-DE,de;q=0.9,en;q=0.5", "en"),
        ("de-DE", "fr"),  # nothing we speak: the node's language
        ("", "fr"),
        ("en;q=0, fr;q=0.1", "fr"),
        ("fr;q=0.5, en;q=0.5", "fr"),  # a tie goes to the first listed
        ("*", "fr"),
        ("en;q=abc", "fr"),
    ],
)
def test_accept_language_negotiation(header: str, expected: str) -> None:
    assert negotiate(header, "fr") == expected


def test_dates_and_numbers_follow_the_language() -> None:
    assert Translator("fr").number(1234567) == "1\u202f234\u202f567"
    assert Translator("en").number(1234567) == "1,234,567"
    assert "décembre" in Translator("fr").datetime(1796256000)
    assert "December" in Translator("en").datetime(1796256000)


async def test_the_language_link_keeps_the_page_and_is_remembered(site: Site) -> None:
    page = await site.page("/catalogue/search?q=velo", language="en")
    assert 'href="/catalogue/search?q=velo&amp;lang=fr"' in page
    french = await site.page("/catalogue/search?q=velo&lang=fr", language="en")
    assert 'lang="fr"' in french
    # The next page, with an English browser, stays in French.
    assert '<html lang="fr">' in await site.page("/log", language="en")
