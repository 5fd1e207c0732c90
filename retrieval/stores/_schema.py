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

from retrieval.types import Chunk, Place, Scope, SparseVector

DENSE_VECTOR = "dense"  # cosine, dim fixed at creation
SPARSE_VECTOR = "bm25"  # BM25 term-frequency weights; Qdrant applies IDF live (Modifier.Idf)
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


QueryVector = list[float] | SparseVector


def query_legs(
    dense: np.ndarray | None, sparse: SparseVector | None, dim: int, *, names: bool = False
) -> list[tuple[str, QueryVector]]:
    """The (vector name, query vector) legs to run, dense first.

    A sparse vector without terms is no leg (it matches nothing); no legs means no query.
    `names` (the index has the names vector): a hybrid query (both vectors given) also runs
    the BM25 query against the names, as a third leg; a single-leg query stays that leg.
    """
    legs: list[tuple[str, QueryVector]] = []
    if dense is not None:
        legs.append((DENSE_VECTOR, dense_values(dense, dim)))
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
