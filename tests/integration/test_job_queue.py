"""The ingestion job queue on real SQLite and PostgreSQL: claims are exclusive, failures retry
or stop, leases expire into the queue, a lost job never crashes its worker."""

from __future__ import annotations

import errno
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.db.models import Collection, Document, Job, utcnow
from app.db.session import make_engine, make_session_factory, migrate, transaction
from app.jobs import MAX_ATTEMPTS, WORKER_LOST, DatabaseJobQueue
from app.originals import Originals
from ingestion.pipeline import DocumentRef, IngestResult
from ingestion.worker import JobLost, Worker
from retrieval.errors import IndexFull

LEASE_S = 60.0
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def add_documents(queue: DatabaseJobQueue, count: int) -> None:
    with transaction(queue.sessions) as db:
        collection = db.scalar(select(Collection)) or Collection(name="c")
        db.add(collection)
        db.flush()
        start = db.query(Document).count()
        for i in range(start, start + count):
            doc = Document(
                collection_id=collection.id,
                filename=f"{i}.txt",
                title=str(i),
                size_bytes=1,
                content_hash=f"{i:064d}",
            )
            db.add(doc)
            db.flush()
            db.add(Job(document_id=doc.id, created_at=utcnow() + timedelta(microseconds=i)))


@pytest.fixture(params=DATABASES)
def queue(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'meta.db'}"
    engine = make_engine(url)
    migrate(engine)
    queue = DatabaseJobQueue(
        make_session_factory(engine), originals=Originals(tmp_path), lease_s=LEASE_S
    )
    add_documents(queue, 20)
    yield queue
    engine.dispose()


def claim_all(queue: DatabaseJobQueue, workers: int) -> list[str]:
    """Every worker (a thread with its own connection) claims until the queue is empty."""
    claimed: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := queue.claim(name)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return claimed


def state_of(queue: DatabaseJobQueue, job_id: str) -> tuple[str, str]:
    with queue.sessions() as db:
        job = db.get_one(Job, job_id)
        return job.state, db.get_one(Document, job.document_id).status


def expire_lease(queue: DatabaseJobQueue, job_id: str) -> None:
    stale = utcnow() - timedelta(seconds=LEASE_S + 1)
    with transaction(queue.sessions) as db:
        db.execute(update(Job).where(Job.id == job_id).values(locked_at=stale))


def test_each_job_is_claimed_by_exactly_one_worker(queue):
    claimed = claim_all(queue, workers=4)
    assert len(claimed) == 20
    assert len(set(claimed)) == 20


@pytest.mark.postgres
def test_four_workers_claim_200_jobs_exactly_once_on_postgresql(postgres_url, tmp_path):
    engine = make_engine(postgres_url)
    migrate(engine)
    queue = DatabaseJobQueue(
        make_session_factory(engine), originals=Originals(tmp_path), lease_s=LEASE_S
    )
    add_documents(queue, 200)
    try:
        claimed = claim_all(queue, workers=4)
        with queue.sessions() as db:
            running = db.scalars(select(Job.id).where(Job.state == "running")).all()
            attempts = set(db.scalars(select(Job.attempts)))
    finally:
        engine.dispose()
    assert sorted(claimed) == sorted(set(claimed)) == sorted(running)
    assert len(claimed) == 200
    assert attempts == {1}


@pytest.mark.postgres
def test_a_claim_passes_over_a_job_another_transaction_holds(postgres_url, tmp_path):
    """SKIP LOCKED: a row another claimer has locked is skipped, not waited for."""
    engine = make_engine(postgres_url)
    migrate(engine)
    queue = DatabaseJobQueue(
        make_session_factory(engine), originals=Originals(tmp_path), lease_s=LEASE_S
    )
    add_documents(queue, 2)
    try:
        with ThreadPoolExecutor(1) as pool, transaction(queue.sessions) as holder:
            oldest = holder.scalars(
                select(Job).order_by(Job.created_at).limit(1).with_for_update()
            ).one()
            job = pool.submit(queue.claim, "w").result(timeout=5)  # waiting would time out
            assert job is not None
            assert job.id != oldest.id
        assert queue.claim("w").id == oldest.id  # released with the holder's transaction
    finally:
        engine.dispose()


