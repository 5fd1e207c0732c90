"""The worker loop: claim a job, run the pipeline, record the outcome. The queue is a protocol
(the app implements it on the metadata DB), so the loop knows nothing of SQL."""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from ingestion.errors import InvalidDocument, JobCancelled
from ingestion.pipeline import DocumentRef, IngestionPipeline, IngestResult, Stage
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


class JobQueue(Protocol):
    """The worker's side of the queue. `progress`, `complete` and `fail` raise `JobCancelled`
    when the job was cancelled meanwhile; the worker then stops and calls `cancelled`."""

    def claim(self, worker: str) -> ClaimedJob | None:
        """Atomically take the oldest runnable job, or None."""
        ...

    def progress(self, job: ClaimedJob, stage: Stage, done: int, total: int) -> None: ...

    def complete(self, job: ClaimedJob, result: IngestResult) -> None:
        """Make the job's generation live, retiring the document's previous one atomically."""
        ...

    def fail(self, job: ClaimedJob, reason: str, *, permanent: bool) -> None:
        """Record a failure; a transient one is retried later with backoff."""
        ...

    def cancelled(self, job: ClaimedJob) -> None: ...

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
        poll_interval_s: float = 1.0,
        retire_grace_s: float = 10.0,  # longer than any search: retired points wait this long
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.poll_interval_s = poll_interval_s
        self.retire_grace = timedelta(seconds=retire_grace_s)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]

    def run_once(self) -> bool:
        """Process one job if there is one; returns whether one was processed."""
        job = self.queue.claim(self.name)
        if job is None:
            return False
        extra = {"job_id": job.id, "document_id": job.document.id, "attempt": job.attempt}
        log.info("job.started", extra=extra)
        try:
            self._run(job, extra)
        except JobCancelled:
            log.info("job.cancelled", extra=extra)
            self.queue.cancelled(job)
        return True

    def _run(self, job: ClaimedJob, extra: dict[str, object]) -> None:
        try:
            result = self.pipeline.run(
                job.path,
                job.document,
                progress=lambda stage, done, total: self.queue.progress(job, stage, done, total),
            )
        except JobCancelled:
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

    def sweep(self, *, grace: timedelta | None = None) -> int:
        """Delete retired generations' points once their grace period is over; returns how many
        generations were swept."""
        swept = 0
        for retired in self.queue.retired(older_than=self.retire_grace if grace is None else grace):
            self.pipeline.store.delete_document(
                scope=Scope.of([retired.collection]),
                document=retired.document,
                generation=retired.generation,
            )
            self.queue.forget(retired)
            swept += 1
        if swept:
            log.info("worker.swept", extra={"count": swept})
        return swept

    def run_until_idle(self) -> int:
        """Process jobs until none is runnable; returns how many ran."""
        ran = 0
        while self.run_once():
            ran += 1
        self.sweep()
        return ran

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Poll for jobs until `stop` is set; `wake` cuts a wait short when work arrives."""
        wake = wake or threading.Event()
        while not stop.is_set():
            try:
                if self.run_once():
                    continue
                self.sweep()
                wake.wait(self.poll_interval_s)
            except Exception:  # the queue itself failed (e.g. DB locked): back off, keep going
                log.exception("worker.loop_error")
                stop.wait(self.poll_interval_s * 5)
            wake.clear()
