"""Calibrate the abstention threshold (`serving.abstain.ABSTAIN_BELOW`) on an evaluation set.

Per query, the two cases of `evals.answers` with the product's retrieval (hybrid + rerank):

- **answerable**: the `answer_k` hits `/v1/answer` gives the generator (a search with that k);
- **withheld**: a search for `answer_k + rerank_k` hits, every hit that satisfies a label of
  the query dropped, the first `answer_k` of the rest.

For each, the extractive strength of the sources (`serving.extractive.extract_answer`), whether
the extractive answer cites a relevant source, and the top hit's rerank score are recorded;
`serving.abstain.calibrate` picks the threshold on the strengths of the answerable cases whose
sources hold a relevant chunk against the withheld ones (false abstention at most 0.10). The
report (ids, kinds, scores, booleans; no text) goes to `evals/calibration/abstention.json`.

```sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/enclave eval ../shared/evals/pydocs --limit-docs 60 --data-dir /var/tmp/enclave-eval-60
.venv/bin/python -m evals.calibrate_abstention ../shared/evals/pydocs --limit-docs 60 \
  --data-dir /var/tmp/enclave-eval-60
```
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.progress import Progress

from app.runtime import Runtime, build_runtime
from app.services.answers import as_sources
from app.settings import Settings
from evals.dataset import Query, load, matched_labels, subset
from evals.runner import ingest, scope_of
from retrieval.types import Hit
from serving.abstain import MAX_FALSE_ABSTENTION, calibrate
from serving.extractive import extract_answer

OUT = Path(__file__).parent / "calibration" / "abstention.json"


def case(question: str, hits: Sequence[Hit], relevant: Sequence[bool]) -> dict[str, Any]:
    """One case: extractive strength, whether the extracts cite a relevant source, the top
    rerank score, the extractive time."""
    started = time.perf_counter()
    answer = extract_answer(question, as_sources(hits))
    elapsed = (time.perf_counter() - started) * 1000
    return {
        "strength": answer.strength,
        "relevant_given": any(relevant),
        "cites_relevant": any(relevant[n - 1] for n in answer.cited),
        "top_score": round(hits[0].score, 4) if hits else None,
        "extract_ms": round(elapsed, 3),
    }


def measure(
    runtime: Runtime, queries: Sequence[Query], collection_id: str, filenames: dict[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """The reranker that ran, and per query its id, kind, answerable and withheld case."""
    s = runtime.settings.retrieval
    reranker = ""
    scope = scope_of(runtime, collection_id)
    rows = []
    for query in queries:
        result = runtime.retriever.search(query.text, scope=scope, k=s.answer_k)
        normal, reranker = result.hits, result.reranker
        wider = runtime.retriever.search(query.text, scope=scope, k=s.answer_k + s.rerank_k)

        def relevant(hit: Hit, query: Query = query) -> bool:
            return bool(
                matched_labels(query, filenames.get(hit.chunk.document, ""), hit.chunk.text)
            )

        kept = [h for h in wider.hits if not relevant(h)][: s.answer_k]
        rows.append(
            {
                "id": query.id,
                "kind": query.kind,
                "answerable": case(query.text, normal, [relevant(h) for h in normal]),
                "withheld": case(query.text, kept, [False] * len(kept)),
            }
        )
    return reranker, rows


def choose(rows: Sequence[dict[str, Any]], *, threshold: float | None = None) -> dict[str, Any]:
    """The calibration on the rows (or, with `threshold`, how that one does on them, by kind)."""
    answerable = [r["answerable"]["strength"] for r in rows if r["answerable"]["relevant_given"]]
    withheld = [r["withheld"]["strength"] for r in rows]
    chosen_here = threshold is None
    if threshold is None:
        threshold = calibrate(answerable, withheld, max_false=MAX_FALSE_ABSTENTION).threshold
    out: dict[str, Any] = {
        "threshold": threshold,
        "chosen_here": chosen_here,
        "rule": "max(withheld abstention - false abstention), false abstention <= "
        f"{MAX_FALSE_ABSTENTION} on answerable cases whose sources hold a relevant chunk",
    }
    for kind in ("all", *sorted({r["kind"] for r in rows})):
        some = [r for r in rows if kind in ("all", r["kind"])]
        given = [r["answerable"]["strength"] for r in some if r["answerable"]["relevant_given"]]
        out[kind] = {
            "n": len(some),
            "withheld_abstention": _share(r["withheld"]["strength"] < threshold for r in some),
            "false_abstention": _share(v < threshold for v in given),
            "extractive_citation_correct": _share(
                r["answerable"]["cites_relevant"] and r["answerable"]["strength"] >= threshold
                for r in some
            ),
            "abstention_retrieval_missed": _share(
                r["answerable"]["strength"] < threshold
                for r in some
                if not r["answerable"]["relevant_given"]
            ),
        }
    return out


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="an index `enclave eval` built"
    )
    parser.add_argument("--limit-docs", type=int)
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--queries", default="queries.jsonl", help="queries file inside ROOT")
    parser.add_argument("--threshold", type=float, help="check this threshold, do not choose")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data = subset(load(args.root), limit_docs=args.limit_docs, seed=args.seed)
    kept = {p.name for p in data.documents}  # the documents of the index, whatever the queries
    asked = [q for q in load(args.root, queries_file=args.queries).queries if q.files <= kept]
    data = replace(data, queries=tuple(asked))
    with closing(build_runtime(Settings(data_dir=args.data_dir))) as runtime:
        with Progress(transient=True) as progress:
            ingestion = ingest(runtime, data, progress=progress)
        reranker, rows = measure(
            runtime, data.queries, ingestion.collection_id, ingestion.filenames
        )
    report = {
        "set": args.root.name,
        "limit_docs": args.limit_docs,
        "seed": args.seed,
        "reranker": reranker,
        "queries": args.queries,
        "calibration": choose(rows, threshold=args.threshold),
        "per_query": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report["calibration"], indent=1))


if __name__ == "__main__":
    main()
