"""Retrieval + fusion latency at 10k and 100k chunks: qdrant-edge against a plain baseline.

    python -m evals.bench.query_scale [--sizes 10000,100000] [--queries 200] [--out PATH]

Synthetic chunks: `--words` words each, drawn Zipf-like from a generated vocabulary, encoded with
the project's `BM25Encoder` (its `avg_len` set to the corpus mean, so both sides weigh length
alike) and random unit dense vectors of the real dimension (384). Queries: a few words of a
random chunk, and that chunk's vector plus noise, so both legs find it.

Edge: the query's BM25 encoding + `EdgeVectorStore.query` (scope-filtered prefetch of 50 per
leg, RRF in the engine, top 10 with payloads), as `Retriever.search` calls it (no model); its
hybrid runs the names leg too (each chunk's names: its first `NAMES` words, as a title);
`hybrid-2` is the same store queried without it, as an index made before it (the baseline's
hybrid is the same two-leg one for both). The
store is built as the worker builds it (upserts of `--batch` points, each flushed; no optimize).
Baseline, same process and data: `rank_bm25.BM25Okapi` scores over the same tokens + numpy
brute-force dot product, top 50 of each, the same RRF (k = RRF_K) in Python, top 10. Each
query runs on both, alternately first. Reported per size: p50/p95 per mode (dense, bm25,
hybrid, hybrid-2), the ratio edge / baseline, build times, peak memory, and the top-10 overlap
of the two-leg hybrids (IDF formulas differ slightly, so it is high but not 1).

Window vectors: each chunk gets `--windows` of them (its vector plus noise, renormalised; pydocs'
512-1,024-token chunks have 3-5 MiniLM windows), queried as `--windows-leg` says; with
`--similarity` the edge reads them back with every hit (what the semantic reranker needs). The
baseline stays the mean vector's dot product.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from evals.bench.common import out_option, percentiles, print_table, ratio, write_report
from retrieval.bm25 import NAMES_AVG_LEN, BM25Encoder, tokenize
from retrieval.stores import RRF_K, EdgeVectorStore
from retrieval.stores._schema import DEFAULT_WINDOWS_LEG, WindowsLeg
from retrieval.types import Chunk, IndexPoint, Scope

NAME = "query_scale"
DIM = 384
VOCAB = 30_000
LIMIT, PREFETCH = 10, 50
NAMES = 6  # words of a synthetic chunk's names (what a title and section path hold)
MODES = ("dense", "bm25", "hybrid", "hybrid-2")  # hybrid-2: without the names leg
SCOPE = Scope.of(["bench"])
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


@dataclass
class Corpus:
    ids: list[str]
    texts: list[str]
    dense: np.ndarray  # (n, DIM) float32, unit rows


@dataclass(frozen=True)
class Query:
    text: str
    dense: np.ndarray


def vocabulary(size: int = VOCAB, seed: int = 7) -> np.ndarray:
    """Distinct pronounceable pseudo-words, some with identifier-like suffixes."""
    rng = np.random.default_rng(seed)
    words: dict[str, None] = {}
    while len(words) < size:
        parts = rng.choice(_SYLLABLES, size=int(rng.integers(2, 5)))
        word = "".join(parts)
        if rng.random() < 0.05:
            word += f"-{int(rng.integers(10, 999))}"
        words[word] = None
    return np.array(list(words))


def make_corpus(
    n: int, words: int, rng: np.random.Generator, tick: Callable[[int], None]
) -> Corpus:
    vocab = vocabulary()
    texts = []
    for start in range(0, n, 1000):
        rows = (rng.zipf(1.15, size=(min(1000, n - start), words)) - 1) % len(vocab)
        texts += [" ".join(vocab[row]) for row in rows]
        tick(len(rows))
    dense = rng.standard_normal((n, DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(n)]
    return Corpus(ids=ids, texts=texts, dense=dense)


def make_queries(corpus: Corpus, count: int, rng: np.random.Generator) -> list[Query]:
    out = []
    for i in rng.integers(0, len(corpus.texts), size=count):
        words = corpus.texts[i].split()
        picked = rng.choice(words, size=min(4, len(words)), replace=False)
        noisy = corpus.dense[i] + rng.standard_normal(DIM).astype(np.float32) * 0.05
        out.append(Query(" ".join(picked), noisy / np.linalg.norm(noisy)))
    return out


def rrf(legs: Sequence[Sequence[int]], *, limit: int, k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion as Qdrant computes it: sum of 1 / (k + rank), rank from 0."""
    scores: dict[int, float] = {}
    for leg in legs:
        for rank, doc in enumerate(leg):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda d: -scores[d])[:limit]


