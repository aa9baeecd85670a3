"""Catalogue pages: home, catalogue and search, datasets, offers, ledgers, mirrors."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
from jinja2.ext import extract_from_ast

from node.contracts import AGREED, PROVIDER, TERMINATED
from node.web.contract_words import offer_in_words
from node.web.i18n import Translator
from node.web.messages import FRENCH
from node.web.pages_catalogue import PREVIEW_BYTES, read_preview
from protocol import dcat
from protocol.records import decode_dataset, decode_service
from storage.tables import agreements, records, usage_daily
from tests.web.conftest import HTML, Site

REPO = Path(__file__).resolve().parents[2]
AS_JSON = {"Accept": "application/activity+json"}

CSV = (
    "commune;adresse;places\n"
    + "".join(f"Brest;Rue {n};{n}\n" for n in range(1, 10))
    + "Brest;<script>alert(1)</script>;10\n"
    + "Brest;Onzième ligne;11\n"
    + "Brest;Douzième ligne;12\n"
).encode()


def dataset(slug: str, file_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": f"Arceaux vélo {slug}",
        "description": "Emplacement des arceaux vélo.\n\nMis à jour chaque mois.",
        "keywords": ["vélo", "stationnement"],
        "themes": ["http://publications.europa.eu/resource/authority/data-theme/TRAN"],
        "license": "https://opendatacommons.org/licenses/odbl/1-0/",
        "language": ["fr"],
        "spatial": ["https://www.geonames.org/3030300"],
        "temporal_start": "2026-01-01",
        "temporal_end": "2026-12-31",
        "distributions": [
            {
                "title": "Arceaux (CSV)",
                "download_url": file_url,
                "media_type": "text/csv",
                "format": "CSV",
            },
            {
                "title": "Carte",
                "access_url": "https://carte.example/arceaux",
                "format": "HTML",
            },
        ],
        **extra,
    }


OFFER: dict[str, Any] = {
    "slug": "parkings",
    "title": "API des parkings relais",
    "description": "Places libres en temps réel.",
    "endpoint_url": "https://api.example/parkings",
    "formats": ["JSON"],
    "offer": {
        "permissions": [{"action": "read"}],
        "hours": [
            {
                "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
                "opens": "08:00",
                "closes": "19:00",
            }
        ],
        "quotas": [{"limit": 1000, "period": "P1D"}],
        "audience": "members",
        "auto_accept": "members",
    },
}


async def publish(site: Site, slug: str = "arceaux") -> str:
    """Store the CSV file, publish a dataset using it and the offer; the file URL."""
    folder = Path(site.config.node.data_dir) / "files"
    folder.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(CSV).hexdigest()
    (folder / sha).write_bytes(CSV)
    url = site.node.catalogue.file_url(sha)
    await site.node.catalogue.put(decode_dataset(dataset(slug, url)))
    await site.node.catalogue.put(decode_service(OFFER))
    return url


async def fetch(
    site: Site, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    async with site.http.get(
        site.origin + path, headers=headers, allow_redirects=False
    ) as response:
        return response.status, dict(response.headers), await response.text()


class _Form(HTMLParser):
    """Fields, labels and external resources of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.labels: set[str] = set()
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        kind = a.get("type") or ""
        if tag in ("select", "textarea") or (
            tag == "input" and kind not in ("hidden", "submit", "button")
        ):
            self.fields.append(str(a.get("id") or f"<{tag} without id>"))
        if tag == "link" or tag in ("img", "iframe", "source"):
            self.resources.append(str(a.get("href") or a.get("src") or ""))


def check_page(text: str) -> None:
    """Under 100 KB, no script, nothing loaded from elsewhere, fields labelled."""
    assert len(text.encode()) < 100_000
    assert "<script" not in text.lower()
    assert "@import" not in text and "fonts.googleapis" not in text
    parsed = _Form()
    parsed.feed(text)
    for resource in parsed.resources:
        assert resource.startswith("/") and not resource.startswith("//"), resource
    for field in parsed.fields:
        assert field in parsed.labels, f"field {field} has no label"


# --- pages ---------------------------------------------------------------------------


