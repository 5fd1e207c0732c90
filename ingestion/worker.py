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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingestion.errors import InvalidDocument
from ingestion.pipeline import DocumentRef, IngestionPipeline, IngestResult, Stage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    attempt: int  # 1 for the first try
    document: DocumentRef
    path: Path  # the stored original


class JobLost(Exception):
    """The job is no longer this worker's: its lease expired and another may run it, or its
    document was deleted."""

    def __init__(self, job_id: str, *, document_deleted: bool) -> None:
        self.document_deleted = document_deleted
        self.reason = "document_deleted" if document_deleted else "lease_expired"
        super().__init__(f"job {job_id} lost ({self.reason})")


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


class Worker:
    """Runs ingestion jobs one at a time, keeping the pipeline's models loaded."""

    def __init__(
        self,
        queue: JobQueue,
        pipeline: IngestionPipeline,
        *,
        lease_s: float,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.poll_interval_s = poll_interval_s
        self.beat_s = lease_s / 4  # heartbeats and sweeps: three may fail before a lease ends
        self.name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]

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
            if lost.document_deleted:  # what this run wrote must not outlive the document
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
            self.queue.fail(
                job, f"internal error ({type(exc).__name__}); will retry", permanent=False
            )
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

    def sweep(self) -> int:
        """Put jobs whose lease expired back into the queue; how many."""
        released = self.queue.requeue_expired()
        if released:
            log.info("worker.requeued", extra={"count": released})
        return released

    def run_until_idle(self) -> int:
        """Process jobs until none is runnable; returns how many ran."""
        ran = 0
        while self.run_once():
            ran += 1
        return ran

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Poll for jobs until `stop` is set; `wake` cuts a wait short when work arrives."""
        wake = wake or threading.Event()
        next_sweep = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + self.beat_s
                if self.run_once():
                    continue
                wake.wait(self.poll_interval_s)
            except Exception:  # the queue itself failed (e.g. DB locked): back off, keep going
                log.exception("worker.loop_error")
                stop.wait(self.poll_interval_s * 5)
            wake.clear()
