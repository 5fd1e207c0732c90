"""Label-free retrieval check: each section's heading as the query, its chunks as the answer.

    python -m evals.pseudo_queries --data-dir /var/tmp/eval-windows [--limit 300] [--out PATH]

Chooses retrieval knobs without the labelled queries: the queries come from the indexed
collection's own structure (the last part of a chunk's section path, e.g. "Logging to a file";
sections of one word are skipped), and a hit is right when it is a chunk of that section of that
document. Runs the open index's every windows leg (off / beside / instead) with each reranker
(none / proximity / semantic), hybrid, and the dense leg alone. Headings are also words of the
chunk text, so the set leans lexical: it favours BM25 and `proximity`, not the semantic signals.
Writes metrics only (no query or chunk text).
"""

from __future__ import annotations

import argparse
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from app.settings import Settings
from evals.bench.common import print_table, write_report
from evals.metrics import mean_metrics, query_metrics
from retrieval.protocols import Reranker
from retrieval.rerankers import PassThroughReranker, ProximityReranker, SemanticReranker
from retrieval.search import Retriever
from retrieval.stores import EdgeVectorStore
from retrieval.stores._schema import to_chunk
from retrieval.types import Chunk, Scope

NAME = "pseudo_queries"
LEGS = ("off", "beside", "instead")


def all_chunks(store: EdgeVectorStore) -> list[Chunk]:
    """Every chunk in the shard (payloads only), by scrolling it."""
    shard = store._open()
    out: list[Chunk] = []
    offset = None
    while True:
        request = qe.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=False)
        records, offset = shard.scroll(request)
        out += [to_chunk(r.id, r.payload) for r in records]
        if offset is None:
            return out


def heading_queries(chunks: list[Chunk], limit: int) -> list[tuple[str, frozenset[str]]]:
    """(heading, ids of its section's chunks), at most `limit`, in a fixed hash order."""
    sections: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in chunks:
        heading = c.section.split(" > ")[-1].strip()
        if len(heading.split()) >= 2:
            sections[(c.document, heading)].add(c.id)
    keys = sorted(sections, key=lambda k: hashlib.sha256("\0".join(k).encode()).hexdigest())
    return [(heading, frozenset(sections[(doc, heading)])) for doc, heading in keys[:limit]]


def measure(
    retriever: Retriever,
    scope: Scope,
    queries: list[tuple[str, frozenset[str]]],
    mode: str,
    *,
    rerank: bool = True,
) -> dict[str, float]:
    rows = []
    for text, relevant in queries:
        hits = retriever.search(text, scope=scope, k=10, mode=mode, rerank=rerank).hits  # type: ignore[arg-type]
        judged = [frozenset({0}) if h.chunk.id in relevant else frozenset() for h in hits]
        rows.append(query_metrics(judged, 1))
    return mean_metrics(rows)


def run(data_dir: Path, limit: int) -> dict[str, Any]:
    from app.runtime import build_runtime

    runtime = build_runtime(Settings(data_dir=data_dir))
    try:
        store = runtime.store
        assert isinstance(store, EdgeVectorStore), "the pseudo-query check reads an edge index"
        chunks = all_chunks(store)
        scope = Scope.of({c.collection for c in chunks})
        queries = heading_queries(chunks, limit)
        rerankers: list[Reranker] = [PassThroughReranker(), ProximityReranker(), SemanticReranker()]
        results: dict[str, Any] = {}
        for leg in LEGS if store.has_windows else ("off",):
            store.windows = leg  # type: ignore[assignment]  # the open store's query leg
            for reranker in rerankers:
                retriever = Retriever(
                    store=store, embedder=runtime.embedder, bm25=runtime.bm25, reranker=reranker
                )
                results[f"hybrid+{reranker.name} / windows {leg}"] = measure(
                    retriever, scope, queries, "hybrid"
                )
            results[f"dense / windows {leg}"] = measure(
                retriever, scope, queries, "dense", rerank=False
            )
        return {"chunks": len(chunks), "queries": len(queries), "arms": results}
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="an `enclave eval` data dir")
    parser.add_argument("--limit", type=int, default=300, help="at most this many queries")
    parser.add_argument("--out", type=Path, default=Path(f"evals/reports/{NAME}.json"))
    args = parser.parse_args()
    result = run(args.data_dir, args.limit)
    metrics = ("hit@1", "hit@3", "hit@10", "mrr@10", "ndcg@10")
    print_table(
        f"Heading pseudo-queries: {result['queries']} over {result['chunks']} chunks",
        ["arm", *metrics],
        [[arm, *(round(m[k], 3) for k in metrics)] for arm, m in result["arms"].items()],
    )
    print(f"report: {write_report(args.out, NAME, result)}")


if __name__ == "__main__":
    main()
