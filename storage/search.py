"""Search over catalogue records, own and mirrored: words, facets, paging.

A record is indexed under terms, (field, value) pairs:

========= ===================================================================
field     value
========= ===================================================================
word      a word of the title, description or keywords (see :func:`words`)
title     a word of the title (only used to rank)
theme     a theme IRI, as written
keyword   a keyword, case-folded, inner spaces collapsed
format    a format, case-folded; an EU file-type IRI becomes its code (csv)
publisher the publisher, as written
kind      Dataset or DataService
scope     ``own`` or ``mirrored``
all       ``""``: every live record, for searches with no condition
========= ===================================================================

Each term has a posting: the set of record seqs having it, stored as bitmaps of
4096 seqs (``record_postings``).  A search reads the postings of its
conditions, one query, and does the rest on Python integers used as bit sets:
facets are ANDed, several values of one facet ORed, every word of the text must
be present; the total is a bit count and a page the next highest bits.  With
text, records with more of its words in the title come first.  The cost is that
of reading a few kilobytes per condition, whatever the number of matches;
SQLite FTS5 or a PostgreSQL tsvector would cost as much as probing each match.

Words are cut and folded here, in Python: both backends find exactly the same
records, the schema is plain tables (which the migration drift test checks),
and user input is never parsed by a query language — it only becomes bound
values.  Not done: phrase search, stemming, prefix matching ("donn" does not
find "données"), typo tolerance.

Indexing is a read-modify-write of bitmaps: on PostgreSQL it takes a
transaction-level advisory lock, so two indexing transactions never lose each
other's bits; on SQLite the writer's BEGIN IMMEDIATE already serialises them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import record_index, record_postings, records

MAX_PER_PAGE = 100
# Bounds on what one query may ask, so a hostile one stays cheap.
MAX_TEXT_CHARS = 1000
MAX_TEXT_WORDS = 8
MAX_FACET_VALUES = 50
MAX_WORD_CHARS = 64
MAX_VALUE_CHARS = 512  # record_postings.value

WORD = "word"
TITLE = "title"
THEME = "theme"
KEYWORD = "keyword"
FORMAT = "format"
PUBLISHER = "publisher"
KIND = "kind"
SCOPE = "scope"
ALL = "all"
OWN = "own"
MIRRORED = "mirrored"

_INDEX_BATCH = 2000  # records per read of rows
_KEYS_PER_QUERY = 300  # posting rows per read or delete (3 parameters each)
_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
_WORD_RE = re.compile(r"[^\W_]+")

# Words too common to tell records apart, in French and English, unaccented.
_STOPWORDS = """
    au aux avec ce ces dans de des du elle en et est il ils la le les leur lui
    mais on ou par pas pour qui que sa se ses son sont sur un une vos votre
    nos notre cette cet ne ni aussi tres plus
    an and are as at be by for from has in is it its of on or that the this
    to was were which with will not but all can into our your their
"""
STOPWORDS = frozenset(_STOPWORDS.split())

_ROW_COLUMNS = [column for column in records.c if column.key != "document"]
_Condition = tuple[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for; every part is optional and the parts are ANDed.

    ``themes``, ``keywords`` and ``formats`` match records having any of the
    values given.  ``include_mirrored=False`` keeps only this node's own
    records.  ``page`` counts from 1; ``per_page`` is capped at 100.
    """

    text: str = ""
    themes: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    publisher: str = ""
    kind: str | None = None
    include_mirrored: bool = True
    page: int = 1
    per_page: int = 20
    with_documents: bool = False


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results: rows of ``records`` (``document`` only if asked)."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)


# --- what is indexed ---------------------------------------------------------


def words(text: str) -> list[str]:
    """The searchable words of ``text``, in order, repeats included.

    Case-folded and without diacritics ("Données" → "donnees"); split on
    anything that is not a letter or a digit; one-letter words and
    :data:`STOPWORDS` dropped; cut at 64 characters.
    """
    folded = text.casefold()
    if not folded.isascii():
        folded = "".join(
            char
            for char in unicodedata.normalize("NFKD", folded)
            if not unicodedata.combining(char)
        )
    return [
        word[:MAX_WORD_CHARS]
        for word in _WORD_RE.findall(folded)
        if len(word) > 1 and word not in STOPWORDS
    ]


