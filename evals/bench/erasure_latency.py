"""Erasure latency: request → verified, signed receipt, for a 100-page document in a 100k-chunk
store, on the embedded default (qdrant-edge, SQLite), with the time of each step.

    python -m evals.bench.erasure_latency [--chunks 100000] [--doc-pages 100] [--targets 3]

The store: `--targets` generated PDFs of `--doc-pages` pages each, ingested through the real
worker (parser, chunker, the configured embedder, BM25), then synthetic filler documents of
~200 chunks (varied text, BM25 sparse vectors, random unit dense vectors), upserted in batches
with their Document and live Job rows (generation = job id, as the worker writes them), up to
`--chunks` chunks in all. Filler documents have no original file.

Measured, in this order:
- baseline: each target's points deleted by filter without purge (the soft delete), on a copy of
  the store taken after the build (same size and segment layout);
- the first erasure on the store (a filler document): the index has only ever been appended
  to, so its purge also optimizes everything ingested so far (as any purge does for what was
  ingested since the last one);
- the erasure of each target: `Eraser.erase_timed` with a compliance officer, end to end.
Reported: each step's median over the targets, and total / baseline. `query_grace` is the
deliberate wait (`erasure.query_grace_s`, 1 s by default, counted from the hide); it is 0 when
the other steps take longer. The index's segment directories are listed before and after each
erasure, to show what its purge rewrote. JSON goes to `--out`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from app import rbac
from app.db.models import Collection, Document, Job, User
from app.db.session import transaction
from app.identity import COMPLIANCE_OFFICER, Principal
from app.runtime import Runtime, build_runtime
from app.services import collections, documents, local_admin
from app.settings import Settings
from ingestion.pipeline import chunk_id
from retrieval.stores import EdgeVectorStore
from retrieval.types import Chunk, IndexPoint, Scope

ROOT = Path(__file__).parents[2]
DEFAULT_OUT = ROOT / "evals/reports/bench/erasure_latency.json"
COLLECTIONS = 4  # filler spread over several tenants; the targets live in the first
DOC_CHUNKS = 200  # chunks per filler document
BATCH = 256  # points per upsert
WORDS_PER_PAGE = 330
STEPS = (
    "hide",
    "wait_ingestion",
    "delete_points",
    "purge",
    "wipe_originals",
    "delete_rows",
    "compact_database",
    "verify",
    "byte_scan",
    "query_grace",
    "sign",
    "record",
)
COMMON_WORDS = (
    "the of and to in is that for on with as by this be are from at or an it which not have "
    "was all can has more one their will other also been its into only may these such when "
    "system service pump valve pressure record patient value check level test unit control "
    "report section manual policy procedure data network access signal motor bolt torque"
)
SYLLABLES = "ka lo mi ne ru ta ve zo pri sto gra len dor vik sel mar tun bek"


class Text:
    """Varied pseudo-text: common words and a Zipf-weighted invented vocabulary."""

    def __init__(self, rng: np.random.Generator, vocabulary: int = 20_000) -> None:
        syllables = SYLLABLES.split()
        invented = {
            "".join(rng.choice(syllables, size=int(rng.integers(2, 5)))) for _ in range(vocabulary)
        }
        self.words = np.array(COMMON_WORDS.split() + sorted(invented))
        weights = 1.0 / np.arange(1, len(self.words) + 1) ** 1.05
        self.cdf = np.cumsum(weights) / weights.sum()
        self.rng = rng

    def pick(self, n: int) -> list[str]:
        picks = np.searchsorted(self.cdf, self.rng.random(n))
        return list(self.words[np.minimum(picks, len(self.words) - 1)])

    def sentences(self, n_words: int) -> list[str]:
        out, left = [], n_words
        while left > 0:
            size = min(left, int(self.rng.integers(8, 22)))
            words = self.pick(size)
            out.append(" ".join([words[0].capitalize(), *words[1:]]) + ".")
            left -= size
        return out


def make_pdf(text: Text, pages: int, title: str) -> tuple[bytes, int]:
    """A `pages`-page PDF of running text under numbered headings; returns (bytes, words)."""
    from reportlab.lib.pagesizes import A4  # dev dependency: the bench runs in the dev venv
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    words = 0
    for n in range(1, pages + 1):
        pdf.setFont("Helvetica", 8)
        pdf.drawString(72, 810, title)
        pdf.drawString(280, 30, f"Page {n} of {pages}")
        pdf.setFont("Helvetica-Bold", 13)
        pdf.drawString(72, 775, f"{n}. Section {n}")
        pdf.setFont("Helvetica", 10)
        y, line = 752, ""
        for sentence in text.sentences(WORDS_PER_PAGE):
            words += sentence.count(" ") + 1
            for word in sentence.split():
                if len(line) + len(word) > 95:
                    pdf.drawString(72, y, line)
                    y, line = y - 14, ""
                line = f"{line} {word}" if line else word
        pdf.drawString(72, y, line)
        pdf.showPage()
    pdf.save()
    return out.getvalue(), words


def officer(runtime: Runtime, admin: Principal) -> Principal:
    with transaction(runtime.sessions) as db:
        user = User(subject=f"bench|{uuid.uuid4()}", name="bench compliance officer")
        db.add(user)
        db.flush()
        rbac.grant(
            db,
            kind="user",
            subject=user.id,
            role=COMPLIANCE_OFFICER,
            collection_id=None,
            created_by=admin.id,
        )
        return rbac.for_user(db, user=user)


def ingest_targets(
    runtime: Runtime,
    collection: Collection,
    admin: Principal,
    text: Text,
    args: Any,
    done: Callable[[], None],
) -> list[dict[str, Any]]:
    """Generate and ingest the target PDFs through the worker; returns one record each."""
    targets = []
    for i in range(args.targets):
        data, words = make_pdf(text, args.doc_pages, f"Bench manual {i}")
        with transaction(runtime.sessions) as db:
            doc, _ = documents.upload(
                db=db,
                collection=collection,
                filename=f"manual-{i}.pdf",
                stream=io.BytesIO(data),
                originals=runtime.originals,
                max_bytes=2**30,
                principal=admin,
            )
            doc_id = doc.id
        started = time.perf_counter()
        runtime.worker().run_until_idle()
        seconds = time.perf_counter() - started
        with runtime.sessions() as db:
            doc = db.get_one(Document, doc_id)
            if doc.status != "indexed":
                raise RuntimeError(f"target {i} was not indexed: {doc.error}")
            chunks, pages = doc.chunks_total, doc.pages
        targets.append(
            {
                "document_id": doc_id,
                "pdf_bytes": len(data),
                "pages": pages,
                "words": words,
                "chunks": chunks,
                "ingest_s": round(seconds, 2),
            }
        )
        done()
    return targets


def fill(
    runtime: Runtime,
    collection_ids: list[str],
    admin: Principal,
    text: Text,
    *,
    chunks: int,
    words_per_chunk: int,
    seed: int,
    progress: Progress,
) -> int:
    """Upsert `chunks` synthetic chunks in documents of DOC_CHUNKS, with their rows; returns
    how many documents."""
    rng = text.rng
    dim = runtime.embedder.dim
    task = progress.add_task("synthetic chunks", total=chunks)
    pending: list[IndexPoint] = []
    n_docs = -(-chunks // DOC_CHUNKS)
    for d in range(n_docs):
        size = min(DOC_CHUNKS, chunks - d * DOC_CHUNKS)
        collection = collection_ids[d % len(collection_ids)]
        doc = Document(
            id=str(uuid.uuid4()),
            collection_id=collection,
            filename=f"synthetic-{d:05d}.txt",
            title=f"Synthetic {d}",
            content_type="text/plain",
            size_bytes=size * words_per_chunk * 7,
            content_hash=hashlib.sha256(f"erbench:{seed}:{d}".encode()).hexdigest(),
            status="indexed",
            chunks_total=size,
            chunks_done=size,
            uploaded_by=admin.id,
        )
        job = Job(
            id=str(uuid.uuid4()), document_id=doc.id, state="done", attempts=1, index_state="live"
        )
        with transaction(runtime.sessions) as db:
            db.add(doc)
            db.flush()
            db.add(job)
        dense = rng.standard_normal((size, dim)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        offset = 0
        for position in range(size):
            n_words = int(words_per_chunk * rng.uniform(0.8, 1.2))
            body = " ".join(text.sentences(n_words))
            chunk = Chunk(
                id=chunk_id(doc.id, job.id, position),
                collection=collection,
                document=doc.id,
                position=position,
                text=body,
                title=doc.title,
                section=f"Section {position // 10 + 1}",
                start=offset,
                end=offset + len(body),
                generation=job.id,
            )
            offset += len(body)
            pending.append(IndexPoint(chunk, dense[position], runtime.bm25.encode_document(body)))
            if len(pending) == BATCH:
                runtime.store.upsert(pending)
                progress.advance(task, len(pending))
                pending = []
    runtime.store.upsert(pending)
    progress.advance(task, len(pending))
    return n_docs


def segments(index_dir: Path) -> dict[str, int]:
    """The index's segment directories and their apparent sizes in bytes (the engine
    preallocates sparse 32 MiB pages: less is allocated on disk)."""
    root = index_dir / "segments"
    return {
        d.name: sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        for d in sorted(root.iterdir())
        if d.is_dir()
    }


def mib(layout: dict[str, int]) -> dict[str, float]:
    """Segment sizes in MiB, by the first 8 characters of their names."""
    return {name[:8]: round(size / 2**20, 1) for name, size in layout.items()}


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def soft_deletes(runtime: Runtime, collection: str, documents_: list[str]) -> list[float]:
    """Delete each document's points by filter, without purge, on a copy of the index (ms)."""
    source = runtime.settings.index_path
    copy = source.parent / "index-baseline"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".enclave.lock"))
    timings = []
    try:
        with EdgeVectorStore(copy, dense_dim=runtime.embedder.dim) as store:
            for document in documents_:
                started = time.perf_counter()
                deleted = store.delete_document(scope=Scope.of([collection]), document=document)
                timings.append(round((time.perf_counter() - started) * 1000, 3))
                if not deleted:
                    raise RuntimeError("the baseline deleted nothing")
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return timings


