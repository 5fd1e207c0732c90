"""Index generations on the real stack (SQLite + qdrant-edge + the real pipeline): a document
being indexed is invisible, a new version swaps in atomically, a failed version leaves the old
one live, and a superseded run is cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import visibility
from app.db.models import Collection, Document, Job
from app.runtime import Runtime, build_runtime
from ingestion.worker import JobLost
from retrieval.types import Scope
from tests.support import fast_settings, new_collection, upload_text

V1 = "Valve XJ-220 torque is 40 Nm. " * 1500  # several chunks
V2 = "Valve XJ-220 torque was revised to 55 Nm after the recall. " * 800


class Crash(BaseException):
    """The worker process dying (nothing catches it)."""


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = fast_settings(tmp_path / "data")
    settings.ingestion.isolate_parsing = False
    settings.ingestion.embed_batch_size = 2
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def collection(runtime: Runtime) -> Collection:
    return new_collection(runtime, "manuals")


def upload(runtime: Runtime, collection: Collection, text: str, name: str = "valve.txt") -> str:
    return upload_text(runtime, collection, name, text)


def seen(runtime: Runtime, collection: Collection) -> set[str]:
    """The texts a search returns now, through the same visibility filter the API uses."""
    with runtime.sessions() as db:
        scope = visibility.visible(db, Scope.of([collection.id]))
    hits = runtime.retriever.search("XJ-220 torque Nm", scope=scope, k=50).hits
    return {h.chunk.text.split(".")[0] for h in hits}


def status(runtime: Runtime, document_id: str) -> str:
    with runtime.sessions() as db:
        return db.get_one(Document, document_id).status


def test_a_document_is_invisible_until_its_last_chunk_is_indexed(runtime, collection) -> None:
    upload(runtime, collection, V1)
    job = runtime.jobs.claim("w")
    assert job is not None

    def crash_after_two_batches(stage, done, total) -> None:
        runtime.jobs.progress(job, stage, done, total)
        if stage == "embedding" and done >= 4:
            raise Crash  # the worker dies here, its points half written

    with pytest.raises(Crash):
        runtime.pipeline.run(job.path, job.document, progress=crash_after_two_batches)
    assert runtime.store.count(scope=Scope.of([collection.id])) >= 4  # they are in the index
    assert seen(runtime, collection) == set()  # ... and no search shows them
    assert runtime.jobs.requeue_stale() == 1
    runtime.worker().run_until_idle()
    assert seen(runtime, collection) == {"Valve XJ-220 torque is 40 Nm"}


def test_a_new_version_replaces_the_old_atomically(runtime, collection) -> None:
    document = upload(runtime, collection, V1)
    worker = runtime.worker()
    worker.run_until_idle()
    v1_chunks = runtime.store.count(scope=Scope.of([collection.id]))

    assert upload(runtime, collection, V2) == document  # same name: a new version
    job = runtime.jobs.claim("w")
    result = runtime.pipeline.run(job.path, job.document)
    # both versions are in the index; searches see the old one only
    assert seen(runtime, collection) == {"Valve XJ-220 torque is 40 Nm"}
    runtime.jobs.complete(job, result)
    # the swap is one transaction: now the new one only, the old points still there, hidden
    assert seen(runtime, collection) == {
        "Valve XJ-220 torque was revised to 55 Nm after the recall"
    }
    assert runtime.store.count(scope=Scope.of([collection.id])) == v1_chunks + result.chunks
    assert worker.sweep() == 0  # still inside the grace period
    assert worker.sweep(grace=timedelta(0)) == 1
    assert runtime.store.count(scope=Scope.of([collection.id])) == result.chunks
    with runtime.sessions() as db:
        jobs = db.scalars(select(Job).where(Job.document_id == document)).all()
    assert [(j.state, j.index_state) for j in jobs] == [("done", "live")]
    assert sorted(p.name for p in runtime.settings.originals_dir.iterdir()) == [jobs[0].id]


def test_a_failed_new_version_leaves_the_old_one_searchable(runtime, collection) -> None:
    document = upload(runtime, collection, V1, name="valve.pdf")
    runtime.worker().run_until_idle()
    upload(runtime, collection, "%PDF-1.4 this is not a pdf at all", name="valve.pdf")
    runtime.worker().run_until_idle()
    assert status(runtime, document) == "failed"
    assert seen(runtime, collection) == {"Valve XJ-220 torque is 40 Nm"}


def test_uploading_a_new_version_cancels_the_running_older_one(runtime, collection) -> None:
    upload(runtime, collection, V1)
    old = runtime.jobs.claim("w")
    upload(runtime, collection, V2)
    with pytest.raises(JobLost, match="cancelled"):
        runtime.pipeline.run(
            old.path,
            old.document,
            progress=lambda s, d, t: runtime.jobs.progress(old, s, d, t),
        )
    runtime.jobs.cancelled(old)
    runtime.worker().run_until_idle()
    assert seen(runtime, collection) == {
        "Valve XJ-220 torque was revised to 55 Nm after the recall"
    }
    runtime.worker().sweep(grace=timedelta(0))
    with runtime.sessions() as db:
        states = db.scalars(select(Job.state)).all()
    assert states == ["done"]


def test_the_same_bytes_again_cost_nothing_but_a_failed_document_is_retried(
    runtime, collection
) -> None:
    first = upload(runtime, collection, V1)
    runtime.worker().run_until_idle()
    assert upload(runtime, collection, V1, name="copy.txt") == first
    with runtime.sessions() as db:
        assert db.scalar(select(Job).where(Job.state == "queued")) is None