def _storable(value: str) -> str:
    """``value`` as both backends can store and compare it, cut to size.

    PostgreSQL rejects NUL in text, and neither driver encodes a lone
    surrogate; such characters cannot be in an indexed value anyway.
    """
    value = value.replace("\x00", "")
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:MAX_VALUE_CHARS]


def normalize_theme(value: str) -> str:
    return _storable(value.strip())


def normalize_keyword(value: str) -> str:
    return _storable(" ".join(value.split()).casefold())


def normalize_format(value: str) -> str:
    value = value.strip()
    if value.startswith(_FILE_TYPE):
        value = value[len(_FILE_TYPE) :]
    return _storable(value.casefold())


def normalize_publisher(value: str) -> str:
    return _storable(value.strip())


def normalize_kind(value: str) -> str:
    return _storable(value)


def _strings(value: Any) -> list[str]:
    # JSON columns hold lists of strings; anything else is ignored, not indexed.
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def terms_of_record(row: Mapping[Any, Any]) -> set[tuple[str, str]]:
    """The (field, value) terms of one ``records`` row; none once deleted."""
    if row["deleted_at"] is not None:
        return set()
    terms = {
        (ALL, ""),
        (KIND, normalize_kind(row["kind"])),
        (SCOPE, MIRRORED if row["mirrored"] else OWN),
    }
    publisher = normalize_publisher(row["publisher"] or "")
    if publisher:
        terms.add((PUBLISHER, publisher))
    for field, normalize, values in (
        (THEME, normalize_theme, _strings(row["themes"])),
        (KEYWORD, normalize_keyword, _strings(row["keywords"])),
        (FORMAT, normalize_format, _strings(row["formats"])),
    ):
        terms.update((field, v) for v in map(normalize, values) if v)
    title = words(row["title"] or "")
    terms.update((TITLE, word) for word in title)
    terms.update((WORD, word) for word in title)
    terms.update((WORD, word) for word in words(row["description"] or ""))
    for keyword in _strings(row["keywords"]):
        terms.update((WORD, word) for word in words(keyword))
    return terms


# --- indexing ----------------------------------------------------------------

# Seqs per bitmap row (at most 512 bytes); stored data depends on it: changing
# it needs a migration that empties both tables and a reindex_all.
BLOCK = 4096
_BLOCK_MASK = (1 << BLOCK) - 1
# Any constant works; the same in every Bocage process.
_PG_INDEX_LOCK = 0x626F63616765 + 4
_Key = tuple[str, str, int]


def _to_bytes(bits: int) -> bytes:
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def _terms_json(terms: set[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for field, value in sorted(terms):
        grouped.setdefault(field, []).append(value)
    return grouped


def _terms_from_json(stored: Any) -> set[tuple[str, str]]:
    if not isinstance(stored, dict):
        return set()
    return {
        (field, value) for field, values in stored.items() for value in _strings(values)
    }


async def _lock_index(conn: AsyncConnection, db: Database) -> None:
    # Held until the transaction ends: the bitmaps read here are the ones
    # overwritten later, so no other transaction may change them in between.
    if db.dialect == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_INDEX_LOCK}
        )


async def index_records(
    conn: AsyncConnection, db: Database, seqs: Iterable[int]
) -> int:
    """(Re)index these records from their rows; return how many are indexed.

    Run it in the transaction that wrote the rows.  A missing (hard-deleted)
    or soft-deleted record is removed from the index.
    """
    wanted = sorted(set(seqs))
    if not wanted:
        return 0
    await _lock_index(conn, db)
    indexed = 0
    for start in range(0, len(wanted), _INDEX_BATCH):
        indexed += await _index_batch(conn, db, wanted[start : start + _INDEX_BATCH])
    return indexed


