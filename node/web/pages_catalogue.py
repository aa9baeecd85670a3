"""Pages of the catalogue: home, datasets, services, agreements, ledgers.

Each page is served on the IRI of the document it shows (see
:mod:`node.web.render`), from the same rows as the JSON handlers of
:mod:`node.catalogue_web` and :mod:`node.contracts_web`.

Records are shown as plain text: their description (``dct:description``) is
text, and a record without one shows the text of its ``content``, never its
HTML.  Links are made only of ``http(s)`` URLs, so a peer's record cannot
smuggle a ``javascript:`` link into a page.  Every page stays well under
100 KB: lists are paged by 20, and a dataset shows at most
:data:`MAX_DISTRIBUTIONS` distributions and :data:`MAX_PREVIEWS` CSV previews.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from sqlalchemy import RowMapping, func, select

from node.activitypub import PAGE_SIZE, keyset_page
from node.appkeys import NODE
from node.contracts_web import ledger_items, ledger_summary, public_agreements
from node.services import Node
from node.web.contract_words import ContractWords, human_size, offer_in_words
from node.web.i18n import Translator
from node.web.render import page, query_int, render, translator
from node.web.replies import replies_to
from protocol.errors import ProtocolError
from protocol.html import plain_text
from protocol.jsonld import as_list, first_id, get_dict, ids
from protocol.odrl import offer_from_policy
from storage.search import SearchQuery, search
from storage.tables import follows, members, records

log = logging.getLogger("bocage.node.web.catalogue")

LATEST = 5  # datasets, offers and proposals on the home page
MAX_DISTRIBUTIONS = 60
MAX_PREVIEWS = 3
MAX_DESCRIPTION = 10_000  # characters of a description shown
MAX_VALUE = 300  # characters of any other value (a title, a keyword, an IRI…)
MAX_FACET_VALUES = 50  # keywords, themes, places… shown per record
MAX_PAGE_NUMBER = 1000
PREVIEW_BYTES = 64 * 1024  # of a CSV file read for its preview, at most
PREVIEW_ROWS = 10
PREVIEW_COLUMNS = 20
PREVIEW_CELL = 100  # characters of a cell shown

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ANCHOR = re.compile(r"^dist-\d{1,6}$")
_LICENCES = {
    "https://www.etalab.gouv.fr/licence-ouverte-open-licence": (
        "Licence Ouverte / Open Licence (Etalab)"
    ),
    "https://opendatacommons.org/licenses/odbl/1-0/": "Open Database License 1.0",
    "https://creativecommons.org/licenses/by/4.0/": "Creative Commons BY 4.0",
    "https://creativecommons.org/licenses/by-sa/4.0/": "Creative Commons BY-SA 4.0",
    "https://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0",
}
# EU language authority table codes (what protocol.dcat publishes) → ISO 639-1.
_EU_LANGUAGES = {
    "FRA": "fr", "ENG": "en", "DEU": "de", "SPA": "es", "ITA": "it", "NLD": "nl",
    "POR": "pt", "BRE": "br", "OCI": "oc", "COS": "co", "EUS": "eu", "CAT": "ca",
}  # fmt: skip


# --- reading records for people -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """A value shown on a page; a link only when ``href`` is set."""

    text: str
    href: str = ""


@dataclass(frozen=True, slots=True)
class Preview:
    """The first rows of a CSV file, cut to what a page can hold."""

    header: list[str]
    rows: list[list[str]]


@dataclass(slots=True)
class Distribution:
    """One way to get a dataset, as its section of the page shows it."""

    anchor: str  # the fragment of its IRI: dist-N
    title: str
    facts: list[tuple[str, list[Link]]]
    download: str
    access: str
    csv: bool  # text/csv or the CSV file type
    sized: bool  # the record gives its size
    preview: Preview | None = None


@dataclass(slots=True)
class RecordView:
    """What the dataset and service templates show of a record document."""

    iri: str
    kind: str
    title: str
    paragraphs: list[str]
    publisher: Link
    facts: list[tuple[str, list[Link]]]
    distributions: list[Distribution] = field(default_factory=list)
    hidden_distributions: int = 0
    endpoint: str = ""
    contract: ContractWords | None = None
    contract_error: str = ""


def web_url(value: Any) -> str:
    """``value`` if it is an http(s) URL, else "" (shown as text, not linked)."""
    if isinstance(value, str) and re.match(r"^https?://[^\s]+$", value, re.IGNORECASE):
        return value
    return ""


def _local(href: str, origin: str) -> str:
    """Our own IRIs as paths: shorter pages, and links that follow the visitor."""
    return href[len(origin) :] if href.startswith(origin + "/") else href


def clip(text: str, limit: int = MAX_VALUE) -> str:
    """``text`` cut to ``limit`` characters: a peer's record may hold anything."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _literal(value: Any, language: str, limit: int = MAX_VALUE) -> str:
    """A literal's text: a string, ``{"@value"}``, or the best of several languages."""
    best = ""
    for item in as_list(value):
        tag = ""
        if isinstance(item, str):
            text = item
        elif isinstance(item, dict) and isinstance(item.get("@value"), str | int):
            text, tag = str(item["@value"]), str(item.get("@language") or "")
        else:
            continue
        if tag.split("-")[0].lower() == language:
            return clip(text, limit)
        best = best or text
    return clip(best, limit)


