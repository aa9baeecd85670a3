"""Measure record search on 100,000 synthetic catalogue records.

Run: ``.venv/bin/python bench/bench_search.py`` (SQLite in a temporary
directory; about a minute, most of it building) or ``--quick`` (10,000 records,
about 100 queries, a few seconds).  ``--postgres URL`` runs the same on a
PostgreSQL server: a database of its own is created there and dropped after.

Records are drawn from a small French/English vocabulary (titles of 3 to 7
words, descriptions of 12 to 30, with a skew so some words are in nearly half of
the records, as "données" would be), 1 to 3 EU data themes, 2 to 6 keywords,
1 to 3 EU file types, and publishers on 50 nodes (node 0 is ours, the other
records are mirrored); 20% are DataService, 1% deleted.  They are inserted in
bulk, then indexed with ``index_records``.  The queries mix text only, facets
only, text with facets, and deep pages (20 to 200), and the timings are of
``search()`` as the web layer calls it, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage.database import Database  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.search import (  # noqa: E402
    SearchQuery,
    index_record,
    index_records,
    search,
)
from storage.tables import record_postings, records  # noqa: E402

_VOCABULARY = """
données eau qualité rivière pollution air mesure station capteur relevé
température précipitations climat météo vent énergie électricité consommation
production solaire éolien photovoltaïque réseau chaleur bâtiment logement
commune département région territoire parcelle cadastre urbanisme plan zone
route trafic comptage vélo piéton bus train gare horaire ligne arrêt transport
mobilité stationnement école collège lycée élève enseignement cantine santé
hôpital médecin pharmacie population recensement âge ménage emploi chômage
entreprise commerce marché agriculture culture récolte élevage forêt arbre
biodiversité espèce faune flore oiseau déchet collecte tri recyclage budget
subvention dépense recette marché public élection bureau vote conseil
délibération association culture musée bibliothèque patrimoine monument
tourisme hébergement camping randonnée sentier cartographie limite adresse
bâti risque inondation sécheresse incendie bruit nuisance sol géologie eau
potable assainissement captage nappe forage irrigation coopérative producteur
circuit court alimentation restauration collective énergie renouvelable
open data dataset water quality river pollution air measurement sensor
temperature rainfall climate weather wind energy electricity consumption
solar network building housing municipality district region land parcel
planning zone road traffic count bicycle bus train station timetable route
transport mobility parking school student education health hospital doctor
population census household employment business market farming harvest
livestock forest tree biodiversity species bird waste collection recycling
budget grant spending procurement election council association museum library
heritage tourism hiking trail map boundary address risk flood drought fire
noise soil groundwater irrigation cooperative food supply service api
"""
WORDS = _VOCABULARY.split()

# The EU data themes and some EU file types (publications.europa.eu authority).
_THEME_CODES = "AGRI ECON EDUC ENER ENVI GOVE HEAL INTR JUST REGI SOCI TECH TRAN"
_FILE_TYPE_CODES = "CSV JSON XLSX PDF GEOJSON SHP XML ZIP ODS GPKG"
THEMES = [
    "http://publications.europa.eu/resource/authority/data-theme/" + code
    for code in _THEME_CODES.split()
]
FILE_TYPES = [
    "http://publications.europa.eu/resource/authority/file-type/" + code
    for code in _FILE_TYPE_CODES.split()
]
KEYWORDS = [
    *sorted(set(WORDS))[:120],
    "open data",
    "temps réel",
    "séries temporelles",
    "Île-de-France",
    "Bourgogne",
    "Occitanie",
]
NODES = [f"node{n:02d}.example" for n in range(50)]


def skewed(rng: random.Random, population: list[str], k: int) -> list[str]:
    # rank r has weight r^-0.5: the first words reach ~45% of the records.
    weights = [1 / (rank + 1) ** 0.5 for rank in range(len(population))]
    return rng.choices(population, weights, k=k)


def make_record(rng: random.Random, n: int) -> dict[str, Any]:
    node = rng.choice(NODES)
    own = node == NODES[0]
    title = " ".join(skewed(rng, WORDS, rng.randint(3, 7))).capitalize()
    publisher = f"https://{node}/actors/{rng.choice(['catalogue', 'mairie', 'coop'])}"
    iri = f"https://{node}/records/{n}"
    return {
        "id": iri,
        "kind": "DataService" if rng.random() < 0.2 else "Dataset",
        "slug": f"record-{n}" if own else None,
        "origin": node,
        "actor": publisher,
        "document": {"id": iri, "type": "Dataset", "title": title},
        "title": title,
        "description": " ".join(skewed(rng, WORDS, rng.randint(12, 30))) + ".",
        "publisher": publisher,
        "themes": rng.sample(THEMES, rng.choice([1, 1, 2, 3])),
        "keywords": rng.sample(KEYWORDS, rng.randint(2, 6)),
        "formats": rng.sample(FILE_TYPES, rng.choice([1, 1, 2, 3])),
        "mirrored": not own,
        "published_at": 1.7e9 + n,
        "updated_at": 1.7e9 + n,
        "deleted_at": 1.8e9 if rng.random() < 0.01 else None,
    }


async def build(db: Database, count: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    started = time.perf_counter()
    batch = 5000
    for start in range(0, count, batch):
        rows = [make_record(rng, n) for n in range(start, min(count, start + batch))]
        async with db.transaction() as conn:
            await conn.execute(records.insert(), rows)
    inserted = time.perf_counter()
    live = 0
    for start in range(1, count + 1, batch):
        async with db.transaction() as conn:
            live += await index_records(conn, db, range(start, start + batch))
    indexed = time.perf_counter()
    return {
        "insert_s": inserted - started,
        "index_s": indexed - inserted,
        "indexed": live,
    }


def make_queries(rng: random.Random, count: int) -> list[tuple[str, SearchQuery]]:
    vocabulary = sorted(set(WORDS))

    def text(k: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(k))

    def facets() -> dict[str, Any]:
        choice = rng.randrange(6)
        if choice == 0:
            return {"themes": (rng.choice(THEMES),)}
        if choice == 1:
            return {
                "themes": tuple(rng.sample(THEMES, 2)),
                "formats": (rng.choice(FILE_TYPES),),
            }
        if choice == 2:
            return {"keywords": (rng.choice(KEYWORDS),)}
        if choice == 3:
            return {"publisher": f"https://{rng.choice(NODES)}/actors/coop"}
        if choice == 4:
            return {"kind": "DataService", "themes": (rng.choice(THEMES),)}
        return {"include_mirrored": False, "formats": ("csv",)}

    queries: list[tuple[str, SearchQuery]] = []
    for n in range(count):
        kind = ("text", "facet", "text+facet", "deep page")[n % 4]
        if kind == "text":
            query = SearchQuery(text=text(rng.choice([1, 1, 2, 2, 3])))
        elif kind == "facet":
            query = SearchQuery(**facets())
        elif kind == "text+facet":
            query = SearchQuery(text=text(rng.choice([1, 2])), **facets())
        else:
            base = rng.choice([{}, {"text": text(1)}, facets()])
            query = SearchQuery(**base, page=rng.randint(20, 200))
        queries.append((kind, query))
    return queries


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"p50 {cuts[49]:6.2f}  p95 {cuts[94]:6.2f}  p99 {cuts[98]:6.2f}"
        f"  max {max(values):6.2f}  (n={len(values)})"
    )


async def time_updates(
    db: Database, rng: random.Random, count: int, updates: int
) -> None:
    """Rewrite and reindex single records, each in its own transaction."""
    timings = []
    for _ in range(updates):
        seq = rng.randint(1, count)
        fresh = make_record(rng, seq - 1)
        del fresh["id"], fresh["slug"]
        started = time.perf_counter()
        async with db.transaction() as conn:
            await conn.execute(
                records.update().where(records.c.seq == seq).values(fresh)
            )
            await index_record(conn, db, seq)
        timings.append((time.perf_counter() - started) * 1000)
    print(f"  {'update':<11} {percentiles(timings)}  (one record + reindex)")


async def report_sizes(db: Database) -> None:
    """The search tables' rows and sizes, beside the records'."""
    async with db.read() as conn:
        postings = (
            await conn.execute(
                select(func.count(), func.sum(func.length(record_postings.c.bits)))
            )
        ).one()
        if db.is_sqlite:
            sizes = await conn.execute(
                text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
            )
        else:
            sizes = await conn.execute(
                text(
                    "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                    " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
                )
            )
        by_table = {name: size for name, size in sizes}
    print(f"postings: {postings[0]:,} rows, {postings[1] / 1e6:.1f} MB of bitmaps")
    print(
        "on disk (MB): "
        + ", ".join(
            f"{name} {by_table.get(name, 0) / 1e6:.0f}"
            for name in ("records", "record_postings", "record_index")
        )
    )


async def run(url: str, count: int, queries: int, seed: int) -> None:
    db = Database(url)
    try:
        await migrate(db)
        built = await build(db, count, seed)
        print(
            f"{count:,} records: insert {built['insert_s']:.1f} s, "
            f"index {built['index_s']:.1f} s ({built['indexed']:,.0f} live)"
        )
        await report_sizes(db)

        rng = random.Random(seed + 1)
        mix = make_queries(rng, queries)
        for _, query in mix[:20]:  # warm the page cache and statement caches
            await search(db, query)
        timings: dict[str, list[float]] = {}
        hits = 0
        for kind, query in mix:
            started = time.perf_counter()
            page = await search(db, query)
            elapsed = (time.perf_counter() - started) * 1000
            timings.setdefault(kind, []).append(elapsed)
            hits += page.total
        print(f"{queries} queries, {hits / queries:,.0f} matches on average (ms):")
        for kind, values in timings.items():
            print(f"  {kind:<11} {percentiles(values)}")
        everything = [value for values in timings.values() for value in values]
        print(f"  {'overall':<11} {percentiles(everything)}")
        await time_updates(db, rng, count, max(20, queries // 5))
    finally:
        await db.close()


async def run_postgres(server_url: str, count: int, queries: int, seed: int) -> None:
    plain = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"bocage_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = plain.rpartition("/")[0]
    try:
        url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
        await run(url, count, queries, seed)
    finally:
        admin = await asyncpg.connect(plain)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records")
    parser.add_argument("--records", type=int, help="how many records")
    parser.add_argument("--queries", type=int, help="how many queries")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    count = args.records or (10_000 if args.quick else 100_000)
    queries = args.queries or (100 if args.quick else 500)
    if args.postgres:
        print(f"PostgreSQL, {count:,} records")
        asyncio.run(run_postgres(args.postgres, count, queries, args.seed))
        return
    print(f"SQLite, {count:,} records")
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/bench.sqlite"
        asyncio.run(run(url, count, queries, args.seed))


if __name__ == "__main__":
    main()
