"""The worker loop: claim a job, run the pipeline, record the outcome. The queue is a protocol
(the app implements it on the metadata DB), so the loop knows nothing of SQL."""

from __future__ import annotations

import logging
import os
import socket
import threading
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


class JobQueue(Protocol):
    def claim(self, worker: str) -> ClaimedJob | None:
        """Atomically take the oldest runnable job, or None."""
        ...

    def progress(self, job: ClaimedJob, stage: Stage, done: int, total: int) -> None: ...

    def complete(self, job: ClaimedJob, result: IngestResult) -> None: ...

    def fail(self, job: ClaimedJob, reason: str, *, permanent: bool) -> None:
        """Record a failure; a transient one is retried later with backoff."""
        ...


class Worker:
    """Runs ingestion jobs one at a time, keeping the pipeline's models loaded."""

    def __init__(
        self, queue: JobQueue, pipeline: IngestionPipeline, *, poll_interval_s: float = 1.0
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.poll_interval_s = poll_interval_s
        self.name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]

    def run_once(self) -> bool:
        """Process one job if there is one; returns whether one was processed."""
        job = self.queue.claim(self.name)
        if job is None:
            return False
        extra = {"job_id": job.id, "document_id": job.document.id, "attempt": job.attempt}
        log.info("job.started", extra=extra)
        try:
            result = self.pipeline.run(
                job.path,
                job.document,
                progress=lambda stage, done, total: self.queue.progress(job, stage, done, total),
            )
        except InvalidDocument as exc:
            log.info("job.rejected", extra=extra)
            self.queue.fail(job, str(exc), permanent=True)
        except Exception as exc:  # noqa: BLE001 - any other failure is retried
            log.warning("job.failed", exc_info=True, extra=extra)
            self.queue.fail(
                job, f"internal error ({type(exc).__name__}); will retry", permanent=False
            )
        else:
            log.info("job.indexed", extra={**extra, "chunks": result.chunks})
            self.queue.complete(job, result)
        return True

    def run_until_idle(self) -> int:
        """Process jobs until none is runnable; returns how many ran."""
        ran = 0
        while self.run_once():
            ran += 1
        return ran

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Poll for jobs until `stop` is set; `wake` cuts a wait short when work arrives."""
        wake = wake or threading.Event()
        while not stop.is_set():
            try:
                if self.run_once():
                    continue
                wake.wait(self.poll_interval_s)
            except Exception:  # the queue itself failed (e.g. DB locked): back off, keep going
                log.exception("worker.loop_error")
                stop.wait(self.poll_interval_s * 5)
            wake.clear()
