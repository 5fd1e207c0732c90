"""The walking skeleton's numbers on this machine: cold start, ingest throughput, search latency.

    .venv/bin/python -m evals.bench.walking_skeleton [--docs DIR] [--queries N] [--json OUT]

Cold start = `enclave serve` launched on a fresh data directory until /healthz answers (models
loaded, index open). Ingest = the real pipeline in-process (parse, chunk, embed, index) over
`--docs`. Search = hybrid retrieval (+ the configured reranker) p50/p95 over repeated queries.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from evals.bench.common import ROOT, enclave_server

QUERIES = [
    "torque for the XJ-220 motor mounting bolts",
    "What does error code E31 mean?",
    "How long must passwords be?",
    "airborne precautions for tuberculosis",
    "how to replace the battery pack",
    "post-exposure prophylaxis after a needlestick injury",
]


def cold_start(data_dir: Path) -> float:
    with enclave_server(data_dir) as server:
        return server.startup_s


def ingest_and_search(data_dir: Path, docs: Path, rounds: int) -> dict[str, float | str]:
    from app.db.session import transaction
    from app.runtime import build_runtime
    from app.services import collections, documents, local_admin
    from app.settings import Settings
    from retrieval.types import Scope

    runtime = build_runtime(Settings(data_dir=data_dir))
    try:
        runtime.warm_up()
        principal = local_admin.principal(sessions=runtime.sessions)
        with transaction(runtime.sessions) as db:
            target = collections.create(db=db, name="bench", admin_user_id=principal.id)
        files = sorted(p for p in docs.iterdir() if p.is_file() and not p.name.startswith("."))
        for path in files:
            with transaction(runtime.sessions) as db, path.open("rb") as stream:
                documents.upload(
                    db=db,
                    collection=target,
                    filename=path.name,
                    stream=stream,
                    originals=runtime.originals,
                    max_bytes=2**30,
                    principal=principal,
                )
        started = time.perf_counter()
        runtime.worker().run_until_idle()
        ingest_s = time.perf_counter() - started
        scope = Scope.of([target.id])
        chunks = runtime.store.count(scope=scope)
        runtime.retriever.search(QUERIES[0], scope=scope, k=3)  # warm
        latencies = []
        for _ in range(rounds):
            for query in QUERIES:
                started = time.perf_counter()
                runtime.retriever.search(query, scope=scope, k=3)
                latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        return {
            "documents": len(files),
            "chunks": chunks,
            "ingest_s": round(ingest_s, 2),
            "chunks_per_s": round(chunks / ingest_s, 2),
            "search_p50_ms": round(statistics.median(latencies), 1),
            "search_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "searches": len(latencies),
            "reranker": runtime.reranker.name,
        }
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "samples")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        results: dict[str, float | str] = {"cold_start_s": round(cold_start(Path(a)), 2)}
        results |= ingest_and_search(Path(b), args.docs, args.rounds)
    for key, value in results.items():
        print(f"{key:>16}: {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