def erase(runtime: Runtime, principal: Principal, document: str) -> dict[str, Any]:
    index_dir = runtime.settings.index_path
    before = segments(index_dir)
    erased = runtime.eraser.erase_timed(
        document_id=document, reason="erasure-latency bench", principal=principal
    )
    after = segments(index_dir)
    rewritten = set(before) - set(after)
    body = erased.receipt["receipt"]
    return {
        "document_id": document,
        "points": body["removed"]["index_points"],
        "verification": body["verification"],
        "timings_ms": erased.timings_ms,
        "segments_mib_before": mib(before),
        "segments_mib_after": mib(after),
        "segments_rewritten": len(rewritten),
        "segment_mib_rewritten": round(sum(before[k] for k in rewritten) / 2**20, 1),
        "load_1m": round(os.getloadavg()[0], 2),  # the CPUs are shared: other work slows it
    }


def run(settings: Settings, args: Any, console: Console | None = None) -> dict[str, Any]:
    """Build the store under `settings.data_dir`, measure, return the results."""
    console = console or Console(quiet=True)
    runtime = build_runtime(settings)
    text = Text(np.random.default_rng(args.seed))
    try:
        admin = local_admin.principal(sessions=runtime.sessions)
        with transaction(runtime.sessions) as db:
            tenants = [
                collections.create(db=db, name=f"bench-{i}", admin_user_id=admin.id)
                for i in range(COLLECTIONS)
            ]
        compliance = officer(runtime, admin)
        started = time.perf_counter()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task(f"{args.doc_pages}-page PDFs ingested", total=args.targets)
            targets = ingest_targets(
                runtime, tenants[0], admin, text, args, lambda: progress.advance(bar)
            )
            target_chunks = sum(t["chunks"] for t in targets)
            words_per_chunk = round(
                sum(t["words"] for t in targets)
                * (1 + settings.ingestion.overlap)
                / max(1, target_chunks)
            )
            filler = args.chunks - target_chunks
            if filler < DOC_CHUNKS + 1:
                raise SystemExit(f"--chunks must exceed the targets' {target_chunks} by > 200")
            n_filler_docs = fill(
                runtime,
                [t.id for t in tenants],
                admin,
                text,
                chunks=filler,
                words_per_chunk=words_per_chunk,
                seed=args.seed,
                progress=progress,
            )
        index_dir = settings.index_path
        store = {
            "chunks": sum(runtime.store.count(scope=Scope.of([t.id])) for t in tenants),
            "synthetic_chunks": filler,
            "synthetic_documents": n_filler_docs,
            "build_s": round(time.perf_counter() - started, 1),
            "index_mib": round(directory_bytes(index_dir) / 2**20, 1),
            "segments_mib": mib(segments(index_dir)),
            "targets": targets,
        }
        console.print(
            f"store: {store['chunks']} chunks ({target_chunks} in {args.targets} PDFs, {filler} "
            f"synthetic in {n_filler_docs} documents), index {store['index_mib']:.0f} MiB, "
            f"built in {store['build_s']:.0f} s"
        )
        ids = [t["document_id"] for t in targets]
        baseline = soft_deletes(runtime, tenants[0].id, ids)
        console.print(f"baseline soft deletes (ms): {baseline}")
        with runtime.sessions() as db:
            first_doc = db.scalars(
                select(Document.id).where(Document.filename == "synthetic-00000.txt")
            ).one()
        console.print("erasing a filler document first (the store's first purge) ...")
        first = erase(runtime, compliance, first_doc)
        console.print(f"  {first['timings_ms']['total'] / 1000:.1f} s")
        measured = []
        for i, document in enumerate(ids):
            console.print(f"erasing target {i + 1}/{len(ids)} ...")
            measured.append(erase(runtime, compliance, document))
            console.print(f"  {measured[-1]['timings_ms']['total'] / 1000:.1f} s")
        store["chunks_after"] = sum(runtime.store.count(scope=Scope.of([t.id])) for t in tenants)
        return summarise(settings, args, runtime, store, baseline, first, measured)
    finally:
        runtime.close()