class Baseline:
    """rank_bm25's BM25Okapi + numpy brute force + RRF, over the same tokens and vectors."""

    def __init__(self, tokens: list[list[str]], dense: np.ndarray) -> None:
        from rank_bm25 import BM25Okapi

        self.bm25 = BM25Okapi(tokens)
        self.dense = dense

    def search(self, query: Query, mode: str) -> list[int]:
        legs = []
        if mode != "bm25":
            legs.append(_top(self.dense @ query.dense, PREFETCH))
        if mode != "dense":
            legs.append(_top(self.bm25.get_scores(tokenize(query.text)), PREFETCH))
        return legs[0][:LIMIT] if len(legs) == 1 else rrf(legs, limit=LIMIT)


def _top(scores: np.ndarray, k: int) -> list[int]:
    k = min(k, len(scores))
    best = np.argpartition(-scores, k - 1)[:k]
    return best[np.argsort(-scores[best], kind="stable")].tolist()


def edge_search(
    store: EdgeVectorStore, bm25: BM25Encoder, query: Query, mode: str, similarity: bool = False
) -> list[str]:
    dense = query.dense if mode != "bm25" else None
    sparse = bm25.encode_query(query.text) if mode != "dense" else None
    store.has_names = mode != "hybrid-2"  # the same store queried as one made without the leg
    hits = store.query(
        scope=SCOPE,
        dense=dense,
        sparse=sparse,
        limit=LIMIT,
        prefetch_limit=PREFETCH,
        similarity=similarity,
    )
    return [h.chunk.id for h in hits]


def build_edge(
    store: EdgeVectorStore,
    corpus: Corpus,
    bm25: BM25Encoder,
    batch: int,
    tick: Callable[[int], None],
    windows: int = 1,
) -> None:
    rng = np.random.default_rng(len(corpus.texts) + 1)  # apart: the corpus stays the same
    names = BM25Encoder(k1=bm25.k1, b=bm25.b, avg_len=NAMES_AVG_LEN)
    for start in range(0, len(corpus.texts), batch):
        chunks = [
            Chunk(
                corpus.ids[i],
                "bench",
                f"d{i // 20}",
                i % 20,
                corpus.texts[i],
                names=(" ".join(corpus.texts[i].split()[:NAMES]),),
            )
            for i in range(start, min(start + batch, len(corpus.texts)))
        ]
        points = [
            IndexPoint(
                chunk=c,
                dense=corpus.dense[int(uuid.UUID(c.id)) - 1],
                sparse=bm25.encode_document(c.text),
                names=names.encode_document(c.about),
                windows=_windows(corpus.dense[int(uuid.UUID(c.id)) - 1], windows, rng),
            )
            for c in chunks
        ]
        store.upsert(points)
        tick(len(points))


