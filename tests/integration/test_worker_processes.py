"""Separate `enclave worker` processes racing for one PostgreSQL job queue, one of them killed
with SIGKILL in the middle of a document: every document ends indexed, each by exactly one
surviving worker, with all its chunks; the killed worker's job is taken up once, after its lease.

Each worker has its own embedded index directory: the embedded index (qdrant-edge) belongs to one
process and no Qdrant server can run here, so the shared index production uses is replaced by
one per worker. What is under test is the queue: claims, leases and fencing across processes.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.models import Document, Job
from app.db.session import transaction
from app.runtime import build_runtime
from app.services import collections, documents, local_admin
from app.settings import Settings
from retrieval.embedders import make_embedder
from retrieval.settings import VectorStoreSettings
from retrieval.stores import make_vector_store
from retrieval.types import Scope
from tests.integration.test_crash_recovery import document_text, enclave_env, start_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
WORKERS = 3
DOCUMENTS = 6


def test_workers_race_one_is_killed_and_every_document_is_indexed_once(
    tmp_path: Path, postgres_url: str
) -> None:
    env = enclave_env(tmp_path / "data", postgres_url)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        settings = Settings()
    runtime = build_runtime(settings)
    procs: dict[int, subprocess.Popen] = {}
    try:
        principal = local_admin.principal(sessions=runtime.sessions)
        with transaction(runtime.sessions) as db:
            target = collections.get_or_create(db=db, principal=principal, name="manuals")
        sources = []
        for i in range(DOCUMENTS):
            source = tmp_path / f"manual-{i}.txt"
            source.write_text(f"Manual number {i}.\n\n" + document_text())
            sources.append(source)
        document_ids, _, failed = documents.upload_files(
            sessions=runtime.sessions,
            collection=target,
            paths=sources,
            principal=principal,
            originals=runtime.originals,
            max_bytes=settings.server.max_upload_bytes,
        )
        assert not failed
        assert len(document_ids) == DOCUMENTS

        log = tmp_path / "workers.log"
        for i in range(WORKERS):
            index = {"ENCLAVE_VECTOR_STORE__PATH": str(tmp_path / f"index-{i}")}
            proc = start_worker({**env, **index}, tmp_path, log)
            procs[i] = proc

        def victim() -> tuple[int, str] | None:
            """(worker, job) of a job halfway through its embedding batches."""
            with runtime.sessions() as db:
                running = db.execute(
                    select(Job.id, Job.locked_by, Document.chunks_done, Document.chunks_total)
                    .join(Document, Document.id == Job.document_id)
                    .where(Job.state == "running")
                ).all()
            for job_id, locked_by, done, total in running:
                pid = int(str(locked_by).split(":")[1])
                worker = next((i for i, p in procs.items() if p.pid == pid), None)
                if worker is not None and 0 < done < total:
                    return worker, job_id
            return None

        killed: list[tuple[int, str]] = []

        def halfway() -> bool:
            found = victim()
            if found is not None:
                killed.append(found)
            return bool(killed)

        wait_for(halfway, timeout_s=180, what="a job halfway", proc=procs[0])
        dead_worker, victim_job = killed[0]
        procs[dead_worker].send_signal(signal.SIGKILL)
        procs[dead_worker].wait(10)
        alive = next(p for i, p in procs.items() if i != dead_worker)

        def all_indexed() -> bool:
            with runtime.sessions() as db:
                states = db.scalars(select(Document.status)).all()
            return all(s == "indexed" for s in states)

        wait_for(all_indexed, timeout_s=300, what="every document indexed", proc=alive)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(60)
        for proc in procs.values():
            assert proc.returncode in (0, -signal.SIGKILL)
        with runtime.sessions() as db:
            all_jobs = list(db.scalars(select(Job)))
        runtime.close()

    # one job per document, done; the killed worker's job took a second attempt, the rest one
    assert sorted(j.document_id for j in all_jobs) == sorted(document_ids)
    assert {j.state for j in all_jobs} == {"done"}
    attempts = {j.id: j.attempts for j in all_jobs}
    assert attempts.pop(victim_job) == 2
    assert set(attempts.values()) == {1}

    # each document's points are in exactly one surviving worker's index, all of them
    embedder = make_embedder(settings.embedder)
    scope = Scope.of([target.id])
    holders: dict[str, list[tuple[int, int]]] = {d: [] for d in document_ids}
    for i in range(WORKERS):
        if i == dead_worker:
            continue
        store = make_vector_store(
            VectorStoreSettings(kind="edge", path=tmp_path / f"index-{i}"),
            dense_dim=embedder.dim,
            default_path=tmp_path / f"index-{i}",
        )
        try:
            for doc in document_ids:
                count = store.count(scope=scope, document=doc)
                if count:
                    holders[doc].append((i, count))
        finally:
            store.close()
    runtime = build_runtime(settings)
    try:
        with runtime.sessions() as db:
            totals = {d.id: d.chunks_total for d in db.scalars(select(Document))}
    finally:
        runtime.close()
    for doc, held in holders.items():
        assert len(held) == 1, f"{doc}: held by {held}"
        assert held[0][1] == totals[doc]
    text = (tmp_path / "workers.log").read_text(errors="replace")
    assert text.count('"job.indexed"') == DOCUMENTS  # each finished once, by a live worker
    assert '"worker.requeued"' in text  # the killed worker's lease expired; a survivor took it
    assert "term1" not in text  # no document text in the log
