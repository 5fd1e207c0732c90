"""Ranking parity of our BM25 (TF weights here, Qdrant-style IDF at query time) with rank_bm25.

The two differ only in the IDF: Qdrant's ln(1 + (N - n + 0.5) / (n + 0.5)) is always positive,
BM25Okapi's ln((N - n + 0.5) / (n + 0.5)) goes negative for terms in more than half the
documents (floored to a small epsilon). Rankings must still agree closely.
"""

from __future__ import annotations

import html.parser
import math
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from retrieval.bm25 import BM25Encoder, term_id, tokenize

K1, B = 1.2, 0.75
PYDOCS = Path("/work/shared/evals/pydocs/corpus")


def _generated_corpus(seed: int = 20250601) -> tuple[list[str], list[str]]:
    """300 passages over a Zipf-distributed vocabulary with identifiers, and 50 queries.

    Queries are 2-6 distinct words of one passage that occur in fewer than half the passages,
    as real query terms do: for terms in most passages BM25Okapi floors the IDF, so rankings
    by such terms alone diverge by design (mean overlap 0.84 when they are allowed).
    """
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ru", "ten", "sa", "vor", "pe", "ix", "dan", "ql", "zu"]
    words = list(
        dict.fromkeys("".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(3000))
    )
    words += ["XJ-220", "max_wal_senders", "42P01", "os.path.join", "asyncio.Queue", "the", "of"]
    rng.shuffle(words)
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]
    docs = [" ".join(rng.choices(words, weights, k=rng.randint(40, 400))) for _ in range(300)]
    doc_freq = Counter(w for d in docs for w in set(d.split()))
    queries = []
    for _ in range(50):
        source = sorted(set(rng.choice(docs).split()))
        source = [w for w in source if doc_freq[w] < len(docs) / 2] or source
        queries.append(" ".join(rng.sample(source, k=min(len(source), rng.randint(2, 6)))))
    return docs, queries


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _pydocs_corpus() -> tuple[list[str], list[str]]:
    """300-word passages of the first 40 pydocs pages; queries from headings-like sentences."""
    docs: list[str] = []
    for page in sorted(PYDOCS.glob("*.html"))[:40]:
        parser = _Text()
        parser.feed(page.read_text(encoding="utf-8"))
        words = " ".join(parser.parts).split()
        docs += [" ".join(words[i : i + 300]) for i in range(0, len(words), 300)]
    rng = random.Random(7)
    sentences = [s for d in docs for s in re.split(r"(?<=\.)\s", d) if 4 <= len(s.split()) <= 12]
    return docs, rng.sample(sentences, 50)


def _top10_overlap(docs: list[str], queries: list[str]) -> float:
    from rank_bm25 import BM25Okapi

    tokens = [tokenize(d) for d in docs]
    n_docs, avg_len = len(docs), sum(map(len, tokens)) / len(docs)
    encoder = BM25Encoder(k1=K1, b=B, avg_len=avg_len)
    vectors = [
        dict(zip(v.indices, v.values, strict=True)) for v in map(encoder.encode_document, docs)
    ]
    doc_freq = Counter(i for v in vectors for i in v)
    okapi = BM25Okapi(tokens, k1=K1, b=B)
    overlaps = []
    for query in queries:
        q_terms = list(dict.fromkeys(tokenize(query)))  # unique terms, as encode_query sends them
        ids = encoder.encode_query(query).indices
        assert sorted({term_id(t) for t in q_terms}) == list(ids)
        idf = {i: math.log(1 + (n_docs - doc_freq[i] + 0.5) / (doc_freq[i] + 0.5)) for i in ids}
        ours = [sum(idf[i] * v.get(i, 0.0) for i in ids) for v in vectors]
        theirs = okapi.get_scores(q_terms)
        top_ours = sorted(range(n_docs), key=lambda d: -ours[d])[:10]
        top_theirs = sorted(range(n_docs), key=lambda d: -theirs[d])[:10]
        overlaps.append(len(set(top_ours) & set(top_theirs)) / 10)
    return sum(overlaps) / len(overlaps)


def test_ranking_parity_with_rank_bm25_on_a_generated_corpus() -> None:
    overlap = _top10_overlap(*_generated_corpus())
    print(f"generated corpus: mean top-10 overlap with BM25Okapi = {overlap:.3f}")  # noqa: T201
    assert overlap >= 0.9


@pytest.mark.slow
@pytest.mark.skipif(not PYDOCS.is_dir(), reason=f"pydocs eval corpus not present at {PYDOCS}")
def test_ranking_parity_with_rank_bm25_on_pydocs() -> None:
    overlap = _top10_overlap(*_pydocs_corpus())
    print(f"pydocs corpus: mean top-10 overlap with BM25Okapi = {overlap:.3f}")  # noqa: T201
    assert overlap >= 0.9
