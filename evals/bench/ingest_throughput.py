"""Ingestion throughput: the whole pipeline against the raw embedder on the same chunks.

    python -m evals.bench.ingest_throughput [--docs DIR] [--limit N] [--out PATH]

Pipeline: `IngestionPipeline.run` per document, built by `make_pipeline` as the runtime builds
it (default settings: parse in the parser process, chunk with the embedder's tokenizer, embed
with the embedded default — all-MiniLM-L6-v2 —, BM25-encode, upsert into qdrant-edge in a
temporary directory). Baseline: the same embedder's `embed(kind="document")` on exactly the
chunk texts the pipeline embedded, in the same batches, in the same process. Both run after a
warm-up (model loaded, parser process started), as a running worker would be.

The two are interleaved per document (the pipeline on a document, then the raw embedder on
that document's batches), so a shared machine's load changes hit both alike.

Reported: chunks/s of each, their ratio, and the pipeline overhead
(pipeline time - raw embed time) / raw embed time (product goal: under 20 %), with the
pipeline's time per stage (parse, chunk, embed, BM25, index delete + upsert) and its time
outside the embedder over the raw embed time (what the overhead is once the two embed runs'
own noise is taken out).

Default input: the first `--limit` HTML pages of 20-80 KB of the pydocs corpus (real
documentation pages), else the repository's samples/.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench.common import (
    PYDOCS,
    ROOT,
    offline_env,
    out_option,
    print_table,
    ratio,
    write_report,
)
from ingestion.parsers import prepare_parser
from ingestion.pipeline import DocumentRef, IngestionPipeline, Stage, make_pipeline
from ingestion.settings import IngestionSettings
from retrieval.bm25 import BM25Encoder
from retrieval.protocols import Embedder, EmbedKind, VectorStore
from retrieval.types import IndexPoint, Scope, SparseVector

NAME = "ingest_throughput"
GOAL_OVERHEAD = 0.20


class Clock:
    """Seconds spent per named stage."""

    def __init__(self) -> None:
        self.s: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.s[stage] += time.perf_counter() - started


class TimedEmbedder:
    """The embedder, timed; keeps the document batches it was given (in memory only) so the
    baseline embeds exactly the same texts in the same batches."""

    def __init__(self, inner: Embedder, clock: Clock) -> None:
        self.inner, self.clock = inner, clock
        self.dim, self.name = inner.dim, inner.name
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        with self.clock("embed"):
            out = self.inner.embed(texts, kind=kind)
        if kind == "document":
            self.batches.append(list(texts))
        return out

    def embed_windows(self, texts: Sequence[str]) -> list[np.ndarray]:
        with self.clock("embed"):
            out = self.inner.embed_windows(texts)
        self.batches.append(list(texts))
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self.clock("chunk: token counting"):
            return self.inner.count_tokens(texts)


class TimedBM25(BM25Encoder):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def encode_document(self, text: str) -> SparseVector:
        with self.clock("bm25"):
            return super().encode_document(text)


class TimedStore:
    """The store's writes, timed (the pipeline only writes)."""

    def __init__(self, inner: VectorStore, clock: Clock) -> None:
        self.inner, self.clock = inner, clock

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        with self.clock("index"):
            self.inner.upsert(points)

    def delete_document(self, *, scope: Scope, document: str, generation: str | None = None) -> int:
        with self.clock("index: delete"):
            return self.inner.delete_document(scope=scope, document=document, generation=generation)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def pick_documents(docs: Path | None, limit: int) -> list[Path]:
    """`limit` files of `docs` by name; default: pydocs HTML pages of 20-80 KB, else samples/."""
    if docs is None and PYDOCS.is_dir():
        pages = (p for p in sorted(PYDOCS.glob("*.html")) if 20_000 <= p.stat().st_size <= 80_000)
        return list(pages)[:limit]
    folder = docs or ROOT / "samples"
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return files[:limit]


