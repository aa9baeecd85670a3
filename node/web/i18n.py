"""French and English for the human pages, chosen by ``Accept-Language``.

Messages are written in English in the templates and the page code, wrapped in
``_()``; :data:`node.web.messages.FRENCH` holds their French.  A test checks
that every message used has a translation, so a page never mixes languages.
Dates and numbers are formatted by Babel with the visitor's locale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal

from node.web.messages import FRENCH
from protocol.jsonld import parse_instant

LANGUAGES = ("fr", "en")


def negotiate(header: str, default: str) -> str:
    """The first of our languages the visitor accepts (RFC 9110 §12.5.4 q-values).

    Tags are matched by their primary subtag (``fr-CA`` → ``fr``); a language
    with ``q=0`` is refused; anything we do not speak falls back to
    ``default``.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary == "*":
            primary = default
        if primary in LANGUAGES and q > 0:
            # Earlier entries win ties: browsers list them in preference order.
            ranked.append((q, -position, primary))
    return max(ranked)[2] if ranked else default


class Translator:
    """Messages, dates and numbers in one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self._table: dict[str, str] = FRENCH if self.language == "fr" else {}

    def gettext(self, message: str, **values: Any) -> str:
        text = self._table.get(message, message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        key = singular if n == 1 or (self.language == "fr" and n == 0) else plural
        text = self._table.get(key, key)
        return text % {"num": n, **values}

    def datetime(
        self, moment: float | str | datetime | None, *, short: bool = False
    ) -> str:
        """A moment (epoch seconds, ISO 8601 text or datetime), in UTC."""
        if moment is None or moment == "":
            return ""
        if isinstance(moment, datetime):
            moment = moment.timestamp()
        return _format_moment(moment, short, self.language)

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=self.language)


@lru_cache(maxsize=4096)
def _format_moment(moment: float | str, short: bool, language: str) -> str:
    # Babel's formatting costs ~0.1 ms; a log page shows dozens of moments,
    # the same ones on every visit.
    if isinstance(moment, str):
        parsed = parse_instant(moment)
        if parsed is None:
            return moment
        when = parsed
    else:
        when = datetime.fromtimestamp(moment, UTC)
    pattern = "medium" if short else "long"
    return format_datetime(when, pattern, tzinfo=UTC, locale=language)
