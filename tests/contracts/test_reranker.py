"""The `Reranker` contract, run against every implementation, each built by `make_reranker`:

- proximity: the model-free lexical reranker (fast); semantic: proximity + the candidates'
  `similarity` (fast); none: the pass-through (fast);
  overlap: the token-overlap double (fast);
- cross-encoder through FlagEmbedding's FlagReranker and through sentence-transformers'
  CrossEncoder, over a tiny locally built BERT classifier (slow; random weights, so the scores
  mean nothing, only their shape and order are checked).

Candidates arrive as the fused list does: best first, unique chunks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.protocols import Reranker
from retrieval.rerankers import (
    CrossEncoderReranker,
    PassThroughReranker,
    ProximityReranker,
    SemanticReranker,
    TokenOverlapReranker,
    make_reranker,
)
from retrieval.settings import RerankerSettings
from retrieval.types import Chunk, Hit
from tests.tiny_models import COOKING, DATABASE, build_tiny_cross_encoder

TEXTS = [
    ("the weather is mild today", "", ""),
    ("set max_wal_senders before replication", "Postgres guide", "Replication"),
    ("replication needs max_wal_senders and wal_level", "Postgres guide", ""),
    (COOKING, "Cookbook", "Cakes > Sponge"),
    (DATABASE * 3, "", "Streaming"),  # long enough for several hundred word pieces
    ("The pump XJ-220 needs a new seal.", "Pump manual", ""),
    ("nothing relevant", "", ""),
]
HITS = [
    Hit(
        Chunk(
            id=f"00000000-0000-0000-0000-{n:012d}",
            collection="c",
            document=f"doc-{n % 3}",
            position=n,
            text=text,
            title=title,
            section=section,
            page=n + 1,
        ),
        score=1.0 / (60 + n),  # RRF-like, best first
        similarity=(0.9, -0.1, 0.3, None, 0.5, 0.2, 0.0)[n],  # as a store measures it
    )
    for n, (text, title, section) in enumerate(TEXTS)
]
QUERIES = ["wal_level for replication", "XJ-220 seal", "?!", ""]  # the last two have no tokens
TOP_KS = [1, 3, len(HITS), len(HITS) + 5]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once, loaded by both backends."""
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-reranker")


@pytest.fixture(
    scope="module",
    params=[
        "proximity",
        "semantic",
        "none",
        "overlap",
        pytest.param("flag", marks=pytest.mark.slow),
        pytest.param("sentence-transformers", marks=pytest.mark.slow),
    ],
)
def reranker(request: pytest.FixtureRequest) -> Reranker:
    kind = request.param
    if kind == "proximity":
        built = make_reranker(RerankerSettings())
        assert isinstance(built, ProximityReranker)
    elif kind == "semantic":
        built = make_reranker(RerankerSettings(kind="semantic"))
        assert isinstance(built, SemanticReranker)
    elif kind == "none":
        built = make_reranker(RerankerSettings(kind="none"))
        assert isinstance(built, PassThroughReranker)
    elif kind == "overlap":
        built = make_reranker(RerankerSettings(kind="overlap"))
        assert isinstance(built, TokenOverlapReranker)
    else:
        model_dir = request.getfixturevalue("tiny_cross_encoder")
        built = make_reranker(RerankerSettings(model_path=model_dir, backend=kind, batch_size=4))
        assert isinstance(built, CrossEncoderReranker)
        assert built.backend == kind
    return built


def test_has_a_name(reranker: Reranker) -> None:
    assert isinstance(reranker.name, str)
    assert reranker.name.strip()
    assert isinstance(reranker.uses_similarity, bool)


@pytest.mark.parametrize("top_k", TOP_KS)
@pytest.mark.parametrize("query", QUERIES)
def test_returns_at_most_top_k_of_the_given_hits_best_first(
    reranker: Reranker, query: str, top_k: int
) -> None:
    out = reranker.rerank(query, HITS, top_k=top_k)
    assert isinstance(out, list)
    assert len(out) <= min(top_k, len(HITS))
    assert all(isinstance(h, Hit) for h in out)
    given = {h.chunk.id: h.chunk for h in HITS}
    assert all(given.get(h.chunk.id) == h.chunk for h in out)  # no invented or altered chunk
    assert len({h.chunk.id for h in out}) == len(out)  # no duplicates
    scores = [h.score for h in out]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)


def test_does_not_lose_candidates_when_all_fit(reranker: Reranker) -> None:
    out = reranker.rerank(QUERIES[0], HITS, top_k=len(HITS))
    assert sorted(h.chunk.id for h in out) == sorted(h.chunk.id for h in HITS)


def test_accepts_any_sequence_and_leaves_the_input_alone(reranker: Reranker) -> None:
    hits = tuple(HITS)
    out = reranker.rerank(QUERIES[1], hits, top_k=3)
    assert hits == tuple(HITS)
    assert [h.chunk.id for h in out] == [
        h.chunk.id for h in reranker.rerank(QUERIES[1], list(HITS), top_k=3)
    ]


@pytest.mark.parametrize("top_k", [0, -1])
def test_no_room_gives_nothing(reranker: Reranker, top_k: int) -> None:
    assert reranker.rerank(QUERIES[0], HITS, top_k=top_k) == []


@pytest.mark.parametrize("query", QUERIES)
def test_empty_input_gives_nothing(reranker: Reranker, query: str) -> None:
    assert reranker.rerank(query, [], top_k=5) == []


def test_a_single_hit_comes_back(reranker: Reranker) -> None:
    [hit] = reranker.rerank(QUERIES[0], HITS[4:5], top_k=5)
    assert hit.chunk == HITS[4].chunk
