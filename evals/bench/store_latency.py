"""Latency of the edge store: upsert, then scoped dense / BM25 / hybrid queries (p50, p95).

Synthetic data: random unit dense vectors, BM25-like sparse vectors over a Zipf vocabulary,
chunks spread over `--collections` tenants; every query is scoped to one of them.

    .venv/bin/python -m evals.bench.store_latency --points 10000 --dim 384
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from evals.bench.common import percentiles
from retrieval.stores import EdgeVectorStore
from retrieval.types import Chunk, IndexPoint, Scope, SparseVector

VOCAB = 30_000


def _sparse(rng: np.random.Generator, n_terms: int) -> SparseVector:
    terms = np.unique(rng.zipf(1.3, size=n_terms) % VOCAB)
    weights = rng.uniform(0.3, 2.0, size=len(terms))
    return SparseVector(tuple(int(t) for t in terms), tuple(float(w) for w in weights))


def _points(n: int, dim: int, collections: int, rng: np.random.Generator) -> list[IndexPoint]:
    dense = rng.standard_normal((n, dim)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    out = []
    for i in range(n):
        chunk = Chunk(
            id=str(uuid.UUID(int=int(rng.integers(1, 2**63)) << 64 | i)),
            collection=f"c{i % collections}",
            document=f"doc{i // 20}",
            position=i % 20,
            text="x" * 2000,  # ~ a 512-token chunk's payload
        )
        out.append(IndexPoint(chunk=chunk, dense=dense[i], sparse=_sparse(rng, 80)))
    return out


def _percentiles(samples_ms: list[float]) -> str:
    q = percentiles(samples_ms)
    return f"p50 {q['p50']:.2f} ms  p95 {q['p95']:.2f} ms  (n={q['n']})"


def _time_queries(
    store: EdgeVectorStore, args: argparse.Namespace, rng: np.random.Generator, mode: str
) -> list[float]:
    samples = []
    for i in range(args.queries):
        q = rng.standard_normal(args.dim).astype(np.float32)
        legs: dict[str, object] = {}
        if mode in ("dense", "hybrid"):
            legs["dense"] = q / np.linalg.norm(q)
        if mode in ("bm25", "hybrid"):
            legs["sparse"] = _sparse(rng, 6)
        scope = Scope.of([f"c{i % args.collections}"])
        started = time.perf_counter()
        store.query(scope=scope, limit=10, prefetch_limit=50, **legs)  # type: ignore[arg-type]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _under_writes(
    store: EdgeVectorStore, args: argparse.Namespace, rng: np.random.Generator
) -> str:
    """Hybrid latency from `--threads` readers while one thread upserts batches of 64."""
    extra = _points(64 * 20, args.dim, args.collections, np.random.default_rng(99))
    results: list[list[float]] = []
    lock = threading.Lock()

    def reader(seed: int) -> None:
        got = _time_queries(store, args, np.random.default_rng(seed), "hybrid")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(args.threads)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for i in range(0, len(extra), 64):
        store.upsert(extra[i : i + 64])
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    merged = [x for r in results for x in r]
    return f"{_percentiles(merged)}; {len(merged) / wall:.0f} queries/s overall"


def _report(label: str, result: str) -> None:
    print(f"{label:<34} {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--collections", type=int, default=4)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    points = _points(args.points, args.dim, args.collections, rng)
    with (
        tempfile.TemporaryDirectory() as tmp,
        EdgeVectorStore(Path(tmp), dense_dim=args.dim) as store,
    ):
        started = time.perf_counter()
        for i in range(0, len(points), 256):
            store.upsert(points[i : i + 256])
        print(f"upsert {len(points)} points (256 a batch): {time.perf_counter() - started:.1f} s")
        for mode in ("dense", "bm25", "hybrid"):
            _report(f"{mode}, plain segments", _percentiles(_time_queries(store, args, rng, mode)))
        started = time.perf_counter()
        store.purge()  # optimize(): also builds the HNSW index on large segments
        print(f"optimize (purge): {time.perf_counter() - started:.1f} s")
        for mode in ("dense", "bm25", "hybrid"):
            _report(f"{mode}, optimized", _percentiles(_time_queries(store, args, rng, mode)))
        _report(f"hybrid, {args.threads} readers + 1 writer", _under_writes(store, args, rng))


if __name__ == "__main__":
    main()
