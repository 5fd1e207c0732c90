"""One document through parse → chunk → embed (dense + BM25) → index, reporting its stages."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ingestion.chunker import Chunker
from ingestion.names import chunk_names
from ingestion.parsers import parse
from ingestion.sandbox import ParserSandbox
from ingestion.settings import IngestionSettings
from retrieval.bm25 import NAMES_AVG_LEN, BM25Encoder
from retrieval.embedders import pooled
from retrieval.protocols import Embedder, VectorStore
from retrieval.types import Chunk, IndexPoint, Scope

Stage = Literal["parsing", "chunking", "embedding"]
Progress = Callable[[Stage, int, int], None]  # stage, done, total


@dataclass(frozen=True)
class DocumentRef:
    """Which document the chunks belong to (ids from the metadata DB), and the generation
    (ingestion run) that writes them: searches see a generation only once it is made live."""

    id: str
    collection: str
    title: str
    filename: str
    generation: str


@dataclass(frozen=True)
class IngestResult:
    chunks: int
    pages: int | None


def chunk_id(document: str, generation: str, position: int) -> str:
    """Stable point id: a retried run overwrites its own points, never another version's."""
    return str(uuid.uuid5(uuid.UUID(document), f"{generation}:{position}"))


class IngestionPipeline:
    """Turns a stored original into indexed chunks. Keeps its models loaded between documents."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        bm25: BM25Encoder,
        store: VectorStore,
        chunker: Chunker,
        batch_size: int = 32,
        parse_settings: IngestionSettings | None = None,  # parsing limits; None: the defaults
        parser: ParserSandbox | None = None,  # where parses run; None: sandbox.shared()
    ) -> None:
        self.parser = parser
        self.embedder = embedder
        self.bm25 = bm25
        self.store = store
        self.chunker = chunker
        self.batch_size = batch_size
        self.parse_settings = parse_settings

    def run(self, path: Path, doc: DocumentRef, progress: Progress | None = None) -> IngestResult:
        """Index `path` as generation `doc.generation` of `doc`, first removing what an earlier
        try of the same generation left. Other generations are untouched: making this one live
        and retiring the old one is the job queue's business.

        Raises `InvalidDocument` for input that can never be indexed.
        """
        report = progress or (lambda _stage, _done, _total: None)
        scope = Scope.of([doc.collection])
        report("parsing", 0, 1)
        # parse() runs in the parser process and clears its text caches itself
        parsed = parse(
            path, filename=doc.filename, settings=self.parse_settings, parser=self.parser
        )
        report("chunking", 0, 1)
        drafts = self.chunker.chunk(parsed)
        chunks = [
            Chunk(
                id=chunk_id(doc.id, doc.generation, draft.position),
                collection=doc.collection,
                document=doc.id,
                position=draft.position,
                text=draft.text,
                title=doc.title,
                section=draft.section,
                page=draft.page,
                start=draft.start,
                end=draft.end,
                generation=doc.generation,
                places=draft.places,
                names=chunk_names(parsed, draft.own_start, draft.end),
            )
            for draft in drafts
        ]
        self.store.delete_document(scope=scope, document=doc.id, generation=doc.generation)
        report("embedding", 0, len(chunks))
        for start in range(0, len(chunks), self.batch_size):
            batch = chunks[start : start + self.batch_size]
            self.store.upsert(index_points(batch, self.embedder, self.bm25))
            report("embedding", start + len(batch), len(chunks))
        return IngestResult(chunks=len(chunks), pages=parsed.pages)

    def remove(self, doc: DocumentRef) -> int:
        """Delete the points this run (generation) wrote; how many."""
        return self.store.delete_document(
            scope=Scope.of([doc.collection]), document=doc.id, generation=doc.generation
        )


def make_pipeline(
    settings: IngestionSettings,
    *,
    embedder: Embedder,
    bm25: BM25Encoder,
    store: VectorStore,
    parser: ParserSandbox | None = None,
) -> IngestionPipeline:
    """The pipeline the settings describe: the chunker sized with the embedder's tokenizer (and,
    with `topic_split`, cutting where the embedder sees the topic shift)."""

    def similarity(sentences: Sequence[str]) -> np.ndarray:
        return embedder.embed(sentences, kind="document")

    chunker = Chunker(
        embedder.count_tokens,
        min_tokens=settings.min_tokens,
        max_tokens=settings.max_tokens,
        overlap=settings.overlap,
        similarity=similarity if settings.topic_split else None,
    )
    return IngestionPipeline(
        embedder=embedder,
        bm25=bm25,
        store=store,
        chunker=chunker,
        batch_size=settings.embed_batch_size,
        parse_settings=settings,
        parser=parser,
    )


def index_points(
    chunks: Sequence[Chunk], embedder: Embedder, bm25: BM25Encoder
) -> list[IndexPoint]:
    """The index points of `chunks`: window vectors and their mean, BM25 weights of the text and
    of what the chunk is about (`Chunk.about`, the names leg)."""
    names = BM25Encoder(k1=bm25.k1, b=bm25.b, avg_len=NAMES_AVG_LEN)
    windows = embedder.embed_windows([c.text for c in chunks])
    return [
        IndexPoint(
            chunk=c,
            dense=vector,
            sparse=bm25.encode_document(c.text),
            names=names.encode_document(c.about),
            windows=w,
        )
        for c, vector, w in zip(chunks, pooled(windows), windows, strict=True)
    ]