async def test_home_and_one_iri_for_people_and_servers(site: Site) -> None:
    await publish(site)
    seq = await site.node.proposals.open("Ouvrir les horaires du port", "Texte.")
    page = await site.page("/")
    assert f'href="/proposals/{seq}">Ouvrir les horaires du port</a>' in page
    name = site.config.node.name
    assert name in page and "Latest datasets" in page and "Arceaux vélo arceaux" in page
    assert f"@{site.config.node.username}@{site.config.node.domain}" in page
    assert "Members of the community may read the data" in page
    assert 'href="/charter"' in page and 'href="/log"' in page
    french = await site.page("/", language="fr")
    assert "Derniers jeux de données" in french and "Suivre ce nœud" in french

    # The home page sends servers to the node's actor.
    status, headers, _ = await fetch(site, "/", AS_JSON)
    assert status == 302 and "Accept" in headers["Vary"]
    assert headers["Location"].endswith(f"/actors/{site.config.node.username}")
    status, headers, text = await fetch(site, "/", {"Accept": "*/*"})
    assert status == 200 and name in text

    # A record: JSON for servers, Turtle when asked, the page for browsers.
    path = "/datasets/arceaux"
    status, headers, text = await fetch(site, path, AS_JSON)
    assert status == 200
    assert headers["Content-Type"].startswith("application/activity+json")
    assert f'"id":"{site.origin}{path}"' in text.replace(" ", "")
    assert "Accept" in headers["Vary"]
    status, headers, text = await fetch(site, path + "?format=ttl", HTML)
    assert status == 200 and headers["Content-Type"].startswith("text/turtle")
    status, headers, text = await fetch(site, path, HTML)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "Accept" in headers["Vary"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]

    # Withdrawn: 410 for both.
    await site.node.catalogue.delete("Dataset", "arceaux")
    assert "withdrew this record" in await site.page(path, status=410)
    assert (await fetch(site, path, AS_JSON))[0] == 410
    await site.page("/datasets/nothing-here", status=404)


async def test_dataset_page_and_search(site: Site) -> None:
    await publish(site)
    page = await site.page("/datasets/arceaux")
    assert '<section id="dist-1"' in page and '<section id="dist-2"' in page
    assert "First 10 rows of Arceaux (CSV)" in page
    table = page[page.index("<table>") : page.index("</table>")]
    assert table.count("<tr>") == 11  # the header and ten rows
    assert "Rue 9" in table and "Onzième ligne" not in table
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert "<script" not in page
    assert 'href="/files/' in page and 'href="https://carte.example/arceaux"' in page
    assert "Open Database License" in page and "January 1, 2026" in page
    assert "Emplacement des arceaux vélo." in page
    for export in ("format=jsonld", "format=ttl", "format=rdf"):
        assert f'href="/datasets/arceaux?{export}"' in page
    french = await site.page("/datasets/arceaux", language="fr")
    assert "Télécharger" in french and "les 10 premières lignes" in french
    assert "du 1 janvier 2026 au 31 décembre 2026" in french

    page = await site.page("/catalogue/search?q=arceaux")
    assert "1 record found." in page and 'href="/datasets/arceaux"' in page
    assert 'href="/services/parkings"' in await site.page("/catalogue?q=parkings")
    page = await site.page("/catalogue/search?q=zeppelin")
    assert "No result for “zeppelin”." in page
    page = await site.page("/catalogue/search?q=zeppelin", language="fr")
    assert "Aucun résultat pour « zeppelin »." in page
    page = await site.page("/catalogue/search?keyword=v%C3%A9lo")
    assert 'href="/datasets/arceaux"' in page and "remove this filter" in page
    listing = await site.page("/catalogue", language="fr")
    assert "Chercher dans le catalogue" in listing
    assert 'href="/services/parkings"' in listing


