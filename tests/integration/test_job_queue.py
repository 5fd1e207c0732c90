"""The ingestion job queue on real SQLite: claims are exclusive, failures retry or stop."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.db.models import Collection, Document, Job
from app.db.session import make_engine, make_session_factory, migrate, transaction
from app.jobs import MAX_ATTEMPTS, DatabaseJobQueue
from ingestion.pipeline import IngestResult


@pytest.fixture
def queue(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as db:
        collection = Collection(name="c")
        db.add(collection)
        db.flush()
        for i in range(20):
            doc = Document(
                collection_id=collection.id,
                filename=f"{i}.txt",
                title=str(i),
                size_bytes=1,
                content_hash=f"{i:064d}",
            )
            db.add(doc)
            db.flush()
            db.add(Job(document_id=doc.id))
    yield DatabaseJobQueue(sessions, originals_dir=tmp_path)
    engine.dispose()


def test_each_job_is_claimed_by_exactly_one_worker(queue):
    claimed: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := queue.claim(name)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 20
    assert len(set(claimed)) == 20


def test_transient_failures_retry_then_fail(queue):
    job = queue.claim("w")
    queue.fail(job, "internal error (OSError); will retry", permanent=False)
    with queue.sessions() as db:
        assert db.get_one(Job, job.id).state == "queued"
        assert db.get_one(Document, job.document.id).status == "queued"
    for attempt in range(2, MAX_ATTEMPTS + 1):
        with transaction(queue.sessions) as db:  # skip the backoff wait
            db.get_one(Job, job.id).run_after = db.get_one(Job, job.id).created_at
        job = next(j for j in iter(lambda: queue.claim("w"), None) if j.id == job.id)
        assert job.attempt == attempt
        queue.fail(job, "internal error (OSError); will retry", permanent=False)
    with queue.sessions() as db:
        assert db.get_one(Document, job.document.id).status == "failed"


def test_permanent_failure_and_completion_set_the_document_state(queue):
    bad, good = queue.claim("w"), queue.claim("w")
    queue.fail(bad, "no text could be extracted", permanent=True)
    queue.complete(good, IngestResult(chunks=7, pages=2))
    with queue.sessions() as db:
        assert db.get_one(Document, bad.document.id).error == "no text could be extracted"
        done = db.get_one(Document, good.document.id)
        assert (done.status, done.chunks_total, done.pages) == ("indexed", 7, 2)


def test_interrupted_jobs_are_requeued(queue):
    job = queue.claim("w")
    assert queue.requeue_stale() == 1
    with queue.sessions() as db:
        assert db.scalar(select(Job.state).where(Job.id == job.id)) == "queued"