async def _index_batch(conn: AsyncConnection, db: Database, seqs: list[int]) -> int:
    rows = await conn.execute(select(*_ROW_COLUMNS).where(records.c.seq.in_(seqs)))
    new = {row["seq"]: terms_of_record(row) for row in rows.mappings()}
    stored = await conn.execute(
        select(record_index).where(record_index.c.record_seq.in_(seqs))
    )
    old = {row.record_seq: _terms_from_json(row.terms) for row in stored}

    # For each posting block touched: the bits to set and the bits to clear.
    changes: dict[_Key, list[int]] = {}
    changed = []
    for seq in seqs:
        before, after = old.get(seq, set()), new.get(seq, set())
        if before == after:
            continue
        changed.append(seq)
        block, bit = divmod(seq, BLOCK)
        for field, value in after - before:
            changes.setdefault((field, value, block), [0, 0])[0] |= 1 << bit
        for field, value in before - after:
            changes.setdefault((field, value, block), [0, 0])[1] |= 1 << bit
    await _apply(conn, db, changes)

    gone = [seq for seq in changed if seq in old]
    if gone:
        await conn.execute(
            delete(record_index).where(record_index.c.record_seq.in_(gone))
        )
    entries = [
        {"record_seq": seq, "terms": _terms_json(new[seq])}
        for seq in changed
        if new.get(seq)
    ]
    if entries:
        await conn.execute(insert(record_index), entries)
    return sum(1 for terms in new.values() if terms)


async def _apply(
    conn: AsyncConnection, db: Database, changes: dict[_Key, list[int]]
) -> None:
    """Set and clear bits in the posting rows named by ``changes``."""
    keys = list(changes)
    p = record_postings.c
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        current = await conn.execute(
            select(p.field, p.value, p.block, p.bits).where(
                tuple_(p.field, p.value, p.block).in_(chunk)
            )
        )
        bits = {
            (row.field, row.value, row.block): int.from_bytes(row.bits, "little")
            for row in current
        }
        upserts, empties = [], []
        for key in chunk:
            add, remove = changes[key]
            updated = (bits.get(key, 0) | add) & ~remove
            if updated:
                field, value, block = key
                upserts.append(
                    {
                        "field": field,
                        "value": value,
                        "block": block,
                        "bits": _to_bytes(updated),
                    }
                )
            elif key in bits:
                empties.append(key)
        if upserts:
            statement = db.insert(record_postings)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[p.field, p.value, p.block],
                    set_={"bits": statement.excluded.bits},
                ),
                upserts,
            )
        if empties:
            await conn.execute(
                delete(record_postings).where(
                    tuple_(p.field, p.value, p.block).in_(empties)
                )
            )


async def index_record(conn: AsyncConnection, db: Database, seq: int) -> None:
    """(Re)index one record; call after inserting, updating or deleting it."""
    await index_records(conn, db, [seq])


async def unindex_record(conn: AsyncConnection, db: Database, seq: int) -> None:
    """Remove one record from the index, whatever its row says."""
    await _lock_index(conn, db)
    stored = await conn.execute(
        select(record_index.c.terms).where(record_index.c.record_seq == seq)
    )
    terms = _terms_from_json(stored.scalar())
    block, bit = divmod(seq, BLOCK)
    await _apply(conn, db, {(f, v, block): [0, 1 << bit] for f, v in terms})
    await conn.execute(delete(record_index).where(record_index.c.record_seq == seq))


async def reindex_all(db: Database, *, batch: int = 5000) -> int:
    """Index every record, ``batch`` seqs per transaction; return how many."""
    async with db.read() as conn:
        top = (await conn.execute(select(func.max(records.c.seq)))).scalar()
        stale = (
            await conn.execute(select(func.max(record_index.c.record_seq)))
        ).scalar()
    last = max(top or 0, stale or 0)
    indexed = 0
    for start in range(1, last + 1, batch):
        async with db.transaction() as conn:
            indexed += await index_records(conn, db, range(start, start + batch))
    return indexed


# --- searching ---------------------------------------------------------------


def _values(raw: Iterable[str], normalize: Callable[[str], str]) -> tuple[str, ...]:
    cleaned = {normalize(value) for value in raw if isinstance(value, str)}
    cleaned.discard("")
    return tuple(sorted(cleaned))[:MAX_FACET_VALUES]


def query_words(text: str) -> tuple[str, ...]:
    """The distinct words of a query's text, at most :data:`MAX_TEXT_WORDS`."""
    unique = dict.fromkeys(words(text[:MAX_TEXT_CHARS]))
    return tuple(unique)[:MAX_TEXT_WORDS]