async def test_offer_page_tells_the_contract_and_its_agreements(site: Site) -> None:
    await publish(site)
    offer = f"{site.origin}/services/parkings"
    peer = "https://peer.example/actors/node"
    now = time.time()

    async def agree(conn: Any) -> None:
        for n, state in enumerate((AGREED, TERMINATED)):
            seq = (
                await conn.execute(
                    agreements.insert()
                    .values(
                        role=PROVIDER, state=state, offer_id=offer,
                        provider=site.node.catalogue.actor, consumer=f"{peer}{n}",
                        request_id=f"{peer}/offers/{n}",
                        agreement_id=f"{site.origin}/agreements/{n}",
                        policy={}, agreement={"dct:issued": "2026-03-01T10:00:00Z"},
                        created_at=now, updated_at=now,
                    )
                    .returning(agreements.c.seq)
                )
            ).scalar_one()  # fmt: skip
            await conn.execute(
                usage_daily.insert().values(
                    agreement_seq=seq,
                    day=time.strftime("%Y-%m-%d", time.gmtime(now)),
                    calls=1234,
                )
            )

    await site.node.writer.submit(agree)

    page = await site.page("/services/parkings")
    assert (
        "Members of the community may read the data, from Monday to Friday, "
        "8:00 to 19:00 (Europe/Paris), up to 1,000 requests a day."
    ) in page
    assert "Each request must be signed by the calling server" in page
    assert "Free of charge." in page
    assert "Requests for an agreement from members of the community" in page
    assert f"{peer}0" in page and "in effect" in page and "ended" in page
    assert "2,468 calls" in page and 'href="/services/parkings/ledger"' in page
    french = await site.page("/services/parkings", language="fr")
    assert "du lundi au vendredi, de 8 h 00 à 19 h 00 (Europe/Paris)" in french
    assert "requêtes par jour" in french and "en vigueur" in french

    ledger = await site.page("/services/parkings/ledger")
    assert "Calls per node and per day" in ledger and "1,234" in ledger
    assert "Appels par nœud" in await site.page(
        "/services/parkings/ledger", language="fr"
    )
    status, _, text = await fetch(site, "/services/parkings/ledger", AS_JSON)
    assert status == 200 and '"calls":1234' in text.replace(" ", "")

    services = await site.page("/services")
    assert 'href="/services/parkings"' in services and "1,000 requests" in services
    assert "Offres de service" in await site.page("/services", language="fr")


async def mirror(site: Site) -> str:
    """Keep a peer's record as if it had arrived verified; its /mirror path."""
    iri = "https://peer.example/datasets/air"
    document = dcat.dataset_record(
        decode_dataset(
            {
                "slug": "air",
                "title": "Qualité de l'air",
                "description": "<b>Mesures</b> horaires.",
            }
        ),
        iri=iri,
        actor="https://peer.example/actors/node",
        actor_name="Syndicat mixte",
        followers="https://peer.example/actors/node/followers",
        html_url=iri,
        published=datetime.now(UTC),
        updated=datetime.now(UTC),
        file_url=lambda sha: f"https://peer.example/files/{sha}",
    )

    async def save(conn: Any) -> None:
        await conn.execute(
            records.insert().values(
                id=iri, kind="Dataset", slug=None, origin="peer.example",
                actor="https://peer.example/actors/node", document=document,
                title="Qualité de l'air", description="", publisher="",
                themes=[], keywords=[], formats=[], mirrored=True,
                published_at=time.time(), updated_at=time.time(),
                verified_at=time.time(),
            )
        )  # fmt: skip

    await site.node.writer.submit(save)
    return f"/mirror?id={iri}"


async def test_every_page_is_small_self_contained_and_labelled(site: Site) -> None:
    url = await publish(site)
    long = "Un jeu de données parmi beaucoup d'autres, décrit longuement. " * 8
    many = [
        decode_dataset(dataset(f"jeu-{n}", url, description=long)) for n in range(60)
    ]
    for start in range(0, 60, 20):
        # Concurrent puts share the writer's commits: a faster set-up.
        await asyncio.gather(
            *(site.node.catalogue.put(d) for d in many[start : start + 20])
        )
    path = await mirror(site)

    page = await site.page(path)
    assert "Published by Syndicat mixte on peer.example, and mirrored here." in page
    assert "Its signature was verified on" in page
    assert 'href="https://peer.example/datasets/air"' in page
    assert "&lt;b&gt;Mesures&lt;/b&gt;" in page and "<b>" not in page
    assert "répliquée ici" in await site.page(path, language="fr")
    status, _, text = await fetch(site, path + "&format=json", HTML)
    assert status == 200 and '"id": "https://peer.example/datasets/air"' in text
    status, headers, _ = await fetch(site, path + "&format=ttl", HTML)
    assert status == 200 and headers["Content-Type"].startswith("text/turtle")
    await site.page("/mirror?id=https://peer.example/nothing", status=404)

    listing = await site.page("/catalogue")
    cursor = re.search(r'href="/catalogue\?before=(\d+)"', listing)
    assert cursor is not None and listing.count("<h3><a href=") == 20
    assert "Next page" in await site.page("/catalogue/search?q=jeu")
    paths = [
        "/", "/catalogue", f"/catalogue?before={cursor.group(1)}",
        "/catalogue/search?q=jeu", "/catalogue/search?q=jeu&page=3",
        "/datasets/jeu-7", "/services", "/services/parkings",
        "/services/parkings/ledger", path,
    ]  # fmt: skip
    for path in paths:
        for language in ("en", "fr"):
            check_page(await site.page(path, language=language))


