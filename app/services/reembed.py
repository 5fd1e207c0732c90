"""Re-embed every indexed document with the configured embedder, as a new index generation
per document, all made live in one transaction (`enclave reembed`, after `enclave tune`).

The embedder is global: query and document vectors must come from the same model, so every
collection is re-embedded, not one. Each document's chunks are read from the index and written
again under a new generation (a job of kind "reembed", pending: hidden from every search) with
the new dense vectors and the same text and BM25 vectors; its original is copied to the new
generation. Only when every document is written are the new generations made live and the old
ones retired, in one transaction: searches see the old index or the new one, never a mix. The
worker's sweep deletes the retired points after their grace period (the command does it at
once). A failure retires the new generations instead, and the old index stays as it was; so
does the next run for those a killed run left pending. A run starts over: it is not resumable.
The swap also records the new embedder as the index's (`app.index_embedder`): from then on,
processes configured with the old one refuse to search or ingest.
The new model must have the index's vector size (a tuned MiniLM does); otherwise re-ingest
into a fresh data directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app import index_embedder
from app.db.models import Document, Job, utcnow
from app.db.session import transaction
from app.originals import Originals
from ingestion.pipeline import chunk_id, index_points
from retrieval.bm25 import BM25Encoder
from retrieval.errors import RetrievalError
from retrieval.protocols import Embedder, VectorStore
from retrieval.types import Scope

KIND = "reembed"


@dataclass(frozen=True)
class _Live:
    document: str
    collection: str
    chunks: int
    generation: str


def live_documents(sessions: sessionmaker[Session]) -> list[_Live]:
    with sessions() as db:
        rows = db.execute(
            select(Document.id, Document.collection_id, Document.chunks_total, Job.id)
            .join(Job, Job.document_id == Document.id)
            .where(Job.index_state == "live")
            .order_by(Document.id)
        ).all()
    return [_Live(*row) for row in rows]


def reembed_all(
    *,
    sessions: sessionmaker[Session],
    store: VectorStore,
    embedder: Embedder,
    bm25: BM25Encoder,
    originals: Originals,
    index_key: str,
    batch_size: int = 32,
    on_document: Callable[[int], None] = lambda chunks: None,
) -> dict[str, str]:
    """Re-embed every live document; returns {old generation: new generation}. Generations an
    interrupted run left pending are retired first (the sweep deletes their points).
    `index_key`: the index's embedder record (`Runtime.index_key`)."""
    with sessions() as db:
        left = db.scalars(select(Job.id).where(Job.kind == KIND, Job.index_state == "pending"))
        _retire(sessions, list(left))
    swaps: dict[str, str] = {}
    try:
        for live in live_documents(sessions):
            swaps[live.generation] = _new_generation(sessions, live.document)
            _write(live, swaps[live.generation], store, embedder, bm25, originals, batch_size)
            on_document(live.chunks)
    except BaseException:
        _retire(sessions, list(swaps.values()))
        raise
    _swap(sessions, swaps, embedder, index_key)
    return swaps


def _new_generation(sessions: sessionmaker[Session], document: str) -> str:
    with transaction(sessions) as db:
        job = Job(document_id=document, kind=KIND, state="done", index_state="pending")
        db.add(job)
        db.flush()
        return job.id


def _swap(
    sessions: sessionmaker[Session], swaps: dict[str, str], embedder: Embedder, index_key: str
) -> None:
    """In one transaction: each new generation live and its old one retired, where the old one
    is still live (a document replaced or erased meanwhile keeps its newer state), and
    `embedder` recorded as the index's (`app.index_embedder`)."""
    now = utcnow()
    with transaction(sessions) as db:
        still = set(db.scalars(select(Job.id).where(Job.id.in_(swaps), Job.index_state == "live")))
        fresh = [swaps[old] for old in still]
        stale = [new for old, new in swaps.items() if old not in still]
        db.execute(update(Job).where(Job.id.in_(fresh)).values(index_state="live"))
        retire = [*still, *stale]
        db.execute(
            update(Job).where(Job.id.in_(retire)).values(index_state="retired", retired_at=now)
        )
        index_embedder.record(db, embedder, index_key)


def _write(
    live: _Live,
    generation: str,
    store: VectorStore,
    embedder: Embedder,
    bm25: BM25Encoder,
    originals: Originals,
    batch_size: int,
) -> None:
    """One document's chunks, re-embedded, under the pending `generation`."""
    ids = [chunk_id(live.document, live.generation, p) for p in range(live.chunks)]
    chunks = store.get(scope=Scope.of([live.collection]), ids=ids) if ids else []
    if len(chunks) != live.chunks:
        found = f"{len(chunks)} of its {live.chunks} chunks"
        raise RetrievalError(f"document {live.document}: only {found} are in the index")
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        moved = [
            replace(c, id=chunk_id(live.document, generation, c.position), generation=generation)
            for c in batch
        ]
        store.upsert(index_points(moved, embedder, bm25))
    if originals.exists(live.generation):
        shutil.copyfile(originals.path(live.generation), originals.path(generation))


def _retire(sessions: sessionmaker[Session], generations: list[str]) -> None:
    with transaction(sessions) as db:
        db.execute(
            update(Job)
            .where(Job.id.in_(generations), Job.index_state == "pending")
            .values(index_state="retired", retired_at=utcnow())
        )