def error_of(queue, job_id: str) -> str | None:
    with queue.sessions() as db:
        return db.get_one(Document, db.get_one(Job, job_id).document_id).error


def test_transient_failures_retry_then_fail(queue):
    job = queue.claim("w")
    queue.fail(job, "internal error (OSError)", permanent=False)
    assert state_of(queue, job.id) == ("queued", "queued")
    assert error_of(queue, job.id) == "internal error (OSError); will retry"
    for attempt in range(2, MAX_ATTEMPTS + 1):
        with transaction(queue.sessions) as db:  # skip the backoff wait
            db.get_one(Job, job.id).run_after = db.get_one(Job, job.id).created_at
        job = next(j for j in iter(lambda: queue.claim("w"), None) if j.id == job.id)
        assert job.attempt == attempt
        queue.fail(job, "internal error (OSError)", permanent=False)
    assert state_of(queue, job.id) == ("failed", "failed")
    gave_up = f"internal error (OSError); gave up after {MAX_ATTEMPTS} attempts"
    assert error_of(queue, job.id) == gave_up  # no promise of a retry that will not come


def test_permanent_failure_and_completion_set_the_document_state(queue):
    bad, good = queue.claim("w"), queue.claim("w")
    queue.fail(bad, "no text could be extracted", permanent=True)
    queue.complete(good, IngestResult(chunks=7, pages=2))
    with queue.sessions() as db:
        assert db.get_one(Document, bad.document.id).error == "no text could be extracted"
        done = db.get_one(Document, good.document.id)
        assert (done.status, done.chunks_total, done.pages) == ("indexed", 7, 2)


def test_at_start_up_the_embedded_process_requeues_every_running_job(queue):
    job = queue.claim("w")
    assert queue.requeue_expired() == 0  # its lease is fresh
    assert queue.requeue_stale() == 1
    assert state_of(queue, job.id) == ("queued", "queued")


def test_an_expired_lease_is_requeued_and_the_old_worker_fenced_out(queue):
    old, live = queue.claim("dead"), queue.claim("alive")
    expire_lease(queue, old.id)
    queue.heartbeat(live)
    assert queue.requeue_expired() == 1
    assert state_of(queue, old.id) == ("queued", "queued")
    assert state_of(queue, live.id) == ("running", "queued")
    again = next(j for j in iter(lambda: queue.claim("other"), None) if j.id == old.id)
    assert again.attempt == 2
    for call in (
        lambda: queue.heartbeat(old),
        lambda: queue.progress(old, "embedding", 1, 2),
        lambda: queue.complete(old, IngestResult(chunks=2, pages=None)),
        lambda: queue.fail(old, "late", permanent=True),
    ):
        with pytest.raises(JobLost) as lost:
            call()
        assert lost.value.reason == "lease_expired"
    queue.complete(again, IngestResult(chunks=2, pages=None))
    assert state_of(queue, old.id) == ("done", "indexed")


def test_progress_renews_the_lease(queue):
    job = queue.claim("w")
    expire_lease(queue, job.id)
    queue.progress(job, "embedding", 1, 4)
    assert queue.requeue_expired() == 0


def test_a_job_whose_worker_died_every_time_fails(queue):
    job = queue.claim("w")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert job.attempt == attempt
        expire_lease(queue, job.id)
        assert queue.requeue_expired() == 1
        if attempt < MAX_ATTEMPTS:
            job = next(j for j in iter(lambda: queue.claim("w"), None) if j.id == job.id)
    assert state_of(queue, job.id) == ("failed", "failed")
    with queue.sessions() as db:
        assert db.get_one(Document, job.document.id).error == WORKER_LOST


