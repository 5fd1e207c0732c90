"""Per-document erasure: hide at once, stop ingestion, remove every trace, prove it, sign it.

The steps, each idempotent so an interrupted erasure can simply be requested again:
1. In one transaction: record the request, mark the document `erasing`, cancel its jobs and
   retire every index generation of it. From this commit on, no search returns its chunks.
2. Wait until a worker still writing for it has stopped (it checks at every progress report).
3. Delete its points (every generation) and vacuum the index, so the bytes leave the segments.
4. Delete its originals (overwritten first), its job rows and its document row.
5. Compact the metadata DB: SQLite zeroes freed pages (secure_delete) and the WAL is
   checkpointed and truncated; PostgreSQL is vacuumed.
6. Verify: no point, row or original is left, and (embedded index) no index file still holds
   the document's id. Then sign the receipt (no sooner than `query_grace_s` after step 1, so
   no search still in flight can return the document afterwards), store it, append it to the
   erasure log and audit.

`erase_timed` also returns each step's wall time (`timings_ms`, logged with the completion too),
for operators and `evals/bench/erasure_latency.py`; the receipt itself carries no timings.

Deletion by a contributor (their own upload) or a collection admin runs the same steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app import audit, erasure_log, receipts
from app.audit import AuditContext
from app.db.models import Document, Erasure, Job, utcnow
from app.db.session import transaction
from app.errors import UpstreamUnavailable
from app.identity import Principal
from app.originals import PARTIAL_IDLE_S, Originals
from app.purge import compact_database, files_containing
from app.services.erasure_request import Target, begin, completed_receipt
from retrieval.protocols import VectorStore
from retrieval.types import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    """A signed receipt, and the wall time of each step in ms (empty when an earlier
    erasure's receipt is returned): hide, wait_ingestion, delete_points, purge,
    wipe_originals, delete_rows, compact_database, verify, byte_scan, query_grace (the
    deliberate wait), sign, record; and total."""

    receipt: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)


class _Steps:
    """Times the steps of one erasure."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - started) * 1000, 3)


class Eraser:
    """Runs erasures against the metadata DB, the index and the originals directory."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        engine: Engine,
        store: VectorStore,
        originals: Originals,
        index_dir: Path | None,  # the embedded index's directory, for the byte check
        signing_key: Path,
        create_key: bool,
        log_path: Path,
        cancel_wait_s: float,
        lease_s: float,
        query_grace_s: float,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.store = store
        self.originals = originals
        self.index_dir = index_dir
        self.signing_key = signing_key
        self.create_key = create_key
        self.log_path = log_path
        self.cancel_wait_s = cancel_wait_s
        self.lease = timedelta(seconds=lease_s)
        self.query_grace_s = query_grace_s
        self._lock = threading.Lock()  # one erasure at a time per process
        self._key: Ed25519PrivateKey | None = None

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = receipts.load_or_create_key(self.signing_key, create=self.create_key)
        return self._key

    def erase(
        self,
        *,
        document_id: str,
        reason: str,
        principal: Principal,
        kind: str = "erasure",  # "deletion" (uploader or collection admin), "replay" (restore)
        context: AuditContext | None = None,
    ) -> dict[str, Any]:
        """Erase the document and return its signed receipt (the earlier one if already done)."""
        return self.erase_timed(
            document_id=document_id, reason=reason, principal=principal, kind=kind, context=context
        ).receipt

    def erase_timed(
        self,
        *,
        document_id: str,
        reason: str,
        principal: Principal,
        kind: str = "erasure",
        context: AuditContext | None = None,
    ) -> Erased:
        """`erase`, with the wall time of each step."""
        _ = self.key  # fail before touching anything if receipts cannot be signed
        with self._lock:
            done = completed_receipt(self.sessions, document_id, principal)
            if done is not None:
                return Erased(done)
            requested = time.perf_counter()
            step = _Steps()
            with step("hide"):
                target = begin(self.sessions, document_id, reason, principal, kind, context)
            log.info("erasure.started", extra={"document_id": document_id, "mode": kind})
            started = time.perf_counter()
            with step("wait_ingestion"):
                self._wait_for_ingestion_to_stop(target)
            removed = self._remove(target, step)
            verification = self._verify(target, step)
            # a search that passed its last visibility check before the document was hidden
            # has answered by now (answers.search re-checks after retrieval)
            with step("query_grace"):
                time.sleep(max(0.0, self.query_grace_s - (time.perf_counter() - started)))
            with step("sign"):
                receipt = receipts.sign(
                    self._receipt(target, principal, kind, removed, verification), self.key
                )
            with step("record"):
                self._finish(target, receipt, principal, context)
                erasure_log.append(self.log_path, receipt)
            timings = {**step.ms, "total": round((time.perf_counter() - requested) * 1000, 3)}
            log.info(
                "erasure.completed",
                extra={
                    "document_id": document_id,
                    "count": removed["index_points"],
                    "duration_ms": round(timings["total"], 1),
                    "timings_ms": timings,
                },
            )
            return Erased(receipt, timings)

    def replay(self, *, principal: Principal) -> int:
        """Erase again whatever the erasure log names and a restore brought back (rows, points);
        returns how many documents were erased again."""
        again = 0
        for signed in erasure_log.entries(self.log_path):
            done = signed["receipt"]
            document, collection = done["document_id"], done["collection_id"]
            with self.sessions() as db:
                present = db.get(Document, document) is not None
            if present:
                reason = f"replay of erasure {done['request_id']} after a restore"
                self.erase(document_id=document, reason=reason, principal=principal, kind="replay")
                again += 1
            elif self.store.delete_document(scope=Scope.of([collection]), document=document):
                self.store.purge()  # an index restored without its database
                again += 1
        if again:
            log.warning("erasure.replayed", extra={"count": again})
        return again

    # -- steps 2 to 5 ------------------------------------------------------------------------

    def _wait_for_ingestion_to_stop(self, target: Target) -> None:
        deadline = time.monotonic() + self.cancel_wait_s
        while True:
            with self.sessions() as db:
                busy = db.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(
                        Job.document_id == target.document_id,
                        Job.state == "cancelling",
                        Job.locked_at > utcnow() - self.lease,  # a dead worker writes nothing
                    )
                )
            if not busy:
                return
            if time.monotonic() > deadline:
                raise UpstreamUnavailable(
                    f"the ingestion of document {target.document_id!r} has not stopped yet; the "
                    f"document is hidden and erasure request {target.request_id!r} stays open: "
                    "request the erasure again to complete it"
                )
            time.sleep(0.1)

    def _remove(self, target: Target, step: _Steps) -> dict[str, int]:
        scope = Scope.of([target.collection_id])
        with step("delete_points"):
            points = self.store.delete_document(scope=scope, document=target.document_id)
        with step("purge"):
            self.store.purge()
        with step("wipe_originals"):
            originals = sum(self.originals.wipe(g) for g in target.generations)
            partials = self.originals.wipe_partials(idle_s=PARTIAL_IDLE_S)
        with step("delete_rows"), transaction(self.sessions) as db:
            jobs = db.execute(delete(Job).where(Job.document_id == target.document_id)).rowcount  # type: ignore[attr-defined]
            documents = db.execute(
                delete(Document).where(Document.id == target.document_id)
            ).rowcount  # type: ignore[attr-defined]
        with step("compact_database"):
            compact_database(self.engine)
        return {
            "index_points": points,
            "originals": originals,
            "partial_uploads": partials,
            "job_rows": int(jobs or 0),
            "document_rows": int(documents or 0),
        }

    # -- step 6 ------------------------------------------------------------------------------

    def _verify(self, target: Target, step: _Steps) -> dict[str, Any]:
        with step("verify"):
            checks = self._check_removed(target)
        if self.index_dir is not None:
            with step("byte_scan"):
                checks["index_files_naming_document"] = len(
                    files_containing(self.index_dir, target.document_id.encode())
                )
        failed = {k: v for k, v in checks.items() if isinstance(v, int) and v}
        if failed:
            log.error("erasure.verification_failed", extra={"document_id": target.document_id})
            raise UpstreamUnavailable(
                f"erasure {target.request_id!r} could not be verified ({', '.join(failed)}); "
                "request it again"
            )
        return checks

    def _check_removed(self, target: Target) -> dict[str, Any]:
        """No point, row or original of the document is left (counts, each to be 0)."""
        scope = Scope.of([target.collection_id])
        with self.sessions() as db:
            rows = {
                "document_rows_remaining": db.scalar(
                    select(func.count())
                    .select_from(Document)
                    .where(Document.id == target.document_id)
                ),
                "job_rows_remaining": db.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.document_id == target.document_id)
                ),
            }
        return {
            "index_points_remaining": self.store.count(scope=scope, document=target.document_id),
            **rows,
            "originals_remaining": sum(self.originals.exists(g) for g in target.generations),
            "partial_uploads_remaining": len(self.originals.stale_partials(idle_s=PARTIAL_IDLE_S)),
            "database": self.engine.dialect.name,
        }

    def _receipt(
        self,
        target: Target,
        principal: Principal,
        kind: str,
        removed: dict[str, int],
        verification: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "request_id": target.request_id,
            "kind": kind,
            "document_id": target.document_id,
            "content_hash": target.content_hash,
            "collection_id": target.collection_id,
            "requested_by": principal.id,
            "reason": target.reason,
            "requested_at": target.requested_at.isoformat(),
            "completed_at": utcnow().isoformat(),
            "removed": removed,
            "verification": verification,
        }

    def _finish(
        self,
        target: Target,
        receipt: dict[str, Any],
        principal: Principal,
        context: AuditContext | None,
    ) -> None:
        with transaction(self.sessions) as db:
            db.execute(
                update(Erasure)
                .where(Erasure.id == target.request_id)
                .values(state="completed", completed_at=utcnow(), receipt=receipt)
            )
            audit.record(
                db,
                action="erasure.complete",
                principal=principal,
                collection_id=target.collection_id,
                document_id=target.document_id,
                target=target.request_id,
                detail={"removed": receipt["receipt"]["removed"]},
                context=context,
            )
