"""Label-free pseudo-queries from a collection's own structure, to choose ranking knobs without
looking at any labelled query.

    python -m evals.pseudo DATA_DIR [--limit 300] [--seed 7] [--no-names-leg]

Every name a chunk's text defines (`Chunk.names`: a heading, a `<dt>` term, a table key) that
no other chunk of the collection defines becomes the query "What is NAME?" (a signature's
parameters dropped: `pump.start(speed)` asks for `pump.start`); its one relevant chunk is the
chunk that defines it. The data directory is one `enclave eval` wrote (its collection, its
index); settings come from the usual `ENCLAVE_*` variables (e.g.
`ENCLAVE_VECTOR_STORE__FUSION=dbsf`). `--no-names-leg` runs the hybrid without the names leg.
Prints hit@1 and MRR@10 of `hybrid` and `hybrid+rerank`; no query or chunk text is written.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from app.db.models import Collection, Document, Job
from app.runtime import Runtime, build_runtime
from app.settings import Settings
from evals.runner import scope_of
from ingestion.pipeline import chunk_id
from retrieval.types import Chunk, Scope

K = 10
_SIGNATURE = re.compile(r"\(.*$")


def pseudo_queries(chunks: Sequence[Chunk]) -> list[tuple[str, str]]:
    """(query, id of the one chunk that defines its name), for names defined exactly once."""
    terms = {c.id: {_SIGNATURE.sub("", n).strip() for n in c.names} for c in chunks}
    counts = Counter(t for names in terms.values() for t in names)
    return sorted(
        (f"What is {t}?", cid)
        for cid, names in terms.items()
        for t in names
        if counts[t] == 1 and len(t) >= 3
    )


def all_chunks(runtime: Runtime, scope: Scope) -> list[Chunk]:
    """Every live chunk of the scope's collections (point ids as the pipeline makes them)."""
    with runtime.sessions() as db:
        rows = db.execute(
            select(Document.id, Document.chunks_total, Job.id)
            .join(Job, Job.document_id == Document.id)
            .where(Document.collection_id.in_(scope.collections), Job.index_state == "live")
        ).all()
    ids = [chunk_id(doc, job, p) for doc, total, job in rows for p in range(total or 0)]
    return [
        c
        for i in range(0, len(ids), 256)
        for c in runtime.store.get(scope=scope, ids=ids[i : i + 256])
    ]


def measure(
    runtime: Runtime, scope: Scope, queries: Sequence[tuple[str, str]]
) -> dict[str, dict[str, float]]:
    """hit@1 and MRR@10 of hybrid and hybrid+rerank over `queries`."""
    out = {}
    for arm, rerank in (("hybrid", False), ("hybrid+rerank", True)):
        ranks = []
        for text, wanted in queries:
            hits = runtime.retriever.search(text, scope=scope, k=K, rerank=rerank).hits
            ids = [h.chunk.id for h in hits]
            ranks.append(ids.index(wanted) + 1 if wanted in ids else None)
        out[arm] = {
            "hit@1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
            "mrr@10": round(sum(1 / r for r in ranks if r) / len(ranks), 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--limit", type=int, default=300, help="pseudo-queries drawn")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-names-leg", action="store_true")
    args = parser.parse_args()
    runtime = build_runtime(Settings(data_dir=args.data_dir))
    try:
        with runtime.sessions() as db:
            collection_ids = list(db.scalars(select(Collection.id)))
        scope = scope_of(runtime, collection_ids[0]) if len(collection_ids) == 1 else None
        if scope is None:
            raise SystemExit("expected one collection in the data directory")
        if args.no_names_leg:
            runtime.store.has_names = False  # type: ignore[attr-defined]
        chunks = all_chunks(runtime, scope)
        queries = pseudo_queries(chunks)
        drawn = random.Random(args.seed).sample(queries, min(args.limit, len(queries)))
        print(f"{len(chunks)} chunks, {len(queries)} pseudo-queries, {len(drawn)} drawn")
        for arm, metrics in measure(runtime, scope, drawn).items():
            print(arm, metrics)
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
