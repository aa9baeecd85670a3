"""The open-data catalogue: our records, signed and published, and peers' mirrored.

Own records (datasets and service offers) are authored through the admin API,
the CLI or an import; each is built as one JSON-LD document that is both a
DCAT-AP 3 resource and an ActivityStreams Article (:mod:`protocol.dcat`),
signed with an ``eddsa-jcs-2022`` proof (FEP-8b32), stored, and sent to
followers as Create / Update / Delete — record, search terms, activity and
delivery jobs committed together.

Mirrored records arrive from the peers we follow: pushed (Create/Update) or
backfilled by walking their catalogue collection once our follow is accepted.
A mirrored record is kept exactly as signed, with its origin; one whose proof
does not verify with a key its own publisher lists is refused and logged.
Mirrored records are never republished (no harvest loops).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from federation.http import FetchError
from node.services import Node
from protocol import dcat
from protocol.errors import ProtocolError
from protocol.integrity import create_proof, verify_proof_with_key
from protocol.jsonld import as_list, first_id, get_str, parse_instant, types
from protocol.keys import PublicKey
from protocol.records import Dataset, RecordError, Service
from storage.jobs import Job
from storage.search import index_record, unindex_record
from storage.tables import records
from storage.worker import PermanentFailure

log = logging.getLogger("bocage.node.catalogue")

BACKFILL_QUEUE = "catalogue.backfill"
RECORD_TYPES = {"dcat:Dataset": "Dataset", "dcat:DataService": "DataService"}
_KIND_PATH = {"Dataset": "datasets", "DataService": "services"}
_MAX_BACKFILL_PAGES = 1000


class CatalogueError(RecordError):
    """A catalogue operation was refused (no such record, a mirrored one…)."""


@dataclass
class ImportSummary:
    """What an import did: created, updated, refused (with reasons)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def _iso(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC).replace(microsecond=0)


def _timestamp(value: Any) -> float | None:
    moment = parse_instant(value)
    return moment.timestamp() if moment is not None else None


def record_kind(document: dict[str, Any]) -> str | None:
    """Dataset or DataService for a record document, else None."""
    for name in types(document):
        if name in RECORD_TYPES:
            return RECORD_TYPES[name]
    return None


