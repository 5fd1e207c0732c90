"""The worker loop: claim a job, run the pipeline, record the outcome. The queue is a protocol
(the app implements it on the metadata DB), so the loop knows nothing of SQL.

A claim is a lease: while a job runs, a heartbeat thread renews it every quarter lease (one
step, such as parsing a long PDF, can outlast a lease), and every quarter lease the loop sweeps
jobs whose lease expired back into the queue, so a dead worker's job goes to a live one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from ingestion.errors import InvalidDocument, out_of_space
from ingestion.pipeline import DocumentRef, IngestionPipeline, IngestResult, Stage
from retrieval.errors import IndexFull
from retrieval.types import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    attempt: int  # 1 for the first try
    document: DocumentRef
    path: Path  # the stored original


@dataclass(frozen=True)
class RetiredGeneration:
    """Index points no search may see any more (a replaced version, a failed or cancelled run)."""

    generation: str
    document: str
    collection: str


class JobLost(Exception):
    """The job is no longer this worker's: its lease expired and another may run it
    ("lease_expired"), it was cancelled by a newer version or an erasure ("cancelled"), or its
    document was deleted ("document_deleted")."""

    def __init__(self, job_id: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(f"job {job_id} lost ({reason})")


class JobQueue(Protocol):
    """Calls on a claimed job raise `JobLost` once the job is no longer the caller's."""

    def claim(self, worker: str) -> ClaimedJob | None:
        """Atomically take the oldest runnable job, or None."""
        ...

    def heartbeat(self, job: ClaimedJob) -> None:
        """Renew the job's lease."""
        ...

    def progress(self, job: ClaimedJob, stage: Stage, done: int, total: int) -> None:
        """Record progress; renews the lease too."""
        ...

    def complete(self, job: ClaimedJob, result: IngestResult) -> None: ...

    def fail(self, job: ClaimedJob, reason: str, *, permanent: bool) -> None:
        """Record a failure; a transient one is retried later with backoff."""
        ...

    def requeue_expired(self) -> int:
        """Release the jobs whose lease expired; how many."""
        ...

    def cancelled(self, job: ClaimedJob) -> None:
        """The worker has stopped writing for a cancelled job."""
        ...

    def retired(self, *, older_than: timedelta) -> list[RetiredGeneration]: ...

    def forget(self, generation: RetiredGeneration) -> None:
        """The generation's points are gone from the index; drop what is left of it."""
        ...


class Worker:
    """Runs ingestion jobs one at a time, keeping the pipeline's models loaded."""

    def __init__(
        self,
        queue: JobQueue,
        pipeline: IngestionPipeline,
        *,
        lease_s: float,
        poll_interval_s: float = 1.0,
        retire_grace_s: float = 10.0,  # longer than any search: retired points wait this long
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.poll_interval_s = poll_interval_s
        self.beat_s = lease_s / 4  # heartbeats and sweeps: three may fail before a lease ends
        self.retire_grace = timedelta(seconds=retire_grace_s)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]
        self._purge_pending = False  # a purge the full disk put off
        self._disk_full = False  # the last sweep was put off for want of space

    def run_once(self) -> bool:
        """Process one job if there is one; returns whether one was processed."""
        job = self.queue.claim(self.name)
        if job is None:
            return False
        extra = {"job_id": job.id, "document_id": job.document.id, "attempt": job.attempt}
        log.info("job.started", extra=extra)
        try:
            with self._heartbeat(job):
                self._process(job, extra)
        except JobLost as lost:
            log.warning("job.lost", extra={**extra, "reason": lost.reason})
            if lost.reason == "cancelled":
                self.queue.cancelled(job)
            elif lost.reason == "document_deleted":  # what it wrote must not outlive the document
                self.pipeline.remove(job.document)
        return True

    def _process(self, job: ClaimedJob, extra: dict[str, object]) -> None:
        try:
            result = self.pipeline.run(
                job.path,
                job.document,
                progress=lambda stage, done, total: self.queue.progress(job, stage, done, total),
            )
        except JobLost:
            raise
        except InvalidDocument as exc:
            log.info("job.rejected", extra=extra)
            self.queue.fail(job, str(exc), permanent=True)
        except Exception as exc:  # noqa: BLE001 - any other failure is retried
            log.warning("job.failed", exc_info=True, extra=extra)
            self.queue.fail(job, _reason(exc), permanent=False)
        else:
            self.queue.complete(job, result)
            log.info("job.indexed", extra={**extra, "chunks": result.chunks})

    @contextmanager
    def _heartbeat(self, job: ClaimedJob) -> Iterator[None]:
        """Renew the job's lease in a thread while the body runs."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.beat_s):
                try:
                    self.queue.heartbeat(job)
                except JobLost:
                    return  # the job's next progress or outcome call reports it
                except Exception:  # the DB is briefly unreachable: the lease has slack
                    log.warning("job.heartbeat_failed", exc_info=True, extra={"job_id": job.id})

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def release_expired(self) -> int:
        """Put jobs whose lease expired back into the queue; how many."""
        released = self.queue.requeue_expired()
        if released:
            log.info("worker.requeued", extra={"count": released})
        return released

    def sweep(self, *, grace: timedelta | None = None) -> int:
        """Delete retired generations' points once their grace period is over, then vacuum;
        returns how many generations were swept. On a full disk (`IndexFull`) both wait for a
        later sweep."""
        swept = 0
        try:
            for retired in self.queue.retired(
                older_than=self.retire_grace if grace is None else grace
            ):
                self.pipeline.store.delete_document(
                    scope=Scope.of([retired.collection]),
                    document=retired.document,
                    generation=retired.generation,
                )
                self.queue.forget(retired)
                swept += 1
            if swept or self._purge_pending:  # a replaced version leaves no more than an erased one
                self._purge_pending = True
                self.pipeline.store.purge()
                self._purge_pending = False
        except IndexFull:  # the points stay hidden; a later sweep finds room
            if not self._disk_full:
                log.warning("worker.sweep_deferred", extra={"reason": "disk_full"})
            self._disk_full = True
        else:
            self._disk_full = False
        if swept:
            log.info("worker.swept", extra={"count": swept})
        return swept

    def run_until_idle(self, *, on_job: Callable[[], None] = lambda: None) -> int:
        """Process jobs until none is runnable (`on_job` after each), then sweep; returns how
        many ran."""
        ran = 0
        while self.run_once():
            ran += 1
            on_job()
        self.sweep()
        return ran

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Poll for jobs until `stop` is set; `wake` cuts a wait short when work arrives."""
        wake = wake or threading.Event()
        next_sweep = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    self.release_expired()
                    next_sweep = time.monotonic() + self.beat_s
                if self.run_once():
                    continue
                self.sweep()
                wake.wait(self.poll_interval_s)
            except Exception:  # the queue itself failed (e.g. DB locked): back off, keep going
                log.exception("worker.loop_error")
                stop.wait(self.poll_interval_s * 5)
            wake.clear()


def _reason(exc: Exception) -> str:
    """What a document's status says of a failure that is retried (and, after the last attempt,
    that ended it): a full disk in words, anything else by its type only."""
    if isinstance(exc, IndexFull):
        return str(exc)
    if out_of_space(exc):
        return "the server's disk is full (no space left on device)"
    return f"internal error ({type(exc).__name__})"