def _last_segment(iri: str) -> str:
    return clip(iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or iri)


def _date(tr: Translator, value: Any) -> str:
    text = _literal(value, tr.language)
    try:
        moment = (
            datetime.fromisoformat(text.replace("Z", "+00:00")).date()
            if "T" in text
            else date.fromisoformat(text)
        )
    except ValueError:
        return text
    return format_date(moment, "long", locale=tr.language)


def _language_name(tr: Translator, iri: str) -> str:
    code = _last_segment(iri)
    code = _EU_LANGUAGES.get(code.upper(), code.lower())
    try:
        name = Locale.parse(code).get_display_name(tr.language)
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return name or code


def _frequency(tr: Translator, iri: str) -> str:
    names = {
        "CONT": tr.gettext("continuously"),
        "HOURLY": tr.gettext("every hour"),
        "DAILY": tr.gettext("every day"),
        "WEEKLY": tr.gettext("every week"),
        "MONTHLY": tr.gettext("every month"),
        "QUARTERLY": tr.gettext("every quarter"),
        "ANNUAL": tr.gettext("every year"),
        "IRREG": tr.gettext("irregularly"),
    }
    code = _last_segment(iri)
    return names.get(code, code)


def _theme(value: Any, language: str) -> Link:
    iri = first_id(value) or ""
    label = ""
    if isinstance(value, dict):
        label = _literal(value.get("skos:prefLabel"), language)
    search = "/catalogue/search?" + urlencode({"theme": iri})
    return Link(label or _last_segment(iri), search if iri else "")


def _links(values: Any, origin: str) -> list[Link]:
    return [
        Link(clip(iri), _local(web_url(iri), origin))
        for iri in ids(values)[:MAX_FACET_VALUES]
    ]


def _paragraphs(document: Mapping[str, Any], language: str) -> list[str]:
    text = _literal(document.get("dct:description"), language, MAX_DESCRIPTION)
    if not text:
        content = document.get("content")
        # A peer's HTML becomes text: nothing of its markup reaches the page.
        text = plain_text(content) if isinstance(content, str) else ""
    if not text:
        text = _literal(document.get("summary"), language)
    text = clip(text, MAX_DESCRIPTION)
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _common_facts(
    tr: Translator, document: Mapping[str, Any], origin: str
) -> list[tuple[str, list[Link]]]:
    _ = tr.gettext
    lang = tr.language
    facts: list[tuple[str, list[Link]]] = []

    def add(label: str, values: list[Link]) -> None:
        if values:
            facts.append((label, values))

    keywords = [
        k for k in (_literal(v, lang) for v in as_list(document.get("dcat:keyword")))
        if k
    ][:MAX_FACET_VALUES]  # fmt: skip
    add(
        _("Keywords"),
        [Link(k, "/catalogue/search?" + urlencode({"keyword": k})) for k in keywords],
    )
    themes = as_list(document.get("dcat:theme"))[:MAX_FACET_VALUES]
    add(_("Themes"), [_theme(t, lang) for t in themes])
    licence = first_id(document.get("dct:license"))
    if licence:
        add(
            _("Licence"),
            [Link(_LICENCES.get(licence, clip(licence)), web_url(licence))],
        )
    rights = first_id(document.get("dct:accessRights"))
    if rights:
        add(_("Access rights"), [Link(_last_segment(rights), web_url(rights))])
    for key, label in (("dct:issued", _("Published")), ("dct:modified", _("Updated"))):
        if document.get(key):
            add(label, [Link(_date(tr, document.get(key)))])
    contact = get_dict(document, "dcat:contactPoint")
    if contact is not None:
        name = _literal(contact.get("vcard:fn"), lang)
        email = first_id(contact.get("vcard:hasEmail")) or ""
        shown = []
        if name:
            shown.append(Link(name))
        if re.match(r"^mailto:[^\s@]+@[^\s@]+$", email):
            shown.append(Link(email.removeprefix("mailto:"), email))
        add(_("Contact"), shown)
    add(_("Standards"), _links(document.get("dct:conformsTo"), origin))
    return facts


