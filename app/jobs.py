"""The ingestion job queue on the metadata DB (SQLite embedded, PostgreSQL in production).

A job is claimed by a conditional UPDATE (`... WHERE state = 'queued'`): exactly one worker's
update matches, on either database, so several workers can share the table safely.

A job is also an index generation (see `Job`): its points stay hidden from searches while it
runs, and `complete` makes it live and retires the document's previous version in one
transaction, so a search sees the old version or the new one, never both or neither. Retired
generations are deleted from the index by the worker's sweep after a grace period that outlasts
any search already under way. An erasure cancels a running job ("cancelling"); the worker
stops at its next progress report and acknowledges ("cancelled").
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Document, Job, utcnow
from app.db.session import transaction
from ingestion.errors import JobCancelled
from ingestion.pipeline import DocumentRef, IngestResult, Stage
from ingestion.worker import ClaimedJob, RetiredGeneration

MAX_ATTEMPTS = 3
BACKOFF_S = 5.0


class DatabaseJobQueue:
    def __init__(self, sessions: sessionmaker[Session], *, originals_dir: Path) -> None:
        self.sessions = sessions
        self.originals_dir = originals_dir

    def claim(self, worker: str) -> ClaimedJob | None:
        now = utcnow()
        with transaction(self.sessions) as db:
            candidates = db.scalars(
                select(Job.id)
                .where(Job.state == "queued", Job.run_after <= now)
                .order_by(Job.created_at)
                .limit(5)
            ).all()
            for job_id in candidates:
                claimed = db.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.state == "queued")
                    .values(
                        state="running",
                        locked_by=worker,
                        locked_at=now,
                        attempts=Job.attempts + 1,
                        index_state="pending",
                    )
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    job = db.get_one(Job, job_id)
                    doc = db.get_one(Document, job.document_id)
                    return ClaimedJob(
                        id=job.id,
                        attempt=job.attempts,
                        document=DocumentRef(
                            id=doc.id,
                            collection=doc.collection_id,
                            title=doc.title,
                            filename=doc.filename,
                            generation=job.id,
                        ),
                        path=self.originals_dir / job.id,
                    )
        return None

    def progress(self, job: ClaimedJob, stage: Stage, done: int, total: int) -> None:
        """Record the stage and renew the job's lease; raises `JobCancelled` if it was cancelled."""
        with transaction(self.sessions) as db:
            _still_running(db, job, locked_at=utcnow())
            values: dict[str, object] = {"status": stage}
            if stage == "embedding":
                values |= {"chunks_done": done, "chunks_total": total}
            db.execute(update(Document).where(Document.id == job.document.id).values(**values))

    def complete(self, job: ClaimedJob, result: IngestResult) -> None:
        """Make the job's generation live and retire the previous one, atomically."""
        now = utcnow()
        with transaction(self.sessions) as db:
            _still_running(db, job, state="done", error=None, index_state="live")
            db.execute(
                update(Job)
                .where(
                    Job.document_id == job.document.id,
                    Job.index_state == "live",
                    Job.id != job.id,
                )
                .values(index_state="retired", retired_at=now)
            )
            db.execute(
                update(Document)
                .where(Document.id == job.document.id)
                .values(
                    status="indexed",
                    error=None,
                    chunks_total=result.chunks,
                    chunks_done=result.chunks,
                    pages=result.pages,
                )
            )

    def fail(self, job: ClaimedJob, reason: str, *, permanent: bool) -> None:
        """Record a failure: retried later with backoff, or final (its points are retired; a
        previous version of the document stays live). Raises `JobCancelled` if cancelled."""
        final = permanent or job.attempt >= MAX_ATTEMPTS
        now = utcnow()
        with transaction(self.sessions) as db:
            if final:
                _still_running(
                    db, job, state="failed", error=reason, index_state="retired", retired_at=now
                )
                doc_values = {"status": "failed", "error": reason}
            else:
                retry_at = now + timedelta(seconds=BACKOFF_S * 2 ** (job.attempt - 1))
                _still_running(
                    db, job, state="queued", error=reason, run_after=retry_at, locked_by=None
                )
                doc_values = {"status": "queued", "error": reason}
            db.execute(update(Document).where(Document.id == job.document.id).values(**doc_values))

    def cancelled(self, job: ClaimedJob) -> None:
        """The worker has stopped writing for a cancelled job."""
        with transaction(self.sessions) as db:
            db.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == "cancelling")
                .values(state="cancelled", locked_by=None)
            )

    def requeue_stale(self, *, older_than: timedelta | None = None) -> int:
        """Put back jobs whose worker died (all running ones when `older_than` is None); a dead
        worker's cancelling job counts as cancelled."""
        stale = [] if older_than is None else [Job.locked_at < utcnow() - older_than]
        with transaction(self.sessions) as db:
            db.execute(
                update(Job)
                .where(Job.state == "cancelling", *stale)
                .values(state="cancelled", locked_by=None)
            )
            result = db.execute(
                update(Job)
                .where(Job.state == "running", *stale)
                .values(state="queued", locked_by=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def retired(self, *, older_than: timedelta) -> list[RetiredGeneration]:
        """Retired generations whose grace period is over, oldest first."""
        with self.sessions() as db:
            rows = db.execute(
                select(Job.id, Job.document_id, Document.collection_id)
                .join(Document, Document.id == Job.document_id)
                .where(Job.index_state == "retired", Job.retired_at <= utcnow() - older_than)
                .order_by(Job.retired_at)
            ).all()
        return [RetiredGeneration(generation=j, document=d, collection=c) for j, d, c in rows]

    def forget(self, generation: RetiredGeneration) -> None:
        """Its points are deleted: drop the job (unless it is still running) and its original."""
        with transaction(self.sessions) as db:
            db.execute(
                delete(Job).where(
                    Job.id == generation.generation,
                    Job.index_state == "retired",
                    Job.state.in_(("done", "failed", "cancelled")),
                )
            )
        (self.originals_dir / generation.generation).unlink(missing_ok=True)


def _still_running(db: Session, job: ClaimedJob, **values: object) -> None:
    """Update the job if it is still running; raise `JobCancelled` if it was cancelled."""
    updated = db.execute(
        update(Job).where(Job.id == job.id, Job.state == "running").values(**values)
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        raise JobCancelled(job.id)
