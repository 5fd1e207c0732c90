"""Ingest an evaluation set through the real pipeline, then run every retrieval arm on it."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.progress import Progress
from sqlalchemy import select

from app.db.models import Collection, Document
from app.db.session import transaction
from app.runtime import Runtime
from app.services import collections, documents, local_admin, scopes
from evals.dataset import EvalSet, Query, matched_labels
from evals.metrics import latency_summary, mean_metrics, query_metrics
from retrieval.rerankers import ProximityReranker
from retrieval.search import Mode, Retriever
from retrieval.types import Hit, Scope

K = 10


@dataclass(frozen=True)
class Arm:
    name: str
    mode: Mode
    rerank: bool
    proximity: bool = False  # rerank with `proximity` whatever the settings configure


ARMS = (
    Arm("bm25", "bm25", False),
    Arm("dense", "dense", False),
    Arm("hybrid", "hybrid", False),
    Arm("hybrid+rerank", "hybrid", True),
)
# the baseline reranker, run beside the configured one when that is another
PROXIMITY_ARM = Arm("hybrid+proximity", "hybrid", True, proximity=True)


def arms_for(runtime: Runtime) -> tuple[Arm, ...]:
    """The arms of a run: `ARMS`, plus `hybrid+proximity` when the reranker is not proximity."""
    configured = runtime.retriever.reranker.name
    return ARMS if configured == ProximityReranker.name else (*ARMS, PROXIMITY_ARM)


def _retriever_of(runtime: Runtime, arm: Arm) -> Retriever:
    base = runtime.retriever
    if not arm.proximity:
        return base
    return Retriever(
        store=base.store,
        embedder=base.embedder,
        bm25=base.bm25,
        reranker=ProximityReranker(),
        prefetch_k=base.prefetch_k,
        rerank_k=base.rerank_k,
    )


@dataclass
class Ingestion:
    collection_id: str
    collection: str
    filenames: dict[str, str]  # document id -> file name
    chunks: int
    failed: list[tuple[str, str]]
    reused: bool
    seconds: float


@dataclass
class ArmResult:
    arm: Arm
    reranker: str = "none"
    per_query: list[dict[str, Any]] = field(default_factory=list)


def collection_name(data: EvalSet) -> str:
    """One collection per document selection, so a reused data dir never mixes subsets."""
    names = "\n".join(p.name for p in data.documents)
    digest = hashlib.sha256(names.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9._-]+", "-", data.name.lower()).strip("-._") or "set"
    return f"eval-{slug[:60]}-{len(data.documents)}-{digest}"


def ingest(runtime: Runtime, data: EvalSet, *, progress: Progress) -> Ingestion:
    """Upload the set's documents into its collection and drain the jobs (a bar on `progress`);
    documents already indexed there (same name, a reused data dir) are not uploaded again."""
    name = collection_name(data)
    started = time.perf_counter()
    principal = local_admin.principal(sessions=runtime.sessions)
    with transaction(runtime.sessions) as db:
        target = db.scalar(select(Collection).where(Collection.name == name))
        if target is None:
            target = collections.create(
                db=db, name=name, description="enclave eval", admin_user_id=principal.id
            )
        done = set(
            db.scalars(
                select(Document.filename).where(
                    Document.collection_id == target.id, Document.status == "indexed"
                )
            )
        )
    todo = [p for p in data.documents if p.name not in done]
    queued, _skipped, failed = documents.upload_files(
        sessions=runtime.sessions,
        collection=target,
        paths=todo,
        principal=principal,
        originals=runtime.originals,
        max_bytes=runtime.settings.server.max_upload_bytes,
    )
    requeued = runtime.jobs.requeue_stale()  # an interrupted earlier run of this data dir
    task = progress.add_task("ingesting", total=len(queued) + requeued)
    runtime.worker().run_until_idle(on_job=lambda: progress.advance(task))  # every runnable job
    seconds = time.perf_counter() - started
    with runtime.sessions() as db:
        docs = list(db.scalars(select(Document).where(Document.collection_id == target.id)))
    failed += [(d.filename, d.error or d.status) for d in docs if d.status != "indexed"]
    return Ingestion(
        collection_id=target.id,
        collection=name,
        filenames={d.id: d.filename for d in docs},
        chunks=sum(d.chunks_total for d in docs if d.status == "indexed"),
        failed=failed,
        reused=not todo,
        seconds=seconds,
    )


def scope_of(runtime: Runtime, collection_id: str) -> Scope:
    """The eval collection as the local admin reads it (the product's own scope builder)."""
    principal = local_admin.principal(sessions=runtime.sessions)
    with runtime.sessions() as db:
        return scopes.read_scope(db=db, principal=principal, collection_ids=[collection_id])


def run_arms(
    runtime: Runtime,
    queries: tuple[Query, ...],
    ingestion: Ingestion,
    *,
    arms: tuple[Arm, ...] | None = None,
    advance: Callable[[], None] = lambda: None,
) -> list[ArmResult]:
    """Every query through every arm (default: `arms_for(runtime)`) on the same index;
    `advance` is called once per query."""
    scope = scope_of(runtime, ingestion.collection_id)
    arms = arms_for(runtime) if arms is None else arms
    retrievers = {arm.name: _retriever_of(runtime, arm) for arm in arms}
    for arm in arms:  # warm-up: load the models, open the index (not timed)
        retrievers[arm.name].search("warm up", scope=scope, k=K, mode=arm.mode, rerank=arm.rerank)
    results = [ArmResult(arm) for arm in arms]
    for query in queries:
        for result in results:
            arm = result.arm
            found = retrievers[arm.name].search(
                query.text, scope=scope, k=K, mode=arm.mode, rerank=arm.rerank
            )
            result.reranker = found.reranker
            hits = canonical_order(found.hits, ingestion.filenames)
            judged = [
                frozenset(
                    matched_labels(
                        query, ingestion.filenames.get(h.chunk.document, ""), h.chunk.text
                    )
                )
                for h in hits
            ]
            ranks = [i for i, labels in enumerate(judged, start=1) if labels]
            result.per_query.append(
                {
                    "id": query.id,
                    "kind": query.kind,
                    "metrics": query_metrics(judged, len(query.relevant)),
                    "relevant_ranks": ranks,
                    "timings_ms": dict(found.timings_ms),
                    "top": [
                        [ingestion.filenames.get(h.chunk.document, "?"), h.chunk.position]
                        for h in hits
                    ],
                }
            )
        advance()
    return results


def canonical_order(hits: list[Hit], filenames: dict[str, str]) -> list[Hit]:
    """Hits by score, ties broken by (file name, chunk position).

    The store breaks exact score ties (frequent in rank fusion) arbitrarily from call to call,
    which made identical arms differ between runs; a fixed tie order makes the numbers repeatable.
    """
    return sorted(
        hits, key=lambda h: (-h.score, filenames.get(h.chunk.document, ""), h.chunk.position)
    )


def summarise(results: list[ArmResult]) -> dict[str, Any]:
    """Per arm: mean metrics by kind (exact / semantic / all) and latency p50/p95 by stage."""
    out: dict[str, Any] = {}
    for result in results:
        rows = result.per_query
        kinds = sorted({r["kind"] for r in rows})
        out[result.arm.name] = {
            "mode": result.arm.mode,
            "rerank": result.arm.rerank,
            "reranker": result.reranker,
            "metrics": {
                **{
                    kind: mean_metrics(r["metrics"] for r in rows if r["kind"] == kind)
                    for kind in kinds
                },
                "all": mean_metrics(r["metrics"] for r in rows),
            },
            "latency_ms": latency_summary(r["timings_ms"] for r in rows),
        }
    return out


def setup_of(runtime: Runtime, data: EvalSet, ingestion: Ingestion) -> dict[str, Any]:
    """What ran: models, chunking, retrieval settings, counts, machine."""
    s = runtime.settings
    kinds: dict[str, int] = {}
    for q in data.queries:
        kinds[q.kind] = kinds.get(q.kind, 0) + 1
    formats: dict[str, int] = {}
    for p in data.documents:
        formats[p.suffix.lower().lstrip(".")] = formats.get(p.suffix.lower().lstrip("."), 0) + 1
    return {
        "set": data.name,
        "root": str(data.root),
        "data_dir": str(s.data_dir),
        "collection": ingestion.collection,
        "embedder": getattr(runtime.embedder, "name", type(runtime.embedder).__name__),
        "embedder_dim": runtime.embedder.dim,
        "vector_store": s.vector_store.kind,
        "windows": getattr(runtime.store, "windows", None),  # the leg that ran (see _schema.py)
        "fusion": s.vector_store.fusion,
        "names_leg": bool(getattr(runtime.store, "has_names", False)),
        "bm25": s.bm25.model_dump(),
        "reranker": getattr(runtime.reranker, "name", type(runtime.reranker).__name__),
        "reranker_settings": s.reranker.model_dump(mode="json", exclude={"model_path"})
        | {"model_path": str(s.reranker.model_path) if s.reranker.model_path else None},
        "chunking": s.ingestion.model_dump(),
        "retrieval": s.retrieval.model_dump(),
        "k": K,
        "documents": len(data.documents),
        "documents_by_format": formats,
        "documents_failed": [{"file": f, "reason": r} for f, r in ingestion.failed],
        "chunks": ingestion.chunks,
        "queries": len(data.queries),
        "queries_by_kind": kinds,
        "ingestion_s": round(ingestion.seconds, 1),
        "ingestion_reused": ingestion.reused,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