def _distribution(
    tr: Translator, value: Any, index: int, origin: str
) -> Distribution | None:
    if not isinstance(value, dict):
        return None
    _ = tr.gettext
    # Distribution IRIs are <dataset>#dist-N (protocol.dcat): the section
    # takes the fragment as its id, so the IRI lands on it.
    fragment = (first_id(value) or "").rpartition("#")[2]
    anchor = fragment if _ANCHOR.match(fragment) else f"dist-{index}"
    media = first_id(value.get("dcat:mediaType")) or ""
    media = media.split("/media-types/", 1)[-1] if media else ""
    kind = first_id(value.get("dct:format")) or ""
    facts: list[tuple[str, list[Link]]] = []
    if kind:
        facts.append((_("Format"), [Link(_last_segment(kind))]))
    if media:
        facts.append((_("Media type"), [Link(clip(media))]))
    size = _literal(value.get("dcat:byteSize"), tr.language)
    if size.isdigit():
        facts.append((_("Size"), [Link(human_size(tr, int(size)))]))
    licence = first_id(value.get("dct:license"))
    if licence:
        facts.append(
            (
                _("Licence"),
                [Link(_LICENCES.get(licence, clip(licence)), web_url(licence))],
            )
        )
    download = web_url(first_id(value.get("dcat:downloadURL")))
    access = web_url(first_id(value.get("dcat:accessURL")))
    title = _literal(value.get("dct:title"), tr.language) or _(
        "Distribution %(number)s", number=tr.number(index)
    )
    return Distribution(
        anchor=anchor,
        title=title,
        facts=facts,
        download=_local(download, origin),
        access=_local(access, origin) if access != download else "",
        csv=media.lower() == "text/csv" or _last_segment(kind).upper() == "CSV",
        sized=size.isdigit(),
    )


def record_view(
    tr: Translator, document: Mapping[str, Any], *, origin: str, kind: str
) -> RecordView:
    """The parts of a record document that its page shows, as plain text."""
    _ = tr.gettext
    lang = tr.language
    iri = first_id(document) or ""
    title = _literal(document.get("name"), lang) or _literal(
        document.get("dct:title"), lang
    )
    publisher = get_dict(document, "dct:publisher") or {}
    publisher_iri = first_id(document.get("dct:publisher")) or ""
    publisher_name = _literal(publisher.get("foaf:name"), lang) or publisher_iri
    view = RecordView(
        iri=iri,
        kind=kind,
        title=title or iri,
        paragraphs=_paragraphs(document, lang),
        publisher=Link(publisher_name, _local(web_url(publisher_iri), origin)),
        facts=_common_facts(tr, document, origin),
    )
    if kind == "Dataset":
        _dataset_facts(tr, document, view, origin)
    else:
        _service_facts(tr, document, view, origin)
    return view


