"""The proximity, pass-through and token-overlap rerankers, and the reranker factory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from retrieval.errors import ModelNotFound
from retrieval.rerankers import (
    PassThroughReranker,
    ProximityReranker,
    SemanticReranker,
    TokenOverlapReranker,
    identifiers,
    make_reranker,
    passage_text,
    suffixes,
)
from retrieval.settings import RerankerSettings
from retrieval.types import Chunk, Hit


def _hit(n: int, text: str, score: float = 0.0, **chunk: str) -> Hit:
    c = Chunk(id=f"id-{n}", collection="c", document="d", position=n, text=text, **chunk)
    return Hit(chunk=c, score=score)


HITS = [
    _hit(0, "the weather is mild today", 0.9),
    _hit(1, "set max_wal_senders before replication", 0.8),
    _hit(2, "replication needs max_wal_senders and wal_level", 0.7),
    _hit(3, "nothing relevant", 0.6),
]


def test_pass_through_keeps_fusion_order_and_truncates() -> None:
    reranker = PassThroughReranker()
    assert reranker.name == "none"
    assert reranker.rerank("anything", HITS, top_k=2) == HITS[:2]
    assert reranker.rerank("anything", HITS, top_k=0) == []


def test_overlap_orders_by_query_token_share() -> None:
    reranker = TokenOverlapReranker()
    assert reranker.name == "overlap"
    out = reranker.rerank("wal_level for replication", HITS, top_k=3)
    assert [h.chunk.id for h in out] == ["id-2", "id-1", "id-0"]
    assert out[0].score == pytest.approx(1.0)  # wal_level, wal, level, replication: all found
    assert out[1].score == pytest.approx(2 / 4)  # replication, wal (a part of max_wal_senders)


def test_overlap_ties_keep_incoming_order() -> None:
    out = TokenOverlapReranker().rerank("unrelated words", HITS, top_k=4)
    assert [h.chunk.id for h in out] == [h.chunk.id for h in HITS]
    assert all(h.score == 0.0 for h in out)


def test_overlap_reads_title_and_section() -> None:
    hit = _hit(7, "body text", title="Pump XJ-220", section="Maintenance")
    assert passage_text(hit.chunk) == "Pump XJ-220 > Maintenance\nbody text"
    out = TokenOverlapReranker().rerank("XJ-220 maintenance", [HITS[3], hit], top_k=1)
    assert out[0].chunk.id == "id-7"


def test_rerankers_accept_no_hits() -> None:
    assert TokenOverlapReranker().rerank("q", [], top_k=3) == []
    assert PassThroughReranker().rerank("q", [], top_k=3) == []


def test_proximity_lifts_the_passage_holding_the_phrase() -> None:
    hits = [
        _hit(0, "The parser is called and the start tag ends when the handler runs.", 1.0),
        _hit(1, "Similar to the start tag, but called when the parser meets an empty tag.", 0.9),
    ]
    query = "but called when the parser meets an empty tag"
    out = ProximityReranker().rerank(query, hits, top_k=2)
    assert [h.chunk.id for h in out] == ["id-1", "id-0"]
    assert out[0].score == pytest.approx(0.9 + 1.0)  # fusion share + every word pair in order


def test_proximity_lifts_the_passage_naming_the_identifier() -> None:
    hits = [
        _hit(0, "The reprlib module: Repr instances limit the size of the output.", 1.0),
        _hit(1, "Repr.maxstring: limit on the number of characters in a string.", 0.9),
        _hit(2, "maxstring and maxlong limits.", 0.8),
    ]
    out = ProximityReranker().rerank("What is reprlib.Repr.maxstring?", hits, top_k=3)
    assert [h.chunk.id for h in out] == ["id-1", "id-2", "id-0"]
    scores = {h.chunk.id: h.score for h in out}
    assert scores["id-0"] == pytest.approx(1.0)  # shares words, names no tail of the identifier
    # 2 of 3 parts named, 1 of 3; word pairs (what is, is reprlib, reprlib repr, repr maxstring)
    # found in order: 'repr maxstring' in id-1 only
    assert scores["id-1"] == pytest.approx(0.9 + 1 / 4 + 2 / 3)
    assert scores["id-2"] == pytest.approx(0.8 + 1 / 3)


def test_proximity_lifts_the_chunk_that_defines_the_name() -> None:
    mentions = Chunk("id-0", "c", "d", 0, "Call token.ENCODING first; see token.ENCODING.")
    defines = Chunk(
        "id-1", "c", "d", 1, "token.ENCODING: the encoding token.", names=("token.ENCODING",)
    )
    hits = [Hit(mentions, 1.0), Hit(defines, 0.9)]
    out = ProximityReranker().rerank("What is token.ENCODING?", hits, top_k=2)
    assert [h.chunk.id for h in out] == ["id-1", "id-0"]
    # both hold the pair 'token encoding' (1 of 3) and name it fully (+1); id-1 defines it (+1)
    assert [h.score for h in out] == pytest.approx([0.9 + 1 / 3 + 1 + 1, 1.0 + 1 / 3 + 1])


def test_proximity_keeps_fusion_order_without_signals() -> None:
    out = ProximityReranker().rerank("?!", HITS, top_k=4)
    assert [h.chunk.id for h in out] == [h.chunk.id for h in HITS]
    out = ProximityReranker().rerank("zebra", HITS, top_k=2)
    assert [h.chunk.id for h in out] == ["id-0", "id-1"]


def test_proximity_handles_zero_or_negative_fusion_scores() -> None:
    hits = [_hit(0, "alpha beta", -0.2), _hit(1, "gamma delta", -0.5)]
    out = ProximityReranker().rerank("gamma delta", hits, top_k=2)
    assert [h.chunk.id for h in out] == ["id-1", "id-0"]


def test_semantic_adds_the_similarity_to_the_proximity_score() -> None:
    query = "how do I stream changes to a standby"  # shares no word pair with any passage
    hits = [replace(h, similarity=s) for h, s in zip(HITS, (0.1, 0.2, 0.8, -0.3), strict=True)]
    out = SemanticReranker().rerank(query, hits, top_k=4)
    assert [h.chunk.id for h in out] == ["id-2", "id-0", "id-1", "id-3"]
    proximity = ProximityReranker().scores(query, hits)
    expected = [p + max(s, 0.0) for p, s in zip(proximity, (0.1, 0.2, 0.8, -0.3), strict=True)]
    assert [h.score for h in out] == pytest.approx(sorted(expected, reverse=True))


def test_semantic_without_similarities_is_proximity() -> None:
    query = "max_wal_senders before replication"
    semantic = SemanticReranker().rerank(query, HITS, top_k=4)
    assert semantic == ProximityReranker().rerank(query, HITS, top_k=4)
    assert SemanticReranker.uses_similarity
    assert not ProximityReranker.uses_similarity


def test_identifiers_and_their_tails() -> None:
    text = "Use os.path.join, XJ-220 and max_wal_senders; not plain words or os.path.join."
    assert identifiers(text) == ["os.path.join", "xj-220", "max_wal_senders"]
    assert suffixes("os.path.join") == ["os.path.join", "path.join", "join"]
    assert suffixes("std::move") == ["std.move", "move"]
    assert suffixes("max_wal_senders") == ["max_wal_senders"]


def test_factory_picks_by_kind() -> None:
    assert isinstance(make_reranker(RerankerSettings()), ProximityReranker)
    assert isinstance(make_reranker(RerankerSettings(kind="none")), PassThroughReranker)
    assert isinstance(make_reranker(RerankerSettings(kind="semantic")), SemanticReranker)
    assert isinstance(make_reranker(RerankerSettings(kind="overlap")), TokenOverlapReranker)


def test_factory_reports_a_missing_cross_encoder(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not found"):
        make_reranker(RerankerSettings(model_path=tmp_path / "absent"))
    with pytest.raises(ModelNotFound, match="model_path"):
        make_reranker(RerankerSettings(kind="cross-encoder"))