# --- the contract in plain words, CSV previews and messages ---------------------------


def test_offer_in_words_covers_prices_nights_bytes_and_listed_nodes() -> None:
    offer = decode_service(
        {
            **OFFER,
            "offer": {
                "permissions": [
                    {"action": "read",
                     "constraints": [{"left": "dateTime", "operator": "lteq",
                                      "right": "2027-12-31"}],
                     "duties": [{"action": "compensate", "amount": 0.002,
                                 "currency": "EUR", "unit": "request"}]},
                    {"action": "modify",
                     "constraints": [{"left": "recipient", "operator": "isAnyOf",
                                      "right": ["https://a.example/actors/node"]}]},
                ],
                "prohibitions": [{"action": "distribute"}],
                "hours": [{"days": ["Saturday", "Sunday"], "opens": "22:00",
                           "closes": "06:00"}],
                "quotas": [{"limit": 5000, "period": "P1M"},
                           {"limit": 2_000_000_000, "period": "PT1H",
                            "unit": "byte"}],
                "authentication": ["none"],
                "transport": "any",
                "audience": "public",
            },
        }
    ).offer  # fmt: skip
    english = offer_in_words(offer, Translator("en"), publisher="Brest")
    text = " ".join([english.summary, *(s for _, ss in english.terms for s in ss)])
    assert english.summary.startswith("Anyone may read the data and write data")
    assert "on Saturday and Sunday, 22:00 to 6:00 the next day" in text
    assert "up to 5,000 requests a month and up to 2 GB an hour" in text
    assert "To read the data: valid until December 31, 2027." in text
    assert "Price: 0.002 EUR per request." in text
    assert "Not permitted: redistribute the data." in text
    assert "No identification is needed." in text and "No agreement is needed." in text
    french = offer_in_words(offer, Translator("fr"), publisher="Brest")
    text = " ".join([french.summary, *(s for _, ss in french.terms for s in ss)])
    assert "le samedi et dimanche, de 22 h 00 à 6 h 00 le lendemain" in text
    assert "Prix : 0,002 EUR par requête." in text and "par mois" in text


def test_csv_preview_reads_little_and_guesses_the_delimiter(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    row = "a,b,c\n" + "1,2," + "x" * 500 + "\n"
    big.write_text(row * 2000)  # over 1 MB
    preview = read_preview(big)
    assert preview is not None and preview.header == ["a", "b", "c"]
    assert len(preview.rows) == 10 and preview.rows[0][2].endswith("…")
    assert len(preview.rows[0][2]) <= 100
    assert big.stat().st_size > PREVIEW_BYTES

    latin = tmp_path / "latin.csv"
    latin.write_bytes("nom;prénom\nÉlodie;Zoé\n".encode("cp1252"))
    preview = read_preview(latin)
    assert preview is not None and preview.rows == [["Élodie", "Zoé"]]
    assert read_preview(tmp_path / "missing.csv") is None


def _messages() -> set[str]:
    """Messages of this feature's templates and code, as the pages use them."""
    env = jinja2.Environment(autoescape=True)
    found: set[str] = set()
    templates = REPO / "node" / "web" / "templates"
    for name in ("home", "catalogue", "dataset", "service", "services", "ledger",
                 "record_parts"):  # fmt: skip
        source = (templates / f"{name}.html").read_text(encoding="utf-8")
        for _, _, message in extract_from_ast(
            env.parse(source), gettext_functions=("_", "ngettext")
        ):
            parts = message if isinstance(message, tuple) else (message,)
            found.update(p for p in parts if isinstance(p, str))
    for module in ("node/web/pages_catalogue.py", "node/contracts_web.py"):
        tree = ast.parse((REPO / module).read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            name = getattr(func, "attr", getattr(func, "id", ""))
            count = {"_": 1, "gettext": 1, "ngettext": 2}.get(name, 0)
            for arg in call.args[:count]:
                assert isinstance(arg, ast.Constant), ast.unparse(call)
                found.add(arg.value)
    return found


def test_every_message_has_its_french() -> None:
    used = _messages()
    assert len(used) > 100
    missing = sorted(m for m in used if m not in FRENCH)
    assert not missing


def test_french_keeps_every_placeholder() -> None:
    for message in _messages():
        assert sorted(re.findall(r"%\((\w+)\)s", FRENCH[message])) == sorted(
            re.findall(r"%\((\w+)\)s", message)
        ), message
