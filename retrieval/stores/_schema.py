"""The index schema both stores share: vector and field names, chunk <-> payload, scope matching.

One Qdrant collection (server) or one shard (edge) holds every Enclave collection; tenants are
separated by the `collection` payload field, which every read and delete filters on. The stores
translate a `Match` into their engine's filter type and nothing else decides what matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from retrieval.types import Chunk, Hit, IndexPoint, Place, Scope, SparseVector

DENSE_VECTOR = "dense"  # cosine, dim fixed at creation
SPARSE_VECTOR = "bm25"  # BM25 term-frequency weights; Qdrant applies IDF live (Modifier.Idf)
# The chunk's window vectors (Embedder.embed_windows): a multivector scored by MaxSim, so a
# query meets the window that matches it best instead of the mean of the whole chunk. Indexes
# created before it lack it: the stores then run without this leg (re-ingest to get it).
WINDOWS_VECTOR = "windows"

# How the query's dense vector is used: against the mean vector only ("off"), against the
# windows too, as a third fused leg ("beside"), or against the windows instead ("instead").
WindowsLeg = Literal["off", "beside", "instead"]
# Default "off": "instead" lifted pydocs paraphrases (hybrid nDCG@10 0.783 -> 0.803) but made the
# dense leg ~2.4-3x slower at 100k chunks (a MaxSim scan of ~4x the vectors; no HNSW on edge),
# past the 50 ms p95 budget (evals/README.md, "Window vectors").
DEFAULT_WINDOWS_LEG: WindowsLeg = "off"

# BM25 weights of what a chunk is about (title, section path, defined terms: `Chunk.about`), IDF
# live too. Indexes created before it have no such vector: the stores then skip its leg.
NAMES_VECTOR = "names"

COLLECTION_FIELD = "collection"  # the tenant key: keyword index, is_tenant where supported
DOCUMENT_FIELD = "document"  # keyword index
GENERATION_FIELD = "generation"  # keyword index: the ingestion run that wrote the point
KEYWORD_INDEXES = (COLLECTION_FIELD, DOCUMENT_FIELD, GENERATION_FIELD)

# Qdrant's own default RRF constant (score = 1 / (k + rank - 1)). The server store sends a plain
# RRF fusion, which uses this default; the edge API needs k spelled out. Keep them equal.
RRF_K = 2
# How the legs' rankings combine: reciprocal rank fusion, or distribution-based score fusion
# (each leg's scores normalised by their mean +- 3 standard deviations, then summed).
Fusion = Literal["rrf", "dbsf"]


@dataclass(frozen=True)
class Match:
    """A non-empty must-match: collection in `collections`, and, when set, document in
    `documents`, generation in `generations` and point id in `ids`; and must-not: generation
    in `hidden`. Built only by `match_for`."""

    collections: tuple[str, ...]
    documents: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    generations: tuple[str, ...] | None = None
    hidden: tuple[str, ...] = ()


def match_for(
    scope: Scope,
    *,
    documents: Iterable[str] | None = None,
    ids: Iterable[str] | None = None,
    generations: Iterable[str] | None = None,
) -> Match | None:
    """The filter every read and delete runs under; None means "nothing can match".

    None for an empty scope, or an empty (not absent) `documents` / `ids` / `generations`
    list: callers return an empty result without touching the engine, so no unfiltered
    request is ever issued. The scope's hidden generations are excluded.
    """
    if not scope.collections:
        return None
    docs = None if documents is None else tuple(sorted(set(documents)))
    wanted = None if ids is None else canonical_ids(ids)
    gens = None if generations is None else tuple(sorted(set(generations)))
    if docs == () or wanted == () or gens == ():
        return None
    return Match(
        collections=tuple(sorted(scope.collections)),
        documents=docs,
        ids=wanted,
        generations=gens,
        hidden=tuple(sorted(scope.hidden)),
    )


def point_id(chunk_id: str) -> str:
    """The canonical point id of a chunk (a hyphenated lower-case UUID, as Qdrant returns it)."""
    return str(uuid.UUID(str(chunk_id)))


def canonical_ids(ids: Iterable[str]) -> tuple[str, ...]:
    """Point ids for `ids` in order, without repeats; non-UUIDs (never stored) are dropped."""
    out: dict[str, None] = {}
    for raw in ids:
        try:
            out[point_id(raw)] = None
        except ValueError:
            continue
    return tuple(out)


def dense_values(vector: np.ndarray, dim: int) -> list[float]:
    """A dense vector as the engines take it, after checking its shape."""
    array = np.asarray(vector, dtype=np.float32)
    if array.shape != (dim,):
        raise ValueError(f"dense vector has shape {array.shape}, the index expects ({dim},)")
    return array.tolist()


def window_values(point: IndexPoint, dim: int) -> list[list[float]]:
    """An `IndexPoint`'s window vectors as the engines take them (its dense vector alone when
    it has none), after checking their shape."""
    if point.windows is None:
        return [dense_values(point.dense, dim)]
    array = np.asarray(point.windows, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != dim:
        raise ValueError(f"window vectors have shape {array.shape}, the index expects (n, {dim})")
    return array.tolist()


def best_cosine(query: Sequence[float], vectors: Mapping[str, Any] | None) -> float | None:
    """The query's best cosine with a returned point's window vectors (its dense vector where
    the index has no windows); all are unit vectors. None when the point came without them."""
    stored = (vectors or {}).get(WINDOWS_VECTOR) or (vectors or {}).get(DENSE_VECTOR)
    if not stored:
        return None
    rows = np.atleast_2d(np.asarray(stored, dtype=np.float32))
    return float((rows @ np.asarray(query, dtype=np.float32)).max())


def to_hits(points: Iterable[Any], dense: np.ndarray | None, dim: int) -> list[Hit]:
    """Hits of an engine's scored points (`.id`, `.payload`, `.score`, `.vector`); given the
    query's `dense` vector, each with its `best_cosine` (the points then carry their vectors)."""
    query = None if dense is None else dense_values(dense, dim)
    return [
        Hit(
            chunk=to_chunk(p.id, p.payload),
            score=float(p.score),
            similarity=None if query is None else best_cosine(query, p.vector),
        )
        for p in points
    ]


