"""Step 1 of an erasure: who may ask, and recording the request while hiding the document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app import audit
from app.audit import AuditContext
from app.db.models import Document, Erasure, Job, as_utc, utcnow
from app.db.session import transaction
from app.errors import Forbidden, NotFound
from app.identity import COMPLIANCE_OFFICER, Principal


@dataclass(frozen=True)
class Target:
    """What an erasure request is about (read in step 1, before any row goes)."""

    request_id: str
    document_id: str
    collection_id: str
    content_hash: str
    requested_at: datetime
    generations: tuple[str, ...]
    reason: str  # the requester's reference (a case or ticket id), signed into the receipt


def authorise(principal: Principal, document: Document, kind: str) -> None:
    """Erasure: compliance officers. Deletion: a collection admin (delete permission), or the
    uploader while they may still write to the collection. Others: not found or forbidden."""
    if kind in ("erasure", "replay"):
        if not principal.has_role(COMPLIANCE_OFFICER):
            raise Forbidden("erasure needs the compliance officer role")
        return
    collection = document.collection_id
    if principal.can("delete", collection):
        return
    if principal.can("write", collection) and document.uploaded_by == principal.id:
        return
    if principal.can("read", collection):
        raise Forbidden("only the uploader or a collection admin may delete this document")
    raise NotFound(f"document {document.id!r} not found")


def completed_receipt(
    sessions: sessionmaker[Session], document_id: str, principal: Principal
) -> dict[str, Any] | None:
    """Erasing an erased document again returns its receipt (to a compliance officer)."""
    with sessions() as db:
        if db.get(Document, document_id) is not None:
            return None
        done = db.scalar(
            select(Erasure)
            .where(Erasure.document_id == document_id, Erasure.state == "completed")
            .order_by(Erasure.completed_at.desc())
        )
    if done is None or not principal.has_role(COMPLIANCE_OFFICER):
        raise NotFound(f"document {document_id!r} not found")
    return done.receipt


def begin(
    sessions: sessionmaker[Session],
    document_id: str,
    reason: str,
    principal: Principal,
    kind: str,
    context: AuditContext | None,
) -> Target:
    """Step 1, in one transaction: record the request (or carry on an interrupted one), mark
    the document `erasing`, cancel its jobs and retire every generation of it."""
    now = utcnow()
    with transaction(sessions) as db:
        document = db.get(Document, document_id)
        if document is None:
            raise NotFound(f"document {document_id!r} not found")
        authorise(principal, document, kind)
        erasure = db.scalar(
            select(Erasure).where(Erasure.document_id == document_id, Erasure.state == "requested")
        )
        if erasure is None:  # else: an interrupted erasure, carried on under its own id
            erasure = Erasure(
                document_id=document.id,
                collection_id=document.collection_id,
                content_hash=document.content_hash,
                reason=reason,
                requested_by=principal.id,
                requested_at=now,
            )
            db.add(erasure)
        document.status, document.error = "erasing", None
        jobs = Job.document_id == document_id
        db.execute(
            update(Job)
            .where(jobs, Job.state == "running")
            .values(state="cancelling", locked_at=now)
        )
        db.execute(update(Job).where(jobs, Job.state == "queued").values(state="cancelled"))
        db.execute(
            update(Job)
            .where(jobs, Job.index_state != "retired")
            .values(index_state="retired", retired_at=now)
        )
        generations = tuple(db.scalars(select(Job.id).where(jobs)))
        db.flush()
        audit.record(
            db,
            action="erasure.request",
            principal=principal,
            collection_id=document.collection_id,
            document_id=document.id,
            target=erasure.id,
            reason=kind,
            context=context,
        )
        return Target(
            request_id=erasure.id,
            document_id=document.id,
            collection_id=document.collection_id,
            content_hash=document.content_hash,
            requested_at=as_utc(erasure.requested_at),
            reason=erasure.reason,
            generations=generations,
        )
