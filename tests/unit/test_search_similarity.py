"""The retriever asks the store for each candidate's window similarity when its reranker uses it
(a real qdrant-edge store, the hash embedder's word windows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.bm25 import BM25Encoder
from retrieval.embedders import HashEmbedder, pooled
from retrieval.rerankers import ProximityReranker, SemanticReranker
from retrieval.search import Retriever
from retrieval.stores import EdgeVectorStore
from retrieval.types import Chunk, IndexPoint, Scope

SCOPE = Scope.of(["c"])
LONG = " ".join(f"filler{i}" for i in range(12)) + " the standby replays the primary log"


def _indexed(path: Path, embedder: HashEmbedder) -> EdgeVectorStore:
    store = EdgeVectorStore(path, dense_dim=embedder.dim)
    texts = [LONG, "an unrelated note about cakes"]
    windows = embedder.embed_windows(texts)
    bm25 = BM25Encoder()
    store.upsert(
        [
            IndexPoint(
                Chunk(
                    id=f"00000000-0000-0000-0000-00000000000{n}",
                    collection="c",
                    document=f"d{n}",
                    position=0,
                    text=text,
                ),
                dense,
                bm25.encode_document(text),
                windows=w,
            )  # fmt: skip
            for n, (text, dense, w) in enumerate(zip(texts, pooled(windows), windows, strict=True))
        ]
    )
    return store


@pytest.mark.parametrize("reranker", [SemanticReranker(), ProximityReranker()])
def test_similarity_reaches_the_reranker_only_when_it_uses_it(
    tmp_path: Path, reranker: ProximityReranker
) -> None:
    embedder = HashEmbedder(16, window_words=6)
    with _indexed(tmp_path, embedder) as store:
        retriever = Retriever(store=store, embedder=embedder, bm25=BM25Encoder(), reranker=reranker)
        query = "the standby replays the primary log"  # exactly the long chunk's last window
        hits = retriever.search(query, scope=SCOPE, k=2).hits
        assert hits[0].chunk.document == "d0"
        if reranker.uses_similarity:
            assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
        else:
            assert all(h.similarity is None for h in hits)
        plain = retriever.search(query, scope=SCOPE, k=2, rerank=False).hits
        assert all(h.similarity is None for h in plain)
