"""Label-free pseudo-queries from the names chunks define (evals.pseudo)."""

from __future__ import annotations

from evals.pseudo import pseudo_queries
from retrieval.types import Chunk


def test_a_name_defined_by_exactly_one_chunk_becomes_a_query_for_it() -> None:
    chunks = [
        Chunk("a", "c", "d", 0, "text", names=("pump.start(speed)", "Overview")),
        Chunk("b", "c", "d", 1, "text", names=("pump.stop", "Overview", "E3")),
    ]
    assert pseudo_queries(chunks) == [
        ("What is pump.start?", "a"),  # its parameters dropped
        ("What is pump.stop?", "b"),  # 'Overview' is defined twice, 'E3' too short
    ]