def _dataset_facts(
    tr: Translator, document: Mapping[str, Any], view: RecordView, origin: str
) -> None:
    _ = tr.gettext
    facts = view.facts
    languages = [_language_name(tr, i) for i in ids(document.get("dct:language"))]
    if languages:
        facts.append((_("Language"), [Link(n) for n in languages[:MAX_FACET_VALUES]]))
    places = _links(document.get("dct:spatial"), origin)
    if places:
        facts.append((_("Places covered"), places))
    period = get_dict(document, "dct:temporal") or {}
    start, end = period.get("dcat:startDate"), period.get("dcat:endDate")
    if start and end:
        covered = _(
            "from %(first)s to %(last)s", first=_date(tr, start), last=_date(tr, end)
        )
    elif start or end:
        covered = (
            _("since %(date)s", date=_date(tr, start))
            if start
            else _("until %(date)s", date=_date(tr, end))
        )
    else:
        covered = ""
    if covered:
        facts.append((_("Period covered"), [Link(covered)]))
    frequency = first_id(document.get("dct:accrualPeriodicity"))
    if frequency:
        facts.append((_("Update frequency"), [Link(_frequency(tr, frequency))]))
    landing = web_url(first_id(document.get("dcat:landingPage")))
    if landing:
        facts.append((_("Web page"), [Link(clip(landing), landing)]))

    distributions = as_list(document.get("dcat:distribution"))
    for index, value in enumerate(distributions[:MAX_DISTRIBUTIONS], start=1):
        shown = _distribution(tr, value, index, origin)
        if shown is not None:
            view.distributions.append(shown)
    view.hidden_distributions = max(0, len(distributions) - MAX_DISTRIBUTIONS)


def _service_facts(
    tr: Translator, document: Mapping[str, Any], view: RecordView, origin: str
) -> None:
    _ = tr.gettext
    view.endpoint = web_url(first_id(document.get("dcat:endpointURL")))
    described = web_url(first_id(document.get("dcat:endpointDescription")))
    if described:
        view.facts.append(
            (_("Description of the interface"), [Link(clip(described), described)])
        )
    formats = [_last_segment(i) for i in ids(document.get("dct:format"))]
    if formats:
        view.facts.append((_("Formats"), [Link(f) for f in formats[:MAX_FACET_VALUES]]))
    serves = _links(document.get("dcat:servesDataset"), origin)
    if serves:
        view.facts.append((_("Datasets served"), serves))
    policy = get_dict(document, "odrl:hasPolicy")
    if policy is None:
        view.contract_error = _("This offer publishes no contract.")
        return
    try:
        offer = offer_from_policy(policy)
    except ProtocolError as exc:
        log.info("offer %s cannot be told in words: %s", view.iri, exc)
        view.contract_error = _(
            "The contract of this offer cannot be read: %(reason)s", reason=str(exc)
        )
        return
    view.contract = offer_in_words(offer, tr, publisher=view.publisher.text)


# --- CSV previews -------------------------------------------------------------


def _cell(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= PREVIEW_CELL else value[: PREVIEW_CELL - 1] + "…"


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        # French spreadsheets write ";" (the decimal mark is ","); else ",".
        first = sample.split("\n", 1)[0]
        return ";" if first.count(";") > first.count(",") else ","


def read_preview(path: Path) -> Preview | None:
    """The first rows of a CSV file, reading at most :data:`PREVIEW_BYTES`.

    Blocking: run it in a thread.  UTF-8 (with or without a byte-order mark)
    is tried first, then Windows-1252, which French tools still write.  The
    first row is taken as the header, as open-data CSV files have one.  None
    when the file is missing or is not readable as CSV.
    """
    try:
        with path.open("rb") as stream:
            data = stream.read(PREVIEW_BYTES + 1)
    except OSError:
        return None
    if len(data) > PREVIEW_BYTES:
        # Drop the last, cut line (and a character cut in the middle).
        data = data[:PREVIEW_BYTES]
        data = data[: data.rfind(b"\n") + 1] or data
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        return None  # a binary file mislabelled as CSV
    sample = "\n".join(text.splitlines()[:20])
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(sample))
    try:
        rows = list(islice(reader, PREVIEW_ROWS + 1))
    except csv.Error:
        return None
    if not rows or not any(cell.strip() for cell in rows[0]):
        return None
    width = min(PREVIEW_COLUMNS, max(len(row) for row in rows))
    header = [_cell(c) for c in rows[0][:width]]
    header += [""] * (width - len(header))
    body = []
    for row in rows[1:]:
        cells = [_cell(c) for c in row[:width]]
        body.append(cells + [""] * (width - len(cells)))
    return Preview(header, body)