def _texts(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            found = value.get("@value") or value.get("id") or value.get("@id")
            if isinstance(found, str):
                out.append(found)
    return out


def derived_columns(document: dict[str, Any]) -> dict[str, Any]:
    """The searchable columns of a record, read from its document."""
    distributions = as_list(document.get("dcat:distribution"))
    formats = _texts(
        [d.get("dct:format") for d in distributions if isinstance(d, dict)]
        + [d.get("dcat:mediaType") for d in distributions if isinstance(d, dict)]
        + as_list(document.get("dct:format"))
    )
    publisher = document.get("dct:publisher")
    return {
        "title": str(document.get("name") or get_str(document, "dct:title") or ""),
        "description": str(document.get("summary") or ""),
        "publisher": first_id(publisher) or "",
        "themes": _texts(as_list(document.get("dcat:theme"))),
        "keywords": _texts(as_list(document.get("dcat:keyword"))),
        "formats": sorted(set(formats)),
    }


class Catalogue:
    """Our catalogue and our mirrors of the peers'."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fed = node.federation.fed
        self.service = node.federation
        self.username = node.config.node.username
        self.actor = self.fed.actor_iri(self.username)

    # --- addresses -----------------------------------------------------------

    def iri(self, kind: str, slug: str) -> str:
        return f"{self.fed.origin}/{_KIND_PATH[kind]}/{slug}"

    def file_url(self, sha256: str) -> str:
        return f"{self.fed.origin}/files/{sha256}"

    @property
    def collection(self) -> str:
        return f"{self.fed.origin}/catalogue"

    # --- authoring -----------------------------------------------------------

    async def put(self, record: Dataset | Service) -> tuple[dict[str, Any], bool]:
        """Create or replace one of our records; return (document, created)."""
        kind = "Dataset" if isinstance(record, Dataset) else "DataService"
        iri = self.iri(kind, record.slug)
        existing = await self._row(iri)
        if existing is not None and existing.mirrored:
            raise CatalogueError("slug", f"{iri} is a mirrored record")
        now = time.time()
        published = existing.published_at if existing is not None else now
        build: Callable[..., dict[str, Any]] = (
            dcat.dataset_record if kind == "Dataset" else dcat.service_record
        )
        document = build(
            record,
            iri=iri,
            actor=self.actor,
            actor_name=self.node.config.node.name,
            followers=f"{self.actor}/followers",
            html_url=iri,
            published=_iso(published),
            updated=_iso(now),
            file_url=self.file_url,
            default_language=self.node.config.node.language,
        )
        signed = create_proof(
            document,
            self.node.keys.ed25519,
            self.fed.ed25519_key_id(self.username),
            created=_iso(now),
        )
        created = existing is None or existing.deleted_at is not None
        activity, publish = self.service.outbox.prepare(
            self.username, "Create" if created else "Update", signed
        )
        row = {
            "kind": kind,
            "slug": record.slug,
            "origin": urlsplit(iri).netloc.lower(),
            "actor": self.actor,
            "document": signed,
            "mirrored": False,
            "published_at": published,
            "updated_at": now,
            "verified_at": now,
            "deleted_at": None,
            **derived_columns(signed),
        }

        async def write(conn: AsyncConnection) -> int:
            seq = await self._upsert(conn, iri, row)
            await index_record(conn, self.fed.db, seq)
            return await publish(conn)

        queued = await self.fed.writer.submit(write)
        self.service.outbox.published(activity, queued)
        self.node.enforcer.forget()  # an offer may have changed
        return signed, created

    async def delete(self, kind: str, slug: str) -> bool:
        """Withdraw one of our records: it answers 410 and followers get Delete."""
        iri = self.iri(kind, slug)
        existing = await self._row(iri)
        if existing is None or existing.mirrored or existing.deleted_at is not None:
            return False
        now = time.time()
        tombstone = {"id": iri, "type": "Tombstone", "formerType": f"dcat:{kind}"}
        activity, publish = self.service.outbox.prepare(
            self.username, "Delete", tombstone
        )

        async def write(conn: AsyncConnection) -> int:
            await conn.execute(
                update(records)
                .where(records.c.id == iri)
                .values(deleted_at=now, updated_at=now)
            )
            await unindex_record(conn, self.fed.db, existing.seq)
            return await publish(conn)

        queued = await self.fed.writer.submit(write)
        self.service.outbox.published(activity, queued)
        self.node.enforcer.forget()
        return True

    async def import_catalogue(
        self,
        data: bytes,
        media_type: str,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportSummary:
        """Import a DCAT catalogue; malformed input raises before anything is written.

        Each valid record is published like one authored by hand; records the
        parser refused are listed with their reason and nothing is written
        for them.
        """
        parsed = dcat.parse_catalogue(data, media_type)
        summary = ImportSummary(refused=[(r.subject, r.reason) for r in parsed.refused])
        items: list[Dataset | Service] = [*parsed.datasets, *parsed.services]
        for done, item in enumerate(items, 1):
            try:
                _, created = await self.put(item)
            except ProtocolError as exc:
                summary.refused.append((item.slug, str(exc)))
            else:
                (summary.created if created else summary.updated).append(item.slug)
            if progress is not None:
                progress(done, len(items))
        return summary

    # --- reading ---------------------------------------------------------------

    async def _row(self, iri: str) -> Any:
        async with self.fed.db.read() as conn:
            return (
                await conn.execute(select(records).where(records.c.id == iri))
            ).first()

    async def get(self, kind: str, slug: str) -> Any:
        return await self._row(self.iri(kind, slug))

    async def get_by_iri(self, iri: str) -> Any:
        return await self._row(iri)

    async def _upsert(
        self, conn: AsyncConnection, iri: str, row: dict[str, Any]
    ) -> int:
        stmt = self.fed.db.insert(records).values(id=iri, **row)
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=row)
        seq = (await conn.execute(stmt.returning(records.c.seq))).scalar_one()
        return int(seq)

    # --- mirroring ---------------------------------------------------------------

    async def _key(self, actor: str, key_id: str) -> PublicKey | None:
        known = await self.service.resolver.get(actor)
        key = known.keys.get(key_id)
        if key is None:
            known = await self.service.resolver.get(actor, refresh=True)
            key = known.keys.get(key_id)
        return key

    async def verify(self, document: dict[str, Any], publisher: str) -> None:
        """Check a peer's record: its proof, by a key its publisher lists.

        Raises :class:`CatalogueError` saying why it is refused.
        """
        if first_id(document.get("attributedTo")) != publisher:
            raise CatalogueError("attributedTo", "record not attributed to its sender")
        proof = document.get("proof")
        method = (
            first_id(proof.get("verificationMethod"))
            if isinstance(proof, dict)
            else None
        )
        if method is None:
            raise CatalogueError("proof", "record is not signed")
        try:
            key = await self._key(publisher, method)
        except FetchError as exc:
            raise CatalogueError(
                "proof", f"cannot fetch the publisher: {exc.reason}"
            ) from None
        if key is None:
            raise CatalogueError("proof", f"{method} is not a key of {publisher}")
        try:
            verify_proof_with_key(document, key)
        except ProtocolError as exc:
            raise CatalogueError("proof", str(exc)) from None

    async def mirror(self, document: dict[str, Any], publisher: str) -> bool:
        """Keep a verified copy of a peer's record; False if refused (logged)."""
        iri = get_str(document, "id")
        kind = record_kind(document)
        if iri is None or kind is None or self.fed.is_local(iri):
            return False
        if urlsplit(iri).netloc.lower() != urlsplit(publisher).netloc.lower():
            log.warning("refused record %s: not on its publisher's host", iri)
            return False
        try:
            await self.verify(document, publisher)
        except CatalogueError as exc:
            log.warning("refused record %s from %s: %s", iri, publisher, exc)
            return False
        now = time.time()
        published = _timestamp(document.get("published")) or now
        row = {
            "kind": kind,
            "slug": None,
            "origin": urlsplit(iri).netloc.lower(),
            "actor": publisher,
            "document": document,
            "mirrored": True,
            "published_at": published,
            "updated_at": now,
            "verified_at": now,
            "deleted_at": None,
            **derived_columns(document),
        }

        async def write(conn: AsyncConnection) -> None:
            current = (
                await conn.execute(
                    select(records.c.actor, records.c.mirrored).where(
                        records.c.id == iri
                    )
                )
            ).first()
            if current is not None and (
                not current.mirrored or current.actor != publisher
            ):
                return  # never let a peer overwrite our records or another's
            seq = await self._upsert(conn, iri, row)
            await index_record(conn, self.fed.db, seq)

        await self.fed.writer.submit(write)
        return True

    async def on_record(self, kind: str, document: dict[str, Any], actor: str) -> None:
        """Processor hook: a peer pushed a record in a Create or an Update."""
        await self.mirror(document, actor)

    async def on_delete(self, object_id: str, actor: str) -> None:
        """Processor hook: a peer withdrew a record; our copy is marked deleted."""
        now = time.time()

        async def write(conn: AsyncConnection) -> None:
            row = (
                await conn.execute(
                    select(records.c.seq).where(
                        records.c.id == object_id,
                        records.c.actor == actor,
                        records.c.mirrored,
                    )
                )
            ).first()
            if row is None:
                return
            await conn.execute(
                update(records)
                .where(records.c.seq == row.seq)
                .values(deleted_at=now, updated_at=now)
            )
            await unindex_record(conn, self.fed.db, row.seq)

        await self.fed.writer.submit(write)

    async def on_accepted(self, follower: str, followee: str) -> None:
        """Processor hook: a peer accepted our follow — backfill its catalogue."""
        if follower != self.actor:
            return
        await self.fed.jobs.enqueue(
            BACKFILL_QUEUE,
            {"actor": followee},
            dedupe_key=f"backfill {followee} {time.time():.0f}",
        )

    async def backfill(self, job: Job) -> None:
        """Job: walk a peer's catalogue collection, mirroring each verified record."""
        actor = str(job.payload["actor"])
        try:
            known = await self.service.resolver.get(actor, refresh=True)
            document = await self.service.resolver.fetch(known.id)
        except FetchError as exc:
            if exc.status in (404, 410):
                raise PermanentFailure(f"{actor} is gone") from None
            raise
        catalogues = [
            url
            for url in (first_id(s) for s in as_list(document.get("streams")))
            if url is not None and url.endswith("/catalogue")
        ]
        if not catalogues:
            log.info("%s publishes no catalogue; nothing to backfill", actor)
            return
        mirrored = refused = 0
        collection = await self.service.resolver.fetch(catalogues[0])
        page_url = first_id(collection.get("first"))
        for _ in range(_MAX_BACKFILL_PAGES):
            if page_url is None:
                break
            page = await self.service.resolver.fetch(page_url)
            for item in as_list(page.get("orderedItems")):
                if isinstance(item, dict) and await self.mirror(item, actor):
                    mirrored += 1
                else:
                    refused += 1
            page_url = first_id(page.get("next"))
        log.info("backfilled %d records from %s (%d refused)", mirrored, actor, refused)


def record_to_public(row: Any) -> dict[str, Any]:
    """A search hit as the public API shows it, with its provenance."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "title": row["title"],
        "description": row["description"],
        "publisher": row["publisher"],
        "themes": row["themes"],
        "keywords": row["keywords"],
        "formats": row["formats"],
        "origin": row["origin"],
        "mirrored": bool(row["mirrored"]),
        "verified_at": row["verified_at"],
    }
