"""Documents: store the original, record it, queue its ingestion; list and fetch in scope."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from app import audit, visibility
from app.audit import AuditContext
from app.db.models import Collection, Document, Job, utcnow
from app.db.session import transaction
from app.errors import Conflict, EnclaveError, InvalidRequest, NotFound
from app.identity import Principal
from app.originals import Originals, Readable
from ingestion.pipeline import chunk_id
from retrieval.protocols import VectorStore
from retrieval.types import Chunk, Hit, Scope


def upload(
    *,
    db: Session,
    collection: Collection,
    filename: str,
    stream: Readable,
    originals: Originals,
    max_bytes: int,
    principal: Principal,
    context: AuditContext | None = None,
) -> tuple[Document, bool]:
    """Record a document, queue its ingestion and audit the upload. Returns (document, queued).

    The same bytes uploaded to the same collection again return the existing document without
    new work (unless its ingestion failed: then it is tried again). A different file under the
    name of an existing document is a new version of it: the old version stays searchable until
    the new one is indexed, then the two swap atomically.
    """
    filename = _clean_filename(filename)
    temp, sha256, size = originals.receive(stream, max_bytes=max_bytes)
    try:
        return _record(db, collection, filename, temp, sha256, size, originals, principal, context)
    except BaseException:
        originals.discard(temp)  # gone already once kept (then wiped if never committed)
        raise


def _record(
    db: Session,
    collection: Collection,
    filename: str,
    temp: Path,
    sha256: str,
    size: int,
    originals: Originals,
    principal: Principal,
    context: AuditContext | None,
) -> tuple[Document, bool]:
    """`upload` once the file is in: the rows, the job, the original kept."""
    if size == 0:
        originals.discard(temp)
        raise InvalidRequest("the file is empty")
    in_collection = select(Document).where(Document.collection_id == collection.id)
    same_bytes = db.scalar(in_collection.where(Document.content_hash == sha256))
    if same_bytes is not None and same_bytes.status != "failed":
        originals.discard(temp)
        _audit_upload(db, principal, same_bytes, duplicate=True, context=context)
        return same_bytes, False
    document = same_bytes or db.scalar(in_collection.where(Document.filename == filename))
    if document is not None and document.status == "erasing":
        originals.discard(temp)
        raise Conflict(f"document {document.id!r} is being erased; upload it again afterwards")
    if document is None:
        document = Document(collection_id=collection.id, filename=filename)
        db.add(document)
    else:
        supersede_jobs(db, document.id)
    document.title = Path(filename).stem or filename
    document.content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    document.size_bytes = size
    document.content_hash = sha256
    document.uploaded_by = principal.id
    document.status, document.error = "queued", None
    document.chunks_done = document.chunks_total = 0
    db.flush()
    job = Job(document_id=document.id)
    db.add(job)
    db.flush()
    _keep_original(db, originals, temp, job.id)
    _audit_upload(db, principal, document, duplicate=False, context=context)
    return document, True


def _keep_original(db: Session, originals: Originals, temp: Path, generation: str) -> None:
    """Keep the file as the job's original, and wipe it if the transaction rolls back instead
    of committing (the database went away before the rows were recorded): no row would name
    it, so no erasure could find it."""
    originals.put(temp, generation)
    outcome: list[bool] = []  # [committed] once the session's transaction has ended

    def kept(_session: Session) -> None:
        outcome.append(True)

    def ended(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and not outcome:  # rolled back, or closed uncommitted
            outcome.append(False)
            originals.wipe(generation)

    event.listen(db, "after_commit", kept)
    event.listen(db, "after_transaction_end", ended)


class Uploaded(NamedTuple):
    queued: list[str]  # ids of the documents queued for ingestion
    skipped: int  # already there, same bytes
    failed: list[tuple[str, str]]  # (file name, reason)


def upload_files(
    *,
    sessions: sessionmaker[Session],
    collection: Collection,
    paths: Sequence[Path],
    principal: Principal,
    originals: Originals,
    max_bytes: int,
) -> Uploaded:
    """`upload` each local file into `collection`, one transaction per file; a refused file is
    reported in `failed` and the others go on."""
    uploaded = Uploaded([], 0, [])
    skipped = 0
    for path in paths:
        try:
            with transaction(sessions) as db, path.open("rb") as stream:
                doc, created = upload(
                    db=db,
                    collection=collection,
                    filename=path.name,
                    stream=stream,
                    originals=originals,
                    max_bytes=max_bytes,
                    principal=principal,
                )
        except EnclaveError as exc:
            uploaded.failed.append((path.name, str(exc)))
            continue
        if created:
            uploaded.queued.append(doc.id)
        else:
            skipped += 1
    return uploaded._replace(skipped=skipped)


def supersede_jobs(db: Session, document_id: str) -> None:
    """Cancel the document's unfinished jobs (a newer version or an erasure replaces them) and
    hide their points; a running one stops at its next progress report."""
    now = utcnow()
    unfinished = (Job.document_id == document_id, Job.index_state.in_(("none", "pending")))
    db.execute(
        update(Job)
        .where(*unfinished, Job.state == "queued")
        .values(state="cancelled", index_state="retired", retired_at=now)
    )
    db.execute(
        update(Job)
        .where(*unfinished, Job.state == "running")
        .values(state="cancelling", index_state="retired", retired_at=now)
    )


def _audit_upload(
    db: Session,
    principal: Principal,
    document: Document,
    *,
    duplicate: bool,
    context: AuditContext | None,
) -> None:
    audit.record(
        db,
        action="document.upload",
        principal=principal,
        collection_id=document.collection_id,
        document_id=document.id,
        detail={"duplicate": duplicate, "bytes": document.size_bytes, "via": principal.via},
        context=context,
    )


def list_in_collection(*, db: Session, scope: Scope, collection_id: str) -> list[Document]:
    return list(
        db.scalars(
            select(Document)
            .where(
                Document.collection_id == collection_id,
                Document.collection_id.in_(scope.collections),
            )
            .order_by(Document.created_at)
        )
    )


def get(*, db: Session, scope: Scope, document_id: str) -> Document:
    document = db.scalar(
        select(Document).where(
            Document.id == document_id, Document.collection_id.in_(scope.collections)
        )
    )
    if document is None:
        raise NotFound(f"document {document_id!r} not found")
    return document


def original(
    *, db: Session, scope: Scope, originals: Originals, document_id: str
) -> tuple[Document, Path]:
    """A document in scope and the file it was uploaded as (its newest version not being
    replaced or erased); NotFound for a document out of scope or being erased."""
    document = get(db=db, scope=scope, document_id=document_id)
    if document.status == "erasing":
        raise NotFound(f"document {document_id!r} not found")
    versions = db.scalars(
        select(Job.id)
        .where(Job.document_id == document.id, Job.index_state != "retired")
        .order_by(Job.created_at.desc())
    )
    for generation in versions:
        if originals.exists(generation):
            return document, originals.path(generation)
    raise NotFound(f"the original file of document {document_id!r} is not kept")


def chunks(
    *,
    db: Session,
    sessions: sessionmaker[Session],
    store: VectorStore,
    scope: Scope,
    document_id: str,
    offset: int,
    limit: int,
) -> list[Chunk]:
    """The chunks of a document in scope, in reading order from `offset`: those of its live
    version (none while its first version is being indexed). NotFound out of scope."""
    document = get(db=db, scope=scope, document_id=document_id)
    live = select(Job.id).where(Job.document_id == document.id, Job.index_state == "live")
    generation = db.scalar(live)
    db.commit()  # no pooled connection held across the index read
    if generation is None or document.status == "erasing":
        return []
    ids = [chunk_id(document.id, generation, i) for i in range(offset, offset + limit)]
    found = store.get(scope=scope.narrowed_to([document.collection_id]), ids=ids)
    # Re-read after the index read: a version replaced or erased meanwhile shows nothing.
    return [h.chunk for h in visibility.drop_hidden(sessions, [Hit(c, 0.0) for c in found])]


def titles(*, db: Session, scope: Scope, ids: set[str]) -> dict[str, Document]:
    """Documents by id, in scope (for citations)."""
    rows = db.scalars(
        select(Document).where(Document.id.in_(ids), Document.collection_id.in_(scope.collections))
    )
    return {d.id: d for d in rows}


def _clean_filename(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name or name in {".", ".."}:
        raise InvalidRequest("the upload needs a file name")
    return name[:255]
