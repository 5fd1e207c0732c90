"""/v1/api-keys: collection admins create (shown once), list and revoke keys for their apps."""

from __future__ import annotations

from fastapi import APIRouter, status

from app import audit
from app.api.auth_protocol import ApiKeyCreated, ApiKeyIn, ApiKeyOut
from app.api.deps import AuditDep, AuthenticatorDep, PrincipalDep, SessionDep
from app.auth import api_keys
from app.db.models import ApiKey
from app.services import keys

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        collections=sorted(link.collection_id for link in key.collections),
        permissions=key.permissions.split(),
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(
    body: ApiKeyIn,
    db: SessionDep,
    principal: PrincipalDep,
    auth: AuthenticatorDep,
    context: AuditDep,
) -> ApiKeyCreated:
    """A key for the named collections; you must administer each of them. The secret is in
    this response only."""
    key, secret = keys.issue(
        db=db,
        principal=principal,
        pepper=auth.pepper,
        collection_refs=body.collections,
        name=body.name,
        permissions=body.permissions,
        expires_in_days=body.expires_in_days,
        context=context,
    )
    return ApiKeyCreated(**key_out(key).model_dump(), key=secret)


@router.get("", response_model=list[ApiKeyOut])
def list_keys(db: SessionDep, principal: PrincipalDep) -> list[ApiKeyOut]:
    """Keys on the collections you administer, and those you created; never their secrets."""
    return [key_out(k) for k in api_keys.manageable(db, principal=principal)]


@router.delete("/{key_id}", response_model=ApiKeyOut)
def revoke_key(
    key_id: str, db: SessionDep, principal: PrincipalDep, context: AuditDep
) -> ApiKeyOut:
    """Revoke a key: its next request is refused."""
    key = api_keys.revoke(db, principal=principal, key_id=key_id)
    for link in key.collections:
        audit.record(
            db,
            action="api_key.revoke",
            principal=principal,
            collection_id=link.collection_id,
            target=key.id,
            context=context,
        )
    return key_out(key)