def delete_document(queue: DatabaseJobQueue, document_id: str) -> None:
    with transaction(queue.sessions) as db:
        db.delete(db.get_one(Document, document_id))  # its job goes with it (ON DELETE CASCADE)


def test_calls_for_a_job_whose_document_was_deleted_raise_job_lost(queue):
    job = queue.claim("w")
    delete_document(queue, job.document.id)
    for call in (
        lambda: queue.heartbeat(job),
        lambda: queue.progress(job, "parsing", 0, 1),
        lambda: queue.complete(job, IngestResult(chunks=1, pages=None)),
        lambda: queue.fail(job, "x", permanent=False),
    ):
        with pytest.raises(JobLost) as lost:
            call()
        assert lost.value.reason == "document_deleted"
    assert queue.requeue_expired() == 0


class ScriptedPipeline:
    """A pipeline double: runs `step` between two progress reports; records removals."""

    def __init__(self, step) -> None:  # type: ignore[no-untyped-def]
        self.step = step
        self.removed: list[str] = []

    def run(self, path: Path, doc: DocumentRef, progress) -> IngestResult:  # type: ignore[no-untyped-def]
        progress("parsing", 0, 1)
        self.step(doc)
        progress("embedding", 1, 1)
        return IngestResult(chunks=1, pages=None)

    def remove(self, doc: DocumentRef) -> int:
        self.removed.append(doc.id)
        return 1


def test_a_document_deleted_while_indexing_does_not_crash_the_worker(queue):
    pipeline = ScriptedPipeline(lambda doc: delete_document(queue, doc.id))
    worker = Worker(queue, pipeline, lease_s=LEASE_S)  # type: ignore[arg-type]
    assert worker.run_once()  # no exception
    assert len(pipeline.removed) == 1  # the points it wrote are removed again
    with queue.sessions() as db:
        assert db.get(Document, pipeline.removed[0]) is None
    assert worker.run_once()  # and it goes on with the next job


def test_the_heartbeat_keeps_a_long_step_s_lease(queue):
    """One step (e.g. parsing) longer than the lease: the heartbeat thread renews it, so another
    worker's sweeps leave it alone."""
    queue.lease_s = 1.0  # heartbeats every 0.25 s: expiring takes a 1 s stall, even on a busy CI
    pipeline = ScriptedPipeline(lambda doc: time.sleep(2.2))
    worker = Worker(queue, pipeline, lease_s=queue.lease_s)  # type: ignore[arg-type]
    stop = threading.Event()
    swept: list[int] = []

    def sweeper() -> None:
        while not stop.wait(0.05):
            swept.append(queue.requeue_expired())

    thread = threading.Thread(target=sweeper)
    thread.start()
    try:
        assert worker.run_once()
    finally:
        stop.set()
        thread.join()
    assert sum(swept) == 0
    with queue.sessions() as db:
        assert db.scalar(select(Job.state).where(Job.attempts == 1)) == "done"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (IndexFull("the index's disk is full: 3 MB free, 16 MB needed"), "the index's disk"),
        (OSError(errno.ENOSPC, "No space left on device"), "the server's disk is full"),
    ],
)
def test_a_full_disk_fails_the_document_with_the_reason(queue, error, reason):
    """Retried like any failure, the document says why meanwhile and after the last attempt."""

    def full(_doc: DocumentRef) -> None:
        raise error

    worker = Worker(queue, ScriptedPipeline(full), lease_s=LEASE_S)  # type: ignore[arg-type]
    for _ in range(MAX_ATTEMPTS):
        with transaction(queue.sessions) as db:  # no backoff wait
            db.execute(update(Job).where(Job.state == "queued").values(run_after=utcnow()))
        assert worker.run_once()
        with queue.sessions() as db:
            doc = db.scalar(select(Document).join(Job).where(Job.attempts > 0))
            assert doc is not None
            assert doc.error is not None
            assert doc.error.startswith(reason), doc.error
    assert doc.status == "failed"
