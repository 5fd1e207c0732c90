"""One protocol per swappable part of retrieval; each has real implementations and a test double."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np

from retrieval.types import Chunk, Hit, IndexPoint, Scope, SparseVector

EmbedKind = Literal["query", "document"]


class Embedder(Protocol):
    """Turns text into L2-normalised dense vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        """Shape (len(texts), dim), float32, unit length. `kind` picks query/document prompts."""
        ...

    def embed_windows(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per document, the unit vectors of the overlapping windows that cover it within the
        model's input length, shape (windows, dim); `embed(kind="document")` is their mean."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts with the model's own tokenizer (the chunker sizes chunks with it)."""
        ...


class VectorStore(Protocol):
    """The Qdrant index: one point per chunk, a named dense and two named BM25 sparse vectors
    (its text, and the names it is about: `Chunk.about`).

    Every read and delete takes a `Scope` and filters by it inside the query; an empty
    scope returns (or deletes) nothing.
    """

    def upsert(self, points: Sequence[IndexPoint]) -> None: ...

    def query(
        self,
        *,
        scope: Scope,
        dense: np.ndarray | None = None,
        sparse: SparseVector | None = None,
        limit: int = 10,
        prefetch_limit: int = 50,
        documents: Sequence[str] | None = None,
        similarity: bool = False,
    ) -> list[Hit]:
        """Both legs given: ONE query, each leg prefetched under the scope filter, fused (RRF
        or DBSF, the store's `fusion`); where the index has the names vector, the BM25 query
        runs against it too, as a third leg.

        One leg given: that leg alone. `documents` narrows further to those documents.
        `similarity` (with `dense`): each hit's `similarity` is the query's best cosine with
        the chunk's window vectors, read back with the hits.
        """
        ...

    def get(self, *, scope: Scope, ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, only those inside the scope, in the order asked."""
        ...

    def delete_document(self, *, scope: Scope, document: str, generation: str | None = None) -> int:
        """Delete every point of a document (of one generation, when given) inside the scope's
        collections, hidden generations included; returns how many were deleted."""
        ...

    def count(self, *, scope: Scope, document: str | None = None) -> int: ...

    def purge(self) -> None:
        """Physically reclaim deleted points (vacuum), so erased text leaves the disk."""
        ...

    def close(self) -> None: ...


class Reranker(Protocol):
    """Re-orders the fused candidates; `name` is reported with every answer. With
    `uses_similarity`, the retriever asks the store for each candidate's `Hit.similarity`."""

    name: str
    uses_similarity: bool

    def rerank(self, query: str, hits: Sequence[Hit], *, top_k: int) -> list[Hit]: ...
