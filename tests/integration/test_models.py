"""Real model code paths, all offline: the packaged MiniLM, bge-m3 through FlagEmbedding with a
tiny locally built XLM-R, and a tiny cross-encoder through both backends.

The tiny models have random weights: their scores mean nothing; the tests prove that loading,
tokenising, windowing and scoring work end to end without a download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.embedders import BGEM3Embedder, SentenceTransformerEmbedder, make_embedder
from retrieval.rerankers import CrossEncoderReranker, make_reranker
from retrieval.settings import EmbedderSettings, RerankerSettings
from retrieval.types import Chunk, Hit
from tests.tiny_models import COOKING, DATABASE, build_tiny_bge_m3, build_tiny_cross_encoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    embedder = make_embedder(EmbedderSettings())
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


def test_minilm_shape_norm_and_similarity(minilm: SentenceTransformerEmbedder) -> None:
    assert (minilm.dim, minilm.name) == (384, "all-MiniLM-L6-v2")
    vectors = minilm.embed(
        [
            "How do I reset my password?",
            "What are the steps to change a forgotten password?",
            "The quarterly revenue grew by eight percent.",
        ],
        kind="document",
    )
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert minilm.count_tokens(["hello world"]) == [2]  # no [CLS]/[SEP]


def test_minilm_windows_a_long_document(minilm: SentenceTransformerEmbedder) -> None:
    text = COOKING * 26 + DATABASE * 26  # the database half lies beyond MiniLM's 256 pieces
    (n_tokens,) = minilm.count_tokens([text])
    assert n_tokens > 1500
    assert len(minilm._windows(text)) >= 7
    windowed = minilm.embed([text], kind="document")[0]
    truncated = minilm._encode([text], kind="document")[0]  # what plain truncation sees
    query = minilm.embed(["wal_level for streaming replication to a standby"], kind="query")[0]
    assert np.linalg.norm(windowed) == pytest.approx(1.0, rel=1e-5)
    assert windowed @ query > truncated @ query + 0.1


def test_bge_m3_path_with_a_tiny_local_model(tmp_path: Path) -> None:
    model_dir = build_tiny_bge_m3(tmp_path / "tiny-bge-m3")
    embedder = make_embedder(EmbedderSettings(model_path=model_dir, batch_size=4))
    assert isinstance(embedder, BGEM3Embedder)
    assert (embedder.dim, embedder.name, embedder.max_tokens) == (32, "bge-m3:tiny-bge-m3", 62)
    long_text = DATABASE * 8
    assert len(embedder._windows(long_text)) > 1
    docs = embedder.embed(["pump XJ-220", long_text], kind="document")
    query = embedder.embed(["pump XJ-220"], kind="query")
    assert docs.shape == (2, 32)
    assert query.shape == (1, 32)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(docs[0], query[0], rtol=1e-4, atol=1e-5)  # no prompts
    assert embedder.count_tokens(["pump XJ-220"])[0] > 0


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BERT sequence classifier with one label and the packaged MiniLM tokenizer."""
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-reranker")


def _hits() -> list[Hit]:
    texts = [COOKING, DATABASE, "The pump XJ-220 needs a new seal.", "Nothing to see here."]
    return [
        Hit(Chunk(id=f"c{i}", collection="c", document="d", position=i, text=t), score=1.0 - i / 10)
        for i, t in enumerate(texts)
    ]


def test_cross_encoder_backends_score_alike(tiny_cross_encoder: Path) -> None:
    query = "replication settings"
    results = {}
    for backend in ("flag", "sentence-transformers"):
        reranker = make_reranker(RerankerSettings(model_path=tiny_cross_encoder, backend=backend))
        assert isinstance(reranker, CrossEncoderReranker)
        assert reranker.name == "cross-encoder:tiny-reranker"
        top = reranker.rerank(query, _hits(), top_k=3)
        assert len(top) == 3
        assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)
        assert all(0.0 < h.score < 1.0 for h in top)
        results[backend] = reranker.score(query, [h.chunk.text for h in _hits()])
    np.testing.assert_allclose(results["flag"], results["sentence-transformers"], atol=1e-4)