def _conditions(query: SearchQuery, text_words: tuple[str, ...]) -> list[_Condition]:
    conditions: list[_Condition] = [(WORD, (word,)) for word in text_words]
    for field, normalize, raw in (
        (THEME, normalize_theme, query.themes),
        (KEYWORD, normalize_keyword, query.keywords),
        (FORMAT, normalize_format, query.formats),
        (PUBLISHER, normalize_publisher, (query.publisher,)),
    ):
        values = _values(raw, normalize)
        if values:
            conditions.append((field, values))
    if query.kind is not None:
        conditions.append((KIND, (normalize_kind(query.kind),)))
    if not query.include_mirrored:
        conditions.append((SCOPE, (OWN,)))
    return conditions or [(ALL, ("",))]


async def _postings(
    conn: AsyncConnection, terms: Sequence[_Condition]
) -> dict[tuple[str, str], int]:
    """The bit set of every (field, value) named, absent ones left out."""
    p = record_postings.c
    wanted = or_(*(and_(p.field == f, p.value.in_(values)) for f, values in terms))
    result = await conn.execute(select(p.field, p.value, p.block, p.bits).where(wanted))
    sets: dict[tuple[str, str], int] = {}
    for field, value, block, bits in result:
        key = (field, value)
        sets[key] = sets.get(key, 0) | int.from_bytes(bits, "little") << (block * BLOCK)
    return sets


def _descending(bits: int, skip: int, take: int, out: list[int]) -> int:
    """Append to ``out`` the seqs of ``bits`` from the highest, after skipping
    ``skip`` of them, until ``out`` holds ``take``; return what is left to skip.
    """
    for start in range((bits.bit_length() - 1) // BLOCK * BLOCK, -1, -BLOCK):
        chunk = (bits >> start) & _BLOCK_MASK
        count = chunk.bit_count()
        if skip >= count:
            skip -= count
            continue
        while chunk and len(out) < take:
            high = chunk.bit_length() - 1
            chunk ^= 1 << high
            if skip:
                skip -= 1
            else:
                out.append(start + high)
        if len(out) >= take:
            break
    return skip


def _tiers(matches: int, title_sets: list[int]) -> list[int]:
    """``matches`` split by how many of ``title_sets`` hold each record, most
    first.  The count is kept per record in bit-sliced counters."""
    width = max(1, len(title_sets).bit_length())
    counters = [0] * width
    for title in title_sets:
        carry = title & matches
        for j in range(width):
            counters[j], carry = counters[j] ^ carry, counters[j] & carry
    tiers = []
    for score in range(len(title_sets), -1, -1):
        tier = matches
        for j, counter in enumerate(counters):
            tier &= counter if score >> j & 1 else ~counter
        tiers.append(tier)
    return tiers


async def search(db: Database, query: SearchQuery) -> SearchPage:
    """Find live records matching ``query``; one page of them and the total."""
    page = max(1, query.page)
    per_page = min(max(1, query.per_page), MAX_PER_PAGE)
    text_words = query_words(query.text)
    conditions = _conditions(query, text_words)
    titles: list[_Condition] = [(TITLE, (word,)) for word in text_words]

    async with db.read() as conn:
        sets = await _postings(conn, conditions + titles)
        matches = -1
        for field, values in conditions:
            union = 0
            for value in values:
                union |= sets.get((field, value), 0)
            matches &= union
        total = matches.bit_count()

        seqs: list[int] = []
        skip = (page - 1) * per_page
        if text_words:
            ranked = _tiers(
                matches, [sets.get((TITLE, word), 0) for word in text_words]
            )
        else:
            ranked = [matches]
        for tier in ranked:
            if len(seqs) >= per_page:
                break
            skip = _descending(tier, skip, per_page, seqs)
        if not seqs:
            return SearchPage([], total, page, per_page)

        columns = list(records.c) if query.with_documents else _ROW_COLUMNS
        result = await conn.execute(
            select(*columns).where(
                records.c.seq.in_(seqs), records.c.deleted_at.is_(None)
            )
        )
        rows = {row["seq"]: dict(row) for row in result.mappings()}
    # A record deleted but not yet reindexed is left out of the page.
    items = [rows[s] for s in seqs if s in rows]
    return SearchPage(items, total, page, per_page)