def _stored_file(node: Node, distribution: Distribution) -> Path | None:
    """The file behind a distribution, if this node stores it."""
    prefix = urlsplit(node.catalogue.file_url("")).path
    sha = distribution.download.removeprefix(prefix)
    if not distribution.download.startswith(prefix) or not _SHA256.match(sha):
        return None
    return Path(node.config.node.data_dir) / "files" / sha


def _inspect(path: Path, preview: bool) -> tuple[int | None, Preview | None]:
    """A stored file's size, and its first rows if asked (blocking: a thread)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None, None
    return size, read_preview(path) if preview else None


async def _add_stored_files(tr: Translator, node: Node, view: RecordView) -> None:
    """Sizes of the files we store, and previews of the first CSV ones."""
    previews = 0
    for distribution in view.distributions:
        path = _stored_file(node, distribution)
        if path is None:
            continue
        wanted = distribution.csv and previews < MAX_PREVIEWS
        size, distribution.preview = await asyncio.to_thread(_inspect, path, wanted)
        previews += 1 if wanted else 0
        if size is not None and not distribution.sized:
            distribution.facts.append(
                (tr.gettext("Size"), [Link(human_size(tr, size))])
            )


# --- the pages ----------------------------------------------------------------

# What a record's card in a list needs (title, summary, link, provenance).
_CARD_COLUMNS = (
    records.c.seq, records.c.id, records.c.title, records.c.description,
    records.c.kind, records.c.mirrored, records.c.origin,
)  # fmt: skip


def _page_number(request: web.Request) -> int:
    return min(max(1, query_int(request, "page") or 1), MAX_PAGE_NUMBER)


def _cut(text: str, length: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length].rsplit(" ", 1)[0] + " …"


def _item(row: Mapping[Any, Any], origin: str) -> dict[str, Any]:
    """A record in a list: its title, kind, where it comes from, and a link."""
    mirrored = bool(row["mirrored"])
    return {
        "href": (
            "/mirror?" + urlencode({"id": row["id"]})
            if mirrored
            else _local(row["id"], origin)
        ),
        "title": clip(row["title"] or row["id"]),
        "summary": _cut(row["description"] or ""),
        "kind": row["kind"],
        "mirrored": mirrored,
        "origin": row["origin"],
    }


def _summary(tr: Translator, document: Mapping[str, Any], publisher: str) -> str:
    policy = get_dict(document, "odrl:hasPolicy")
    if policy is None:
        return ""
    try:
        return offer_in_words(
            offer_from_policy(policy), tr, publisher=publisher
        ).summary
    except ProtocolError:
        return ""


async def _open_proposals(node: Node) -> list[dict[str, Any]]:
    found = [p for p in await node.proposals.list() if p["state"] == "open"]
    found.sort(key=lambda p: p["closes_at"])
    return found[:LATEST]


async def home_page(request: web.Request) -> web.Response:
    """The node: what it is, how to follow it, what it publishes and decides."""
    node = request.app[NODE]
    tr = translator(request)
    origin = node.config.origin
    live = records.c.deleted_at.is_(None)
    own = live & ~records.c.mirrored
    async with node.db.read() as conn:
        counted = (
            await conn.execute(
                select(records.c.kind, records.c.mirrored, func.count())
                .where(live)
                .group_by(records.c.kind, records.c.mirrored)
            )
        ).all()

        async def latest(kind: str, *extra: Any) -> Sequence[RowMapping]:
            stmt = (
                select(*_CARD_COLUMNS, *extra)
                .where(own, records.c.kind == kind)
                .order_by(records.c.seq.desc())
                .limit(LATEST)
            )
            return (await conn.execute(stmt)).mappings().all()

        datasets = await latest("Dataset")
        services = await latest("DataService", records.c.document)
        member_count = (
            await conn.execute(
                select(func.count())
                .select_from(members)
                .where(members.c.state == "member")
            )
        ).scalar_one()
        peer_count = (
            await conn.execute(
                select(func.count())
                .select_from(follows)
                .where(
                    follows.c.follower == node.catalogue.actor,
                    follows.c.state == "accepted",
                )
            )
        ).scalar_one()
    counts = {"Dataset": 0, "DataService": 0, "mirrored": 0}
    for kind, mirrored, n in counted:
        counts["mirrored" if mirrored else kind] += int(n)
    offers = []
    for row in services:
        item = _item(row, origin)
        item["summary"] = _summary(tr, row["document"], node.config.node.name)
        offers.append(item)
    return await render(
        request, "home.html",
        counts={**counts, "members": int(member_count), "peers": int(peer_count)},
        datasets=[_item(row, origin) for row in datasets],
        offers=offers,
        proposals=await _open_proposals(node),
    )  # fmt: skip


async def catalogue_page(request: web.Request) -> web.Response:
    """``/catalogue``: our records by pages; with a query, a search of all records."""
    node = request.app[NODE]
    tr = translator(request)
    query = request.query
    q = query.get("q", "").strip()[:200]
    kind = query.get("kind", "")
    kind = kind if kind in ("Dataset", "DataService") else ""
    facets = {
        name: query.get(name, "")[:500]
        for name in ("keyword", "theme")
        if query.get(name)
    }
    searching = request.path == "/catalogue/search" or bool(q or kind or facets)
    context: dict[str, Any] = {"q": q, "kind": kind, "facets": facets}
    origin = node.config.origin
    if searching:
        number = _page_number(request)
        found = await search(
            node.db,
            SearchQuery(
                text=q,
                kind=kind or None,
                keywords=(facets["keyword"],) if "keyword" in facets else (),
                themes=(facets["theme"],) if "theme" in facets else (),
                page=number,
                per_page=PAGE_SIZE,
            ),
        )
        params = {k: v for k, v in {"q": q, "kind": kind, **facets}.items() if v}

        def at(n: int) -> str:
            return "/catalogue/search?" + urlencode({**params, "page": n})

        context.update(
            searching=True,
            total=found.total,
            items=[_item(row, origin) for row in found.items],
            previous=at(number - 1) if number > 1 else "",
            next=at(number + 1) if number < min(found.pages, MAX_PAGE_NUMBER) else "",
            first="",
        )
        title = tr.gettext("Search the catalogue")
    else:
        before = query_int(request, "before")
        own = records.c.deleted_at.is_(None) & ~records.c.mirrored
        stmt = select(*_CARD_COLUMNS).where(own)
        async with node.db.read() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(records).where(own))
            ).scalar_one()
            rows, cursor = await keyset_page(conn, stmt, records.c.seq, before)
        context.update(
            searching=False,
            total=int(total),
            items=[_item(row._mapping, origin) for row in rows],
            previous="",
            next=f"/catalogue?before={cursor}" if cursor is not None else "",
            first="/catalogue" if before is not None else "",
        )
        title = tr.gettext("Catalogue")
    return await render(request, "catalogue.html", title=title, **context)


def _exports(base: str) -> list[tuple[str, str]]:
    glue = "&" if "?" in base else "?"
    return [
        ("JSON-LD", f"{base}{glue}format=jsonld"),
        ("Turtle", f"{base}{glue}format=ttl"),
        ("RDF/XML", f"{base}{glue}format=rdf"),
    ]


async def record_page(request: web.Request) -> web.Response:
    """A dataset or a service offer of ours, on its IRI."""
    node = request.app[NODE]
    tr = translator(request)
    kind = "Dataset" if request.match_info["kind"] == "datasets" else "DataService"
    row = await node.catalogue.get(kind, request.match_info["slug"])
    if row is None:
        raise web.HTTPNotFound(reason=tr.gettext("There is no such record here."))
    if row.deleted_at is not None:
        raise web.HTTPGone(reason=tr.gettext("Its publisher withdrew this record."))
    origin = node.config.origin
    view = record_view(tr, row.document, origin=origin, kind=kind)
    context: dict[str, Any] = {
        "record": view,
        "mirror": None,
        "exports": _exports(request.path),
        "replies": await replies_to(node, row.id),
        "reply_iri": row.id,
    }
    if kind == "Dataset":
        await _add_stored_files(tr, node, view)
        return await render(request, "dataset.html", title=view.title, **context)
    shown, total = await public_agreements(node, row.id)
    context.update(
        agreements=shown,
        agreement_count=total,
        usage=await ledger_summary(node, row.id),
        ledger=f"{request.path}/ledger",
    )
    return await render(request, "service.html", title=view.title, **context)


async def services_page(request: web.Request) -> web.Response:
    """``/services``: our service offers, each summed up in one sentence."""
    node = request.app[NODE]
    tr = translator(request)
    before = query_int(request, "before")
    own = (
        records.c.deleted_at.is_(None)
        & ~records.c.mirrored
        & (records.c.kind == "DataService")
    )
    stmt = select(*_CARD_COLUMNS, records.c.document).where(own)
    async with node.db.read() as conn:
        total = (
            await conn.execute(select(func.count()).select_from(records).where(own))
        ).scalar_one()
        rows, cursor = await keyset_page(conn, stmt, records.c.seq, before)
    offers = []
    for row in rows:
        item = _item(row._mapping, node.config.origin)
        item["summary"] = _summary(tr, row.document, node.config.node.name)
        offers.append(item)
    return await render(
        request, "services.html", title=tr.gettext("Service offers"),
        offers=offers, total=int(total),
        next=f"/services?before={cursor}" if cursor is not None else "",
        first="/services" if before is not None else "",
    )  # fmt: skip


async def ledger_page(request: web.Request) -> web.Response:
    """``/services/{slug}/ledger``: which node used an offer, how much, per day."""
    node = request.app[NODE]
    tr = translator(request)
    row = await node.catalogue.get("DataService", request.match_info["slug"])
    if row is None or row.deleted_at is not None:
        raise web.HTTPNotFound(reason=tr.gettext("There is no such service offer."))
    number = _page_number(request)
    items, more = await ledger_items(node, row.id, number)
    offer = _local(row.id, node.config.origin)
    return await render(
        request, "ledger.html",
        title=tr.gettext("Usage of %(title)s", title=row.title),
        offer=Link(row.title, offer), items=items,
        previous=f"{request.path}?page={number - 1}" if number > 1 else "",
        next=f"{request.path}?page={number + 1}" if more else "",
    )  # fmt: skip


async def mirror_page(request: web.Request) -> web.Response:
    """A peer's record kept here, with where it comes from and when it was checked."""
    node = request.app[NODE]
    tr = translator(request)
    iri = request.query.get("id", "")
    row = await node.catalogue.get_by_iri(iri)
    if row is None or not row.mirrored or row.deleted_at is not None:
        raise web.HTTPNotFound(
            reason=tr.gettext("No record mirrored here has this id.")
        )
    origin = node.config.origin
    view = record_view(tr, row.document, origin=origin, kind=row.kind)
    if not view.publisher.href:
        view.publisher = Link(view.publisher.text, web_url(row.actor))
    base = "/mirror?" + urlencode({"id": row.id})
    mirror = {
        "origin": row.origin,
        "original": web_url(row.id),
        "verified": tr.datetime(row.verified_at),
        "signed": base + "&format=json",
    }
    template = "dataset.html" if row.kind == "Dataset" else "service.html"
    extra: dict[str, Any] = {}
    if row.kind != "Dataset":
        extra = {"agreements": [], "agreement_count": 0, "usage": None, "ledger": ""}
    return await render(
        request, template, title=view.title, record=view, mirror=mirror,
        exports=_exports(base), **extra,
    )  # fmt: skip


def setup(app: web.Application) -> None:
    page(app, "/", home_page, by_default=True)
    page(app, "/catalogue", catalogue_page)
    page(app, "/catalogue/search", catalogue_page)
    page(app, "/{kind}/{slug}", record_page)
    page(app, "/services/{slug}/ledger", ledger_page)
    page(app, "/mirror", mirror_page)
    # A page only: servers list offers through the catalogue collection.
    app.router.add_get("/services", services_page)