def run_interleaved(
    pipeline: IngestionPipeline,
    timed: TimedEmbedder,
    files: Sequence[Path],
    clock: Clock,
) -> tuple[int, float, float]:
    """Each file through the pipeline, then its batches through the raw embedder, so load
    changes on a shared machine hit both alike. Parse time comes from the pipeline's progress
    reports. Returns (chunks, pipeline seconds, raw embed seconds)."""
    marks: dict[Stage, float] = {}

    def progress(stage: Stage, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "chunking":
            clock.s["parse"] += now - marks["parsing"]
        if stage == "embedding" and done == 0:
            clock.s["chunk (+ delete)"] += now - marks["chunking"]
        marks.setdefault(stage, now)

    chunks, pipeline_s, raw_s = 0, 0.0, 0.0
    for n, path in enumerate(files):
        marks.clear()
        doc_id = str(uuid.UUID(int=n + 1))
        doc = DocumentRef(
            id=doc_id, collection="bench", title=path.stem, filename=path.name, generation="bench"
        )
        seen = len(timed.batches)
        started = time.perf_counter()
        chunks += pipeline.run(path, doc, progress=progress).chunks
        pipeline_s += time.perf_counter() - started
        started = time.perf_counter()
        for batch in timed.batches[seen:]:
            timed.inner.embed(batch, kind="document")
        raw_s += time.perf_counter() - started
    return chunks, pipeline_s, raw_s


def measure(
    files: Sequence[Path], embedder: Embedder, store: VectorStore, settings: IngestionSettings
) -> dict[str, Any]:
    """Pipeline and raw embedder on the same batches, interleaved; times per stage, ratio."""
    clock = Clock()
    timed = TimedEmbedder(embedder, clock)
    pipeline = make_pipeline(
        settings, embedder=timed, bm25=TimedBM25(clock), store=TimedStore(store, clock)
    )
    chunks, pipeline_s, raw_s = run_interleaved(pipeline, timed, files, clock)
    stages = {
        "parse": clock.s["parse"],
        # the pipeline deletes the document's old points between chunking and embedding
        "chunk": clock.s["chunk (+ delete)"] - clock.s["index: delete"],
        "embed": clock.s["embed"],
        "bm25": clock.s["bm25"],
        "index": clock.s["index"] + clock.s["index: delete"],
    }
    stages["other"] = pipeline_s - sum(stages.values())
    return {
        "documents": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "chunks": chunks,
        "embedded_texts": sum(len(b) for b in timed.batches),
        "batch_size": settings.embed_batch_size,
        "pipeline_s": round(pipeline_s, 3),
        "raw_embed_s": round(raw_s, 3),
        "pipeline_chunks_per_s": round(chunks / pipeline_s, 3) if pipeline_s else 0.0,
        "raw_chunks_per_s": round(chunks / raw_s, 3) if raw_s else 0.0,
        "ratio_pipeline_to_raw_time": ratio(pipeline_s, raw_s),
        "overhead": round((pipeline_s - raw_s) / raw_s, 4) if raw_s else float("inf"),
        # the pipeline's time outside its embedder, over the raw embed time (load-independent)
        "outside_embedder": round((pipeline_s - stages["embed"]) / raw_s, 4) if raw_s else 0.0,
        "goal_overhead": GOAL_OVERHEAD,
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "token_counting_s": round(clock.s["chunk: token counting"], 3),
    }


def warm_up(embedder: Embedder, settings: IngestionSettings) -> None:
    """Load the model's kernels and start the parser process, outside the measurement."""
    prepare_parser(settings)
    embedder.embed(["warm-up " * 300] * 4, kind="document")
    embedder.count_tokens(["warm-up"])


def report(result: dict[str, Any]) -> None:
    s = result["stages_s"]
    print_table(
        f"Ingestion: {result['documents']} documents, {result['chunks']} chunks "
        f"(batches of {result['batch_size']})",
        ["run", "seconds", "chunks/s", "time vs raw"],
        [
            ["raw embedder (baseline)", result["raw_embed_s"], result["raw_chunks_per_s"], 1.0],
            [
                "whole pipeline",
                result["pipeline_s"],
                result["pipeline_chunks_per_s"],
                result["ratio_pipeline_to_raw_time"],
            ],
        ],
    )
    total = result["pipeline_s"]
    print_table(
        "Pipeline time per stage",
        ["stage", "seconds", "share"],
        [[k, v, f"{v / total:.1%}" if total else "-"] for k, v in s.items()],
    )
    verdict = "meets" if result["overhead"] < GOAL_OVERHEAD else "MISSES"
    print(
        f"pipeline overhead over the raw embedder: {result['overhead']:.1%} "
        f"({verdict} the < {GOAL_OVERHEAD:.0%} goal); time outside the embedder: "
        f"{result['outside_embedder']:.1%} of the raw embed time; token counting inside "
        f"chunking: {result['token_counting_s']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, help="folder of documents (default: pydocs HTML)")
    parser.add_argument("--limit", type=int, default=10, help="documents to ingest")
    out_option(parser, NAME)
    args = parser.parse_args()
    offline_env()
    import tempfile

    from retrieval.embedders import make_embedder
    from retrieval.settings import EmbedderSettings
    from retrieval.stores import EdgeVectorStore

    files = pick_documents(args.docs, args.limit)
    if not files:
        raise SystemExit(f"no documents in {args.docs}")
    settings = IngestionSettings()
    embedder = make_embedder(EmbedderSettings())  # the embedded default: MiniLM
    warm_up(embedder, settings)
    with (
        tempfile.TemporaryDirectory() as tmp,
        EdgeVectorStore(Path(tmp), dense_dim=embedder.dim) as store,
    ):
        result = measure(files, embedder, store, settings)
    result["embedder"] = getattr(embedder, "name", type(embedder).__name__)
    result["source"] = str(args.docs or (PYDOCS if PYDOCS.is_dir() else ROOT / "samples"))
    report(result)
    print(f"report: {write_report(args.out, NAME, result)}")


if __name__ == "__main__":
    main()
