"""Record search: every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from storage.database import Database
from storage.search import (
    MAX_PER_PAGE,
    SearchQuery,
    index_record,
    reindex_all,
    search,
    unindex_record,
    words,
)
from storage.tables import record_index, record_postings, records

THEME = "http://publications.europa.eu/resource/authority/data-theme/"
ENVI, AGRI, TRAN = THEME + "ENVI", THEME + "AGRI", THEME + "TRAN"
CSV = "http://publications.europa.eu/resource/authority/file-type/CSV"
_serial = itertools.count(1)


async def add(db: Database, title: str, **fields: Any) -> int:
    """Insert and index one record; return its seq."""
    n = next(_serial)
    row: dict[str, Any] = {
        "id": f"https://a.example/records/{n}",
        "kind": "Dataset",
        "slug": f"r{n}",
        "origin": "a.example",
        "actor": "https://a.example/actors/catalogue",
        "document": {"id": f"https://a.example/records/{n}", "name": title},
        "title": title,
        "description": "",
        "publisher": "https://a.example/actors/catalogue",
        "themes": [],
        "keywords": [],
        "formats": [],
        "mirrored": False,
        "published_at": 1000.0 + n,
        "updated_at": 1000.0 + n,
    }
    row.update(fields)
    if row["mirrored"]:
        row["slug"] = None
    async with db.transaction() as conn:
        seq = (
            await conn.execute(records.insert().values(row).returning(records.c.seq))
        ).scalar_one()
        await index_record(conn, db, seq)
    return int(seq)


async def titles(db: Database, **query: Any) -> list[str]:
    page = await search(db, SearchQuery(**query))
    return [item["title"] for item in page.items]


async def test_text_matches_every_word_best_in_title(db: Database) -> None:
    await add(db, "Qualité de l'eau", description="Mesures des rivières")
    await add(db, "Rivières du Morvan", description="Qualité de l'eau potable")
    await add(db, "Trafic routier", description="Comptages sur les routes")

    assert await titles(db, text="eau") == ["Qualité de l'eau", "Rivières du Morvan"]
    # Both words in the title of the second, one in the title of the first.
    assert await titles(db, text="rivières eau") == [
        "Rivières du Morvan",
        "Qualité de l'eau",
    ]
    assert await titles(db, text="eau trafic") == []
    # Without text, newest first.
    assert await titles(db) == [
        "Trafic routier",
        "Rivières du Morvan",
        "Qualité de l'eau",
    ]


async def test_diacritics_and_case_are_ignored(db: Database) -> None:
    await add(db, "Données ÉNERGÉTIQUES", keywords=["Éolien"])
    assert await titles(db, text="donnees energetiques") == ["Données ÉNERGÉTIQUES"]
    assert await titles(db, text="DONNÉES") == ["Données ÉNERGÉTIQUES"]
    # Keywords are searchable as text too.
    assert await titles(db, text="eolien") == ["Données ÉNERGÉTIQUES"]


async def test_facets_and_between_or_within(db: Database) -> None:
    await add(db, "A", themes=[ENVI], keywords=["Eau"], formats=[CSV])
    await add(db, "B", themes=[AGRI], keywords=["sol"], formats=["JSON"])
    await add(db, "C", themes=[ENVI, TRAN], keywords=["eau", "air"])

    assert await titles(db, themes=(ENVI,)) == ["C", "A"]
    assert await titles(db, themes=(AGRI, TRAN)) == ["C", "B"]
    assert await titles(db, themes=(ENVI,), keywords=("air",)) == ["C"]
    # Keywords are compared case-folded; an EU file-type IRI is its code.
    assert await titles(db, keywords=("EAU",)) == ["C", "A"]
    assert await titles(db, formats=("csv",)) == ["A"]
    assert await titles(db, formats=(CSV, "json")) == ["B", "A"]
    assert await titles(db, themes=(AGRI,), formats=("csv",)) == []
    assert await titles(db, themes=(THEME + "HEAL",)) == []
    # Empty values are no filter rather than a filter matching nothing.
    assert await titles(db, themes=("",)) == ["C", "B", "A"]


async def test_publisher_kind_and_mirrored(db: Database) -> None:
    await add(db, "Own dataset")
    await add(db, "Own service", kind="DataService")
    await add(
        db,
        "Mirrored dataset",
        mirrored=True,
        origin="b.example",
        publisher="https://b.example/actors/catalogue",
    )

    assert await titles(db, kind="DataService") == ["Own service"]
    assert await titles(db, include_mirrored=False, kind="Dataset") == ["Own dataset"]
    assert await titles(db, publisher="https://b.example/actors/catalogue") == [
        "Mirrored dataset"
    ]
    assert await titles(db, text="dataset") == ["Mirrored dataset", "Own dataset"]
    assert await titles(db, text="dataset", include_mirrored=False) == ["Own dataset"]
    assert await titles(db, kind="Catalog") == []


async def test_paging_and_total(db: Database) -> None:
    for n in range(25):
        await add(db, f"Relevé {n:02d}", themes=[ENVI])

    first = await search(db, SearchQuery(themes=(ENVI,), per_page=10))
    assert (first.total, first.page, first.per_page, first.pages) == (25, 1, 10, 3)
    assert [i["title"] for i in first.items][:2] == ["Relevé 24", "Relevé 23"]
    last = await search(db, SearchQuery(text="relevé", page=3, per_page=10))
    assert last.total == 25 and len(last.items) == 5
    assert last.items[-1]["title"] == "Relevé 00"
    beyond = await search(db, SearchQuery(text="relevé", page=4, per_page=10))
    assert beyond.items == [] and beyond.total == 25

    seen = []
    for page in (1, 2, 3):
        found = await search(db, SearchQuery(text="releve", page=page, per_page=10))
        seen += [item["seq"] for item in found.items]
    assert len(set(seen)) == 25

    clamped = await search(db, SearchQuery(page=0, per_page=10_000))
    assert (clamped.page, clamped.per_page) == (1, MAX_PER_PAGE)
    assert len(clamped.items) == 25


async def test_items_are_rows_without_document_unless_asked(db: Database) -> None:
    seq = await add(db, "Cadastre", themes=[ENVI], keywords=["parcelles"])
    [item] = (await search(db, SearchQuery(text="cadastre"))).items
    assert item["seq"] == seq and item["themes"] == [ENVI]
    assert item["mirrored"] is False and "document" not in item
    page = await search(db, SearchQuery(text="cadastre", with_documents=True))
    assert page.items[0]["document"]["name"] == "Cadastre"


async def test_deleted_records_never_match(db: Database) -> None:
    gone = await add(db, "Ancien recensement", themes=[ENVI])
    await add(db, "Nouveau recensement", themes=[ENVI])
    async with db.transaction() as conn:
        await conn.execute(
            update(records).where(records.c.seq == gone).values(deleted_at=2000.0)
        )
        await index_record(conn, db, gone)

    for query in ({"text": "recensement"}, {"themes": (ENVI,)}, {}):
        page = await search(db, SearchQuery(**query))
        assert [i["title"] for i in page.items] == ["Nouveau recensement"]
        assert page.total == 1
    async with db.read() as conn:
        left = await conn.execute(
            select(func.count()).where(record_index.c.record_seq == gone)
        )
        assert left.scalar_one() == 0


async def test_reindex_after_update_and_unindex(db: Database) -> None:
    seq = await add(db, "Horaires des bus", keywords=["bus"])
    async with db.transaction() as conn:
        await conn.execute(
            update(records)
            .where(records.c.seq == seq)
            .values(title="Horaires des trains", keywords=["train"])
        )
        await index_record(conn, db, seq)
    assert await titles(db, text="bus") == []
    assert await titles(db, keywords=("bus",)) == []
    assert await titles(db, text="trains", keywords=("train",)) == [
        "Horaires des trains"
    ]

    async with db.transaction() as conn:
        await unindex_record(conn, db, seq)
    assert await titles(db, text="trains") == []
    assert await titles(db) == []


async def test_a_removed_row_leaves_no_postings(db: Database) -> None:
    kept = await add(db, "Durable", themes=[ENVI])
    seq = await add(db, "Éphémère", themes=[ENVI, AGRI], keywords=["test"])
    async with db.transaction() as conn:
        await conn.execute(records.delete().where(records.c.seq == seq))
    # Not yet reindexed: counted, but left out of the page.
    page = await search(db, SearchQuery(themes=(ENVI,)))
    assert [i["title"] for i in page.items] == ["Durable"] and page.total == 2

    async with db.transaction() as conn:
        await index_record(conn, db, seq)
    page = await search(db, SearchQuery(themes=(ENVI,)))
    assert [i["title"] for i in page.items] == ["Durable"] and page.total == 1
    async with db.transaction() as conn:
        await unindex_record(conn, db, kept)
    async with db.read() as conn:
        for table in (record_postings, record_index):
            count = await conn.execute(select(func.count()).select_from(table))
            assert count.scalar_one() == 0


async def test_records_across_bitmap_blocks(db: Database) -> None:
    # Seqs far apart land in different posting rows.
    async with db.transaction() as conn:
        for seq in (1, 4095, 4096, 4097, 70_000):
            await conn.execute(
                records.insert().values(
                    seq=seq,
                    id=f"https://a.example/b/{seq}",
                    kind="Dataset",
                    origin="a.example",
                    actor="https://a.example/actors/catalogue",
                    document={},
                    title=f"Bloc {seq}",
                    themes=[],
                    keywords=[],
                    formats=[],
                    published_at=1.0,
                    updated_at=1.0,
                )
            )
    assert await reindex_all(db) == 5
    page = await search(db, SearchQuery(text="bloc", per_page=2, page=2))
    assert page.total == 5
    assert [i["seq"] for i in page.items] == [4096, 4095]
    last = await search(db, SearchQuery(text="bloc", per_page=2, page=3))
    assert [i["seq"] for i in last.items] == [1]


async def test_concurrent_indexing_loses_no_bits(db: Database) -> None:
    # Records in one posting block, indexed by transactions running at once.
    await asyncio.gather(
        *(add(db, f"Concurrent {n}", themes=[ENVI]) for n in range(12))
    )
    page = await search(db, SearchQuery(text="concurrent", themes=(ENVI,)))
    assert page.total == 12


HOSTILE = [
    "",
    "   ",
    '"',
    "'",
    "*",
    "!!! ??? ...",
    'eau" OR "1"="1',
    "eau' OR 1=1 --",
    "NEAR(eau trafic)",
    "eau AND NOT trafic",
    "eau*",
    "^eau",
    "title:eau",
    "%",
    "_",
    "\\",
    "\x00eau",
    "\ud800eau",
    "😀 🚰",
    "eau " * 500,
    "le la les de the of",
]


async def test_hostile_text_is_only_words(db: Database) -> None:
    water, traffic = "Qualité de l'eau", "Trafic routier"
    await add(db, water)
    await add(db, traffic)
    for text in HOSTILE:
        page = await search(db, SearchQuery(text=text))
        found = {item["title"] for item in page.items}
        assert found <= {water, traffic} and page.total == len(found)

    # Operators of query languages are words like any other, or stopwords.
    assert await titles(db, text='eau" OR "1"="1') == [water]
    assert await titles(db, text="eau' OR 1=1 --") == [water]
    assert await titles(db, text="eau*") == [water]
    assert await titles(db, text="NEAR(eau trafic)") == []
    # No word at all (punctuation, stopwords): no text condition.
    for text in ("", '"', "!!! ??? ...", "le la les de the of", "%", "\\"):
        assert await titles(db, text=text) == [traffic, water]


async def test_hostile_facet_values_match_nothing(db: Database) -> None:
    await add(db, "Qualité de l'eau", themes=[ENVI])
    for value in ('"', "' OR 1=1 --", "%", "\x00x", "\ud800", "x" * 5000):
        assert await titles(db, themes=(value,)) == []
        assert await titles(db, publisher=value) == []
        assert await titles(db, kind=value) == []


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=60), keyword=st.text(max_size=12))
async def test_any_text_never_raises(db: Database, text: str, keyword: str) -> None:
    page = await search(db, SearchQuery(text=text, keywords=(keyword,)))
    assert page.total >= 0 and len(page.items) <= page.per_page


def test_words_fold_case_and_diacritics() -> None:
    assert words("Données d'Île-de-France, 2024 — ÉTÉ") == [
        "donnees",
        "ile",
        "france",
        "2024",
        "ete",
    ]
    assert words("The state of the art") == ["state", "art"]
    assert words("!!!") == []
