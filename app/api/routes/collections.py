"""/v1/collections and their documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app import audit
from app.api import uploads
from app.api.deps import (
    AuditDep,
    PrincipalDep,
    RuntimeDep,
    ScopeDep,
    SessionDep,
    require,
    require_role,
)
from app.api.protocol import (
    ChunkOut,
    ChunkPage,
    CollectionIn,
    CollectionOut,
    DocumentOut,
    UploadOut,
)
from app.api.ratelimit import throttle
from app.api.routes.search import chunk_out
from app.db.models import Collection
from app.denials import audit_context
from app.identity import PLATFORM_ADMIN, Principal
from app.runtime import Runtime
from app.services import collections, documents

router = APIRouter(prefix="/v1", tags=["collections"])
PlatformAdmin = Annotated[Principal, require_role(PLATFORM_ADMIN)]
Writable = Annotated[Collection, require("write")]


@router.get("/collections", response_model=list[CollectionOut])
def list_collections(db: SessionDep, scope: ScopeDep) -> list[CollectionOut]:
    """The collections you may read."""
    return [
        CollectionOut(
            id=c.id, name=c.name, description=c.description, documents=n, created_at=c.created_at
        )
        for c, n in collections.list_visible(db=db, scope=scope)
    ]


@router.post("/collections", response_model=CollectionOut, status_code=status.HTTP_201_CREATED)
def create_collection(
    body: CollectionIn, db: SessionDep, principal: PlatformAdmin, context: AuditDep
) -> CollectionOut:
    """Platform admins only; the creator becomes the collection's admin."""
    created = collections.create(
        db=db, name=body.name, description=body.description, admin_user_id=principal.id
    )
    audit.record(
        db,
        action="collection.create",
        principal=principal,
        collection_id=created.id,
        context=context,
    )
    return CollectionOut(
        id=created.id,
        name=created.name,
        description=created.description,
        documents=0,
        created_at=created.created_at,
    )


@router.get("/collections/{collection}/documents", response_model=list[DocumentOut])
def list_documents(collection: str, db: SessionDep, scope: ScopeDep) -> list[DocumentOut]:
    found = collections.get(db=db, scope=scope, ref=collection)
    docs = documents.list_in_collection(db=db, scope=scope, collection_id=found.id)
    return [DocumentOut.model_validate(d) for d in docs]


@router.post(
    "/collections/{collection}/documents",
    response_model=UploadOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=uploads.OPENAPI_BODY,
    dependencies=[throttle("upload")],
)
async def upload_document(
    target: Writable,
    db: SessionDep,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    request: Request,
) -> UploadOut:
    """Store the file (multipart part `file`) and queue it for ingestion (needs contributor or
    collection_admin); poll the document for its status. The same bytes again answer with the
    existing document and `duplicate: true`.

    The body is read only now, after the caller's write permission was checked."""
    max_bytes = runtime.settings.server.max_upload_bytes
    boundary = uploads.check(request, max_bytes=max_bytes)
    # End the read transaction: a queued or slow upload holds no pooled database connection.
    await run_in_threadpool(db.commit)
    return await uploads.in_upload_thread(
        request, store_upload, target, db, principal, runtime, boundary, max_bytes
    )


def store_upload(
    target: Collection,
    db: Session,
    principal: Principal,
    runtime: Runtime,
    boundary: bytes,
    max_bytes: int,
    request: Request,
) -> UploadOut:
    idle_s = runtime.settings.limits.body_timeout_s
    upload = uploads.receive(request, boundary=boundary, max_bytes=max_bytes, idle_s=idle_s)
    document, created = documents.upload(
        db=db,
        collection=target,
        filename=upload.filename,
        stream=upload,
        originals=runtime.originals,
        max_bytes=max_bytes,
        principal=principal,
        context=audit_context(request),
    )
    db.commit()  # before the worker is woken: the request's own commit comes after this returns
    runtime.wake_worker()
    return UploadOut.model_validate(document).model_copy(update={"duplicate": not created})


@router.get("/documents/{document_id}", response_model=DocumentOut)
def get_document(document_id: str, db: SessionDep, scope: ScopeDep) -> DocumentOut:
    return DocumentOut.model_validate(documents.get(db=db, scope=scope, document_id=document_id))


@router.get("/documents/{document_id}/chunks", response_model=ChunkPage)
def list_chunks(
    document_id: str,
    db: SessionDep,
    scope: ScopeDep,
    runtime: RuntimeDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ChunkPage:
    """A document's chunks in reading order, with their page and section (readers of its
    collection), a page of `limit` at a time."""
    found = documents.chunks(
        db=db,
        sessions=runtime.sessions,
        store=runtime.store,
        scope=scope,
        document_id=document_id,
        offset=offset,
        limit=limit,
    )
    return ChunkPage(
        chunks=[ChunkOut(**chunk_out(c)) for c in found],
        next_offset=offset + limit if len(found) == limit else None,
    )


@router.get(
    "/documents/{document_id}/original",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_original(
    document_id: str, db: SessionDep, scope: ScopeDep, runtime: RuntimeDep
) -> FileResponse:
    """The file as it was uploaded (readers of its collection), always as a download: never
    rendered by the browser on Enclave's origin."""
    document, path = documents.original(
        db=db, scope=scope, originals=runtime.originals, document_id=document_id
    )
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=document.filename,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
