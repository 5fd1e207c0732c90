"""Documents: store the original, record it, queue its ingestion; list and fetch in scope."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
from pathlib import Path
from typing import Protocol

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit
from app.db.models import Collection, Document, Job
from app.errors import InvalidRequest, NotFound, PayloadTooLarge
from app.identity import Principal
from retrieval.types import Scope

_COPY_BLOCK = 1024 * 1024


class Readable(Protocol):
    """An open file, or an upload streaming in (`app.api.uploads.MultipartFile`)."""

    def read(self, size: int = -1, /) -> bytes: ...


def store_original(
    stream: Readable, *, originals_dir: Path, max_bytes: int
) -> tuple[Path, str, int]:
    """Copy an upload to a temp file beside the originals, hashing it; refuse it past `max_bytes`.

    Returns (temp path, sha256 hex, size). The caller renames it into place or deletes it.
    """
    originals_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=originals_dir, prefix=".upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(_COPY_BLOCK):
                size += len(block)
                if size > max_bytes:
                    raise too_large(max_bytes)
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise InvalidRequest("the file is empty")
    return path, digest.hexdigest(), size


def too_large(max_bytes: int) -> PayloadTooLarge:
    """The one refusal of an upload past the size limit (`max_bytes`)."""
    return PayloadTooLarge(f"upload exceeds the limit of {max_bytes // 2**20} MB")


def upload(
    *,
    db: Session,
    collection: Collection,
    filename: str,
    stream: Readable,
    originals_dir: Path,
    max_bytes: int,
    principal: Principal,
    request: Request | None = None,
) -> tuple[Document, bool]:
    """Record a document, queue its ingestion and audit the upload. Returns (document, created).

    The same bytes uploaded to the same collection again return the existing document.
    """
    filename = _clean_filename(filename)
    temp, sha256, size = store_original(stream, originals_dir=originals_dir, max_bytes=max_bytes)
    existing = db.scalar(
        select(Document).where(
            Document.collection_id == collection.id, Document.content_hash == sha256
        )
    )
    if existing is not None:
        temp.unlink(missing_ok=True)
        _audit_upload(db, principal, existing, duplicate=True, request=request)
        return existing, False
    document = Document(
        collection_id=collection.id,
        filename=filename,
        title=Path(filename).stem or filename,
        content_type=mimetypes.guess_type(filename)[0] or "application/octet-stream",
        size_bytes=size,
        content_hash=sha256,
        uploaded_by=principal.id,
    )
    db.add(document)
    db.flush()
    db.add(Job(document_id=document.id))
    temp.rename(originals_dir / document.id)
    _audit_upload(db, principal, document, duplicate=False, request=request)
    return document, True


def _audit_upload(
    db: Session,
    principal: Principal,
    document: Document,
    *,
    duplicate: bool,
    request: Request | None,
) -> None:
    audit.record(
        db,
        action="document.upload",
        principal=principal,
        collection_id=document.collection_id,
        document_id=document.id,
        detail={"duplicate": duplicate, "bytes": document.size_bytes, "via": principal.via},
        request=request,
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
