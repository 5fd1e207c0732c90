"""Structure-aware ranking end to end: a real HTML reference page through the real pipeline
(unstructured, the chunker, MiniLM, BM25, qdrant-edge with its names leg) and `Retriever.search`
with the proximity reranker. The page mentions each name in several places; an exact-name query
must rank the chunk that *defines* it first."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ingestion.pipeline import DocumentRef, make_pipeline
from ingestion.settings import IngestionSettings
from retrieval.bm25 import BM25Encoder
from retrieval.embedders import make_embedder
from retrieval.rerankers import ProximityReranker
from retrieval.search import Retriever
from retrieval.settings import EmbedderSettings
from retrieval.stores import EdgeVectorStore
from retrieval.types import Scope

pytestmark = pytest.mark.slow

CODES = {
    "E31": "the intake pressure fell below the pump's minimum while it was running",
    "E32": "the outlet pressure rose above the relief valve's setting for a minute",
    "E40": "the motor drew more current than its rating allows at the chosen speed",
    "E41": "the motor's temperature sensor reported a reading outside its range",
}


def reference_page() -> str:
    """A pump manual: an overview that mentions every code, then one `<dt>` per code, each
    followed by prose that mentions the other codes."""
    overview = " ".join(
        f"<p>Code pump.{code} is often confused with the others; see pump.{code} below and "
        f"compare pump.{code} with its neighbours before replacing any part.</p>"
        for code in CODES
    )
    entries = "".join(
        f"<dl><dt>pump.{code}</dt><dd><p>Raised when {meaning}.</p></dd></dl>"
        f"<p>{' '.join(f'Unlike pump.{o}, it needs a reset.' for o in CODES if o != code)}</p>"
        for code, meaning in CODES.items()
    )
    return (
        "<html><body><main><h1>pump — error codes of the XJ-220 pump</h1>"
        f"<h2>Overview</h2>{overview}<h2>Codes</h2>{entries}</main></body></html>"
    )


def test_an_exact_name_query_ranks_the_defining_chunk_first(tmp_path: Path) -> None:
    page = tmp_path / "pump.html"
    page.write_text(reference_page())
    embedder = make_embedder(EmbedderSettings())
    settings = IngestionSettings(isolate_parsing=False, min_tokens=32, max_tokens=64)
    with EdgeVectorStore(tmp_path / "index", dense_dim=embedder.dim) as store:
        assert store.has_names
        pipeline = make_pipeline(settings, embedder=embedder, bm25=BM25Encoder(), store=store)
        doc = DocumentRef(str(uuid.uuid4()), "manuals", "XJ-220 pump", "pump.html", "g1")
        assert pipeline.run(page, doc).chunks >= len(CODES)
        retriever = Retriever(
            store=store, embedder=embedder, bm25=BM25Encoder(), reranker=ProximityReranker()
        )
        for code in CODES:
            hits = retriever.search(f"What is pump.{code}?", scope=Scope.of(["manuals"]), k=3)
            assert f"pump.{code}" in hits.hits[0].chunk.names, code