def similarity_vectors(has_windows: bool) -> list[str]:
    """The vector a query returns to measure `best_cosine`."""
    return [WINDOWS_VECTOR if has_windows else DENSE_VECTOR]


QueryVector = list[float] | list[list[float]] | SparseVector


def query_legs(
    dense: np.ndarray | None,
    sparse: SparseVector | None,
    dim: int,
    *,
    windows: WindowsLeg = "off",
    names: bool = False,
) -> list[tuple[str, QueryVector]]:
    """The (vector name, query vector) legs to run, dense first; the windows leg's query is a
    multivector of one (the query vector), scored by MaxSim against the chunk's windows.

    A sparse vector without terms is no leg (it matches nothing); no legs means no query.
    `names` (the index has the names vector): a hybrid query (both vectors given) also runs
    the BM25 query against the names, as a third leg; a single-leg query stays that leg.
    """
    legs: list[tuple[str, QueryVector]] = []
    if dense is not None:
        values = dense_values(dense, dim)
        if windows != "instead":
            legs.append((DENSE_VECTOR, values))
        if windows != "off":
            legs.append((WINDOWS_VECTOR, [values]))
    if sparse is not None and len(sparse.indices) > 0:
        legs.append((SPARSE_VECTOR, sparse))
        if names and dense is not None:
            legs.append((NAMES_VECTOR, sparse))
    return legs


def to_payload(chunk: Chunk) -> dict[str, Any]:
    """The payload stored with a chunk's point (everything but the id, which is the point id)."""
    return {
        COLLECTION_FIELD: chunk.collection,
        DOCUMENT_FIELD: chunk.document,
        "position": chunk.position,
        "text": chunk.text,
        "title": chunk.title,
        "section": chunk.section,
        "page": chunk.page,
        "start": chunk.start,
        "end": chunk.end,
        GENERATION_FIELD: chunk.generation,
        "places": [[p.offset, p.page, p.section] for p in chunk.places],
        "names": list(chunk.names),
    }


def to_chunk(pid: object, payload: Mapping[str, Any] | None) -> Chunk:
    """Rebuild a chunk from its point id and payload."""
    data = payload or {}
    page = data.get("page")
    return Chunk(
        id=str(pid),
        collection=str(data[COLLECTION_FIELD]),
        document=str(data[DOCUMENT_FIELD]),
        position=int(data.get("position", 0)),
        text=str(data.get("text", "")),
        title=str(data.get("title", "")),
        section=str(data.get("section", "")),
        page=None if page is None else int(page),
        start=int(data.get("start", 0)),
        end=int(data.get("end", 0)),
        generation=str(data.get(GENERATION_FIELD, "")),
        places=tuple(_place(p) for p in data.get("places") or ()),
        names=tuple(str(n) for n in data.get("names") or ()),
    )


def _place(stored: Sequence[Any]) -> Place:
    offset, page, section = stored
    return Place(int(offset), None if page is None else int(page), str(section))


def in_asked_order(chunks: Iterable[Chunk], ids: Sequence[str]) -> list[Chunk]:
    """`chunks` in the order `ids` asked for them; ids not found are skipped, repeats kept once."""
    by_id = {chunk.id: chunk for chunk in chunks}
    return [by_id[i] for i in canonical_ids(ids) if i in by_id]