def _windows(dense: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray | None:
    if count <= 1:
        return None
    rows = dense + rng.standard_normal((count, DIM)).astype(np.float32) * 0.05
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def time_queries(
    store: EdgeVectorStore,
    bm25: BM25Encoder,
    base: Baseline,
    corpus: Corpus,
    queries: list[Query],
    similarity: bool = False,
) -> dict[str, Any]:
    """Each query on both sides, alternately first; latencies (ms) per side and mode."""
    ms: dict[str, dict[str, list[float]]] = {s: {m: [] for m in MODES} for s in ("edge", "base")}
    overlap = []
    for n, query in enumerate(queries):
        for mode in MODES:
            got: dict[str, set[str]] = {}
            for side in ("edge", "base") if n % 2 == 0 else ("base", "edge"):
                started = time.perf_counter()
                if side == "edge":
                    got[side] = set(edge_search(store, bm25, query, mode, similarity))
                else:
                    got[side] = {corpus.ids[i] for i in base.search(query, mode)}
                ms[side][mode].append((time.perf_counter() - started) * 1000)
            if mode == "hybrid-2":
                overlap.append(len(got["edge"] & got["base"]) / LIMIT)
    return {"ms": ms, "hybrid_top10_overlap": round(float(np.mean(overlap)), 3)}


def measure_size(
    n: int,
    *,
    queries: int,
    words: int = 80,
    batch: int = 512,
    progress: Any = None,
    windows: int = 1,
    leg: WindowsLeg = DEFAULT_WINDOWS_LEG,
    similarity: bool = False,
) -> dict[str, Any]:
    """Build both sides over `n` synthetic chunks, time `queries` queries per mode on each."""
    from rich.progress import Progress

    progress = progress or Progress(disable=True)
    rng = np.random.default_rng(n)
    task = progress.add_task(f"{n:,}: generate", total=n)
    started = time.perf_counter()
    corpus = make_corpus(n, words, rng, lambda k: progress.advance(task, k))
    progress.update(task, description=f"{n:,}: tokenize", completed=0)
    tokens = []
    for text in corpus.texts:
        tokens.append(tokenize(text))
        progress.advance(task)
    bm25 = BM25Encoder(avg_len=float(np.mean([len(t) for t in tokens])))
    generate_s = time.perf_counter() - started
    with (
        tempfile.TemporaryDirectory() as tmp,
        EdgeVectorStore(Path(tmp), dense_dim=DIM, windows=leg) as store,
    ):
        progress.update(task, description=f"{n:,}: edge upsert", completed=0)
        started = time.perf_counter()
        build_edge(store, corpus, bm25, batch, lambda k: progress.advance(task, k), windows)
        edge_build_s = time.perf_counter() - started
        progress.update(task, description=f"{n:,}: BM25Okapi", completed=0)
        started = time.perf_counter()
        base = Baseline(tokens, corpus.dense)
        base_build_s = time.perf_counter() - started
        del tokens
        progress.update(task, description=f"{n:,}: queries", completed=n)
        asked = make_queries(corpus, queries, rng)
        timed = time_queries(store, bm25, base, corpus, asked, similarity)
    progress.remove_task(task)
    return summarise(n, timed, generate_s, edge_build_s, base_build_s)


def summarise(
    n: int, timed: dict[str, Any], generate_s: float, edge_s: float, base_s: float
) -> dict[str, Any]:
    modes = {}
    for mode in MODES:
        edge = percentiles(timed["ms"]["edge"][mode])
        base = percentiles(timed["ms"]["base"][mode])
        modes[mode] = {
            "edge_ms": edge,
            "baseline_ms": base,
            "ratio_p50": ratio(edge["p50"], base["p50"]),
            "ratio_p95": ratio(edge["p95"], base["p95"]),
        }
    return {
        "chunks": n,
        "generate_and_tokenize_s": round(generate_s, 2),
        "edge_build_s": round(edge_s, 2),
        "baseline_build_s": round(base_s, 2),
        "hybrid_top10_overlap": timed["hybrid_top10_overlap"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "modes": modes,
    }


def report(results: list[dict[str, Any]], queries: int) -> None:
    rows = []
    for r in results:
        for mode, m in r["modes"].items():
            e, b = m["edge_ms"], m["baseline_ms"]
            rows.append([f"{r['chunks']:,}", mode, e["p50"], e["p95"], b["p50"], b["p95"]])
            rows[-1] += [m["ratio_p50"], m["ratio_p95"]]
    print_table(
        f"Query latency (ms), {queries} queries per size and mode; ratio = edge / baseline",
        ["chunks", "mode", "edge p50", "edge p95", "base p50", "base p95", "ratio p50", "p95"],
        rows,
        labels=2,
    )
    print_table(
        "Build (s) and memory",
        ["chunks", "generate+tokenize", "edge upsert", "BM25Okapi", "peak RSS MB", "overlap@10"],
        [
            [f"{r['chunks']:,}", r["generate_and_tokenize_s"], r["edge_build_s"]]
            + [r["baseline_build_s"], r["peak_rss_mb"], r["hybrid_top10_overlap"]]
            for r in results
        ],
    )


def main() -> None:
    from rich.progress import Progress

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts")
    parser.add_argument("--queries", type=int, default=100, help="queries per size and mode")
    parser.add_argument("--words", type=int, default=80, help="words per synthetic chunk")
    parser.add_argument("--batch", type=int, default=512, help="points per upsert")
    parser.add_argument("--windows", type=int, default=1, help="window vectors per chunk")
    parser.add_argument(
        "--windows-leg", default=DEFAULT_WINDOWS_LEG, choices=get_args(WindowsLeg), help="see store"
    )
    parser.add_argument("--similarity", action="store_true", help="read windows back with hits")
    out_option(parser, NAME)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    with Progress(transient=True) as progress:
        for n in sizes:
            results.append(
                measure_size(
                    n,
                    queries=args.queries,
                    words=args.words,
                    batch=args.batch,
                    progress=progress,
                    windows=args.windows,
                    leg=args.windows_leg,
                    similarity=args.similarity,
                )
            )
    report(results, args.queries)
    config = {"dim": DIM, "words": args.words, "batch": args.batch, "queries": args.queries}
    config |= {"windows": args.windows, "windows_leg": args.windows_leg}
    config |= {"similarity": args.similarity}
    print(f"report: {write_report(args.out, NAME, {**config, 'sizes': results})}")


if __name__ == "__main__":
    main()
