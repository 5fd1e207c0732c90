"""`Retriever.search`: query embedding + BM25 → one hybrid index query → rerank."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from retrieval.bm25 import BM25Encoder
from retrieval.protocols import Embedder, Reranker, VectorStore
from retrieval.types import Hit, Scope

Mode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    reranker: str  # the reranker that ran ("none" when skipped)
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage


class Retriever:
    """Hybrid retrieval over the index, always inside the caller's scope."""

    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        bm25: BM25Encoder,
        reranker: Reranker,
        prefetch_k: int = 50,
        rerank_k: int = 10,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.bm25 = bm25
        self.reranker = reranker
        self.prefetch_k = prefetch_k
        self.rerank_k = rerank_k

    def search(
        self,
        query: str,
        *,
        scope: Scope,
        k: int,
        mode: Mode = "hybrid",
        rerank: bool = True,
        documents: Sequence[str] | None = None,
    ) -> SearchResult:
        """The top `k` chunks for `query` inside `scope` (fused top `rerank_k` → reranker → `k`)."""
        timings: dict[str, float] = {}
        if not scope:
            return SearchResult(hits=[], reranker="none", timings_ms=timings)
        started = time.perf_counter()
        dense = None
        if mode in ("hybrid", "dense"):
            dense = self.embedder.embed([query], kind="query")[0]
            timings["embed"] = _ms_since(started)
        sparse = self.bm25.encode_query(query) if mode in ("hybrid", "bm25") else None
        started = time.perf_counter()
        candidates = self.store.query(
            scope=scope,
            dense=dense,
            sparse=sparse,
            limit=max(k, self.rerank_k) if rerank else k,
            prefetch_limit=self.prefetch_k,
            documents=documents,
            similarity=rerank and self.reranker.uses_similarity,
        )
        timings["index"] = _ms_since(started)
        # Fusion often ties; the engine's order among ties varies between calls. Make it stable.
        candidates.sort(key=lambda h: (-h.score, h.chunk.document, h.chunk.position))
        if not rerank:
            return SearchResult(hits=candidates[:k], reranker="none", timings_ms=timings)
        started = time.perf_counter()
        hits = self.reranker.rerank(query, candidates, top_k=k)
        timings["rerank"] = _ms_since(started)
        return SearchResult(hits=hits, reranker=self.reranker.name, timings_ms=timings)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
