"""The ingestion job queue on the metadata DB (SQLite embedded, PostgreSQL in production).

Claiming: a conditional UPDATE (`... WHERE state = 'queued'`) takes a job; exactly one
claimer's update matches. On PostgreSQL the candidate is first row-locked with
`FOR UPDATE SKIP LOCKED`, so concurrent workers take different jobs instead of queueing behind
one row; SQLite has a single writer anyway.

Leases: a running job's `locked_at` is its worker's heartbeat (renewed by `heartbeat` and
`progress`). Once it is older than `lease_s`, any worker's `requeue_expired` releases the job
(retried, or failed after MAX_ATTEMPTS), so a crashed worker's job goes to another. The attempt
number fences the old worker out: its later calls raise `JobLost`, as do the calls for a job
whose document was deleted meanwhile, or that was cancelled (by a newer version of its document
or an erasure: "cancelling", which the worker acknowledges as "cancelled").

Generations: a job is also an index generation (see `Job`). Its points stay hidden from
searches while it runs; `complete` makes it live and retires the document's previous version in
one transaction, so a search sees the old version or the new one, never both or neither.
Retired generations are deleted from the index by the worker's sweep after a grace period that
outlasts any search already under way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Document, Job, utcnow
from app.db.session import transaction
from app.originals import Originals
from ingestion.pipeline import DocumentRef, IngestResult, Stage
from ingestion.worker import ClaimedJob, JobLost, RetiredGeneration

MAX_ATTEMPTS = 3
BACKOFF_S = 5.0
WORKER_LOST = "the worker stopped while indexing it"


class DatabaseJobQueue:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        originals: Originals,
        lease_s: float,
    ) -> None:
        self.sessions = sessions
        self.originals = originals
        self.lease_s = lease_s

    def claim(self, worker: str) -> ClaimedJob | None:
        now = utcnow()
        with transaction(self.sessions) as db:
            for job_id in _candidates(db, now):
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
                    return self._claimed(db, job_id)
        return None

    def _claimed(self, db: Session, job_id: str) -> ClaimedJob:
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
            path=self.originals.path(job.id),
        )

    def heartbeat(self, job: ClaimedJob) -> None:
        """Renew the job's lease; raises `JobLost` if it is no longer this worker's."""
        with transaction(self.sessions) as db:
            _renew(db, job)

    def progress(self, job: ClaimedJob, stage: Stage, done: int, total: int) -> None:
        with transaction(self.sessions) as db:
            _renew(db, job)
            values: dict[str, object] = {"status": stage}
            if stage == "embedding":
                values |= {"chunks_done": done, "chunks_total": total}
            db.execute(update(Document).where(Document.id == job.document.id).values(**values))

    def complete(self, job: ClaimedJob, result: IngestResult) -> None:
        """Make the job's generation live and retire the previous one, atomically."""
        now = utcnow()
        with transaction(self.sessions) as db:
            _update_owned(db, job, state="done", error=None, index_state="live")
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
        """Record a failure: the end of the document's job when `permanent` or its last attempt,
        else a retry after a backoff. A transient `reason` says which of the two it was."""
        final = permanent or job.attempt >= MAX_ATTEMPTS
        if not permanent:
            reason += "; will retry" if not final else f"; gave up after {job.attempt} attempts"
        with transaction(self.sessions) as db:
            if final:  # its points are retired; a previous version stays live
                _update_owned(
                    db,
                    job,
                    state="failed",
                    error=reason,
                    index_state="retired",
                    retired_at=utcnow(),
                )
            else:
                retry_at = utcnow() + timedelta(seconds=BACKOFF_S * 2 ** (job.attempt - 1))
                _update_owned(
                    db, job, state="queued", error=reason, run_after=retry_at, locked_by=None
                )
            db.execute(
                update(Document)
                .where(Document.id == job.document.id)
                .values(status="failed" if final else "queued", error=reason)
            )

    def requeue_expired(self) -> int:
        """Release running jobs whose lease expired (their worker died or hung); how many."""
        return self._release(Job.locked_at < utcnow() - timedelta(seconds=self.lease_s))

    def requeue_stale(self) -> int:
        """Release every running job: at the start of the one process of the embedded default,
        any is an interrupted one. Never with other workers running."""
        return self._release(true())

    def cancelled(self, job: ClaimedJob) -> None:
        """The worker has stopped writing for a cancelled job."""
        with transaction(self.sessions) as db:
            db.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == "cancelling")
                .values(state="cancelled", locked_by=None)
            )

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
        """Its points are deleted: drop the job (unless a worker still writes) and wipe its
        original (zeros first, as an erasure does)."""
        with transaction(self.sessions) as db:
            db.execute(
                delete(Job).where(
                    Job.id == generation.generation,
                    Job.index_state == "retired",
                    Job.state.in_(("done", "failed", "cancelled")),
                )
            )
        self.originals.wipe(generation.generation)

    def _release(self, stale: ColumnElement[bool]) -> int:
        """Requeue the matching running jobs, or fail those that used their last attempt; a
        dead worker's cancelling job counts as cancelled."""
        released = 0
        with transaction(self.sessions) as db:
            db.execute(
                update(Job)
                .where(Job.state == "cancelling", stale)
                .values(state="cancelled", locked_by=None)
            )
            rows = db.execute(
                select(Job.id, Job.attempts, Job.document_id).where(Job.state == "running", stale)
            ).all()
            for job_id, attempts, document_id in rows:
                final = attempts >= MAX_ATTEMPTS
                changed = db.execute(
                    update(Job)
                    .where(
                        Job.id == job_id, Job.state == "running", Job.attempts == attempts, stale
                    )
                    .values(
                        state="failed" if final else "queued",
                        error=WORKER_LOST,
                        locked_by=None,
                        run_after=utcnow(),
                        **({"index_state": "retired", "retired_at": utcnow()} if final else {}),
                    )
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # renewed, or released by another worker meanwhile
                released += 1
                db.execute(
                    update(Document)
                    .where(Document.id == document_id)
                    .values(status="failed" if final else "queued", error=WORKER_LOST)
                )
        return released


def _candidates(db: Session, now: datetime) -> Sequence[str]:
    """Ids of runnable jobs to try, oldest first. PostgreSQL: one, row-locked, passing over rows
    other claimers hold (SKIP LOCKED). SQLite: writes are serialised; the UPDATE decides."""
    query = (
        select(Job.id).where(Job.state == "queued", Job.run_after <= now).order_by(Job.created_at)
    )
    if db.get_bind().dialect.name == "postgresql":
        return db.scalars(query.limit(1).with_for_update(skip_locked=True)).all()
    return db.scalars(query.limit(5)).all()


def _owned(job: ClaimedJob) -> ColumnElement[bool]:
    """Still this claim's: running, and not claimed again since (the attempt is the fence)."""
    return (Job.id == job.id) & (Job.state == "running") & (Job.attempts == job.attempt)


def _renew(db: Session, job: ClaimedJob) -> None:
    _update_owned(db, job, locked_at=utcnow())


def _update_owned(db: Session, job: ClaimedJob, **values: object) -> None:
    """Update the job if it is still this claim's, else raise `JobLost`."""
    result = db.execute(update(Job).where(_owned(job)).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if db.get(Document, job.document.id) is None:
            raise JobLost(job.id, reason="document_deleted")
        state = db.scalar(select(Job.state).where(Job.id == job.id))
        raise JobLost(job.id, reason="cancelled" if state == "cancelling" else "lease_expired")