def summarise(
    settings: Settings,
    args: Any,
    runtime: Runtime,
    store: dict[str, Any],
    baseline: list[float],
    first: dict[str, Any],
    measured: list[dict[str, Any]],
) -> dict[str, Any]:
    def median(key: str) -> float:
        return round(statistics.median(m["timings_ms"][key] for m in measured), 3)

    medians = {key: median(key) for key in (*STEPS, "total")}
    excluding_grace = statistics.median(
        m["timings_ms"]["total"] - m["timings_ms"]["query_grace"] for m in measured
    )
    soft = statistics.median(baseline)
    return {
        "benchmark": "erasure_latency",
        "command": "python -m evals.bench.erasure_latency "
        f"--chunks {args.chunks} --doc-pages {args.doc_pages} --targets {args.targets}",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "chunks": args.chunks,
            "doc_pages": args.doc_pages,
            "targets": args.targets,
            "query_grace_s": settings.erasure.query_grace_s,
            "store": settings.vector_store.kind,
            "database": runtime.engine.dialect.name,
            "embedder": runtime.embedder.name,
            "dense_dim": runtime.embedder.dim,
        },
        "store": store,
        "baseline_soft_delete_ms": baseline,
        "first_erasure": first,
        "erasures": measured,
        "median_ms": medians,
        "median_total_excluding_grace_ms": round(excluding_grace, 3),
        "baseline_median_ms": soft,
        "ratio": round(medians["total"] / soft, 1),
        "ratio_excluding_grace": round(excluding_grace / soft, 1),
    }


