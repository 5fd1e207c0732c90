"""/v1/erasures (compliance officers), DELETE /v1/documents/{id} (uploader or collection
admin) and /v1/compliance lookups. Every erasure and deletion returns a signed receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from app import receipts
from app.api.deps import AuditDep, PrincipalDep, RuntimeDep, SessionDep, require_role
from app.api.protocol import (
    DocumentRecord,
    ErasureIn,
    ErasureOut,
    IdentifierMatch,
    IdentifierSearch,
    SignedReceipt,
)
from app.db.models import Erasure
from app.identity import COMPLIANCE_OFFICER, Principal
from app.services import compliance

router = APIRouter(prefix="/v1", tags=["erasure"])
Officer = Annotated[Principal, require_role(COMPLIANCE_OFFICER)]


@router.post("/erasures", response_model=SignedReceipt)
def request_erasure(
    body: ErasureIn, principal: PrincipalDep, runtime: RuntimeDep, context: AuditDep
) -> dict:
    """Erase a document everywhere (compliance officers). Returns when every trace is gone,
    with the signed receipt; asking again for an erased document returns the same receipt."""
    return runtime.eraser.erase(
        document_id=body.document_id, reason=body.reason, principal=principal, context=context
    )


@router.delete("/documents/{document_id}", response_model=SignedReceipt)
def delete_document(
    document_id: str,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    context: AuditDep,
) -> dict:
    """Delete a document you uploaded (contributors) or any in your collection (collection
    admins): removed as thoroughly as an erasure, with a receipt."""
    return runtime.eraser.erase(
        document_id=document_id,
        reason="deleted by a collection member",
        principal=principal,
        kind="deletion",
        context=context,
    )


@router.get("/erasures", response_model=list[ErasureOut])
def list_erasures(officer: Officer, db: SessionDep) -> list[Erasure]:
    return compliance.erasures(db)


@router.get("/erasures/public-key", response_class=PlainTextResponse)
def public_key(officer: Officer, runtime: RuntimeDep) -> str:
    """The PEM public key that verifies this deployment's receipts."""
    return receipts.public_pem(runtime.eraser.key)


@router.get("/erasures/{erasure_id}/receipt", response_model=SignedReceipt)
def get_receipt(erasure_id: str, officer: Officer, db: SessionDep) -> dict:
    return compliance.receipt(db, erasure_id=erasure_id)


@router.get("/compliance/documents", response_model=list[DocumentRecord])
def find_documents(
    officer: Officer,
    db: SessionDep,
    title: Annotated[str | None, Query(max_length=255)] = None,
    uploaded_by: Annotated[str | None, Query(max_length=255)] = None,
    collection: Annotated[str | None, Query(max_length=36)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list:
    """Documents in every collection by metadata (titles and ids, no content)."""
    found = compliance.find_documents(
        db,
        title=title,
        uploaded_by=uploaded_by,
        collection_id=collection,
        since=since,
        until=until,
    )
    labels = compliance.uploaders(db, found)
    return [
        DocumentRecord.model_validate(d).model_copy(
            update={"uploaded_by_label": labels.get(d.uploaded_by, "")}
        )
        for d in found
    ]


@router.post("/compliance/search", response_model=list[IdentifierMatch])
def find_identifier(
    body: IdentifierSearch, officer: Officer, db: SessionDep, runtime: RuntimeDep
) -> list:
    """Documents in any collection that mention a data subject's identifier (an e-mail, a
    patient or account number): ids, titles and counts only."""
    return compliance.find_identifier(
        db, store=runtime.store, bm25=runtime.bm25, identifier=body.identifier
    )
