"""The ingestion job queue on the metadata DB (SQLite embedded, PostgreSQL in production).

A job is claimed by a conditional UPDATE (`... WHERE state = 'queued'`): exactly one worker's
update matches, on either database, so several workers can share the table safely.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Document, Job, utcnow
from app.db.session import transaction
from ingestion.pipeline import DocumentRef, IngestResult, Stage
from ingestion.worker import ClaimedJob

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
                        state="running", locked_by=worker, locked_at=now, attempts=Job.attempts + 1
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
                        ),
                        path=self.originals_dir / doc.id,
                    )
        return None

    def progress(self, job: ClaimedJob, stage: Stage, done: int, total: int) -> None:
        with transaction(self.sessions) as db:
            db.execute(update(Job).where(Job.id == job.id).values(locked_at=utcnow()))
            values: dict[str, object] = {"status": stage}
            if stage == "embedding":
                values |= {"chunks_done": done, "chunks_total": total}
            db.execute(update(Document).where(Document.id == job.document.id).values(**values))

    def complete(self, job: ClaimedJob, result: IngestResult) -> None:
        with transaction(self.sessions) as db:
            db.execute(update(Job).where(Job.id == job.id).values(state="done", error=None))
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
        final = permanent or job.attempt >= MAX_ATTEMPTS
        with transaction(self.sessions) as db:
            if final:
                db.execute(update(Job).where(Job.id == job.id).values(state="failed", error=reason))
                doc_values = {"status": "failed", "error": reason}
            else:
                retry_at = utcnow() + timedelta(seconds=BACKOFF_S * 2 ** (job.attempt - 1))
                db.execute(
                    update(Job)
                    .where(Job.id == job.id)
                    .values(state="queued", error=reason, run_after=retry_at, locked_by=None)
                )
                doc_values = {"status": "queued", "error": reason}
            db.execute(update(Document).where(Document.id == job.document.id).values(**doc_values))

    def requeue_stale(self, *, older_than: timedelta | None = None) -> int:
        """Put back jobs whose worker died (all running ones when `older_than` is None)."""
        condition = [Job.state == "running"]
        if older_than is not None:
            condition.append(Job.locked_at < utcnow() - older_than)
        with transaction(self.sessions) as db:
            result = db.execute(
                update(Job).where(*condition).values(state="queued", locked_by=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