def table(result: dict[str, Any]) -> Table:
    n = len(result["erasures"])
    out = Table(
        title=f"Erasure of a {result['config']['doc_pages']}-page document in "
        f"{result['store']['chunks']} chunks (edge + SQLite), ms"
    )
    out.add_column("step")
    out.add_column(f"median of {n}", justify="right")
    out.add_column("min", justify="right")
    out.add_column("max", justify="right")
    out.add_column("first erasure", justify="right")
    for key in (*STEPS, "total"):
        values = [m["timings_ms"][key] for m in result["erasures"]]
        out.add_row(
            key,
            f"{result['median_ms'][key]:.1f}",
            f"{min(values):.1f}",
            f"{max(values):.1f}",
            f"{result['first_erasure']['timings_ms'][key]:.1f}",
        )
    out.add_row("total − query_grace", f"{result['median_total_excluding_grace_ms']:.1f}")
    out.add_row("baseline: soft delete", f"{result['baseline_median_ms']:.1f}")
    out.add_row("ratio total / baseline", f"{result['ratio']:.0f}×")
    out.add_row("ratio (total − grace) / baseline", f"{result['ratio_excluding_grace']:.0f}×")
    return out


def rewrites(result: dict[str, Any]) -> str:
    """What each purge rewrote, e.g. '1 of 2 segments, 1180 MiB'."""
    return "; ".join(
        f"{e['segments_rewritten']} of {len(e['segments_mib_before'])} segments, "
        f"{e['segment_mib_rewritten']:.0f} MiB"
        for e in (result["first_erasure"], *result["erasures"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks in the store")
    parser.add_argument("--doc-pages", type=int, default=100, help="pages of a target PDF")
    parser.add_argument("--targets", type=int, default=3, help="documents erased and timed")
    parser.add_argument("--query-grace-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="enclave-erbench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        settings.erasure.query_grace_s = args.query_grace_s
        result = run(settings, args, console)
    console.print(table(result))
    console.print(f"purge rewrote (first erasure; targets): {rewrites(result)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
